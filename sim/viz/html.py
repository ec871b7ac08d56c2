"""The interactive timeline: one self-contained HTML file from a trace.

``write_html("trace.jsonl", "out.html")`` writes a page in the style of a Lamport diagram, one row per server
against simulated time (roles as bands with their terms, crashes and restarts, partitions and one-way cuts on the
rows they affect), every message an arrow from send to delivery (dropped ones crossed out, the network's
duplicates dashed), and below it the client history as Porcupine draws one: a bar per operation from invocation
to completion, ok, fail or unknown. A reader zooms and pans, steps from event to event, clicks a server at any
moment for its state then (term, role, vote, log with terms, commit index, applied), a message for its fields,
an operation for its outcome; filters by message kind and server; and reaches a violation in one click, for a
linearizability violation with the longest linearizable prefix and the operations that cannot come next.

The page carries everything inside it: the trace's tables (``sim.viz.page_data``) as JSON, the scripts and the
styles from ``sim/viz/assets/`` (package data, read here and inlined), and asks nothing of any server, so it
works opened from disk, offline. The scripts keep the model (``model.js``: the state at an event, from the
tables) apart from the drawing (``draw.js``: a pure function of the model and a view, on one canvas, looking
only at what is in the window) and the page's controls (``ui.js``); there is no page element per event.

The same trace gives the same file, byte for byte.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from sim.viz.page_data import build
from sim.viz.timeline import read_lines

ASSETS = ("model.js", "draw.js", "ui.js", "page.css", "page.html")


def asset(name: str) -> str:
    """The text of one of the page's assets, as installed with the package."""
    return resources.files("sim.viz").joinpath("assets", name).read_text(encoding="utf-8")


def _json_for_script(value: Any) -> str:
    """JSON that can sit inside a <script> element: every ``<`` escaped (``\\u003c``, the same string to a JSON
    reader), so no ``</script>`` or ``<!--`` in a value can end or bend the element."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def render(tables: dict[str, Any], title: str | None = None) -> str:
    """The page for ``tables`` (from ``sim.viz.page_data.build``) as one HTML document."""
    title = title or tables["title"]
    parts = {
        "TITLE": html.escape(title),
        "CSS": asset("page.css"),
        "DATA": _json_for_script({**tables, "title": title}),
        "SCRIPT": "\n".join(asset(name) for name in ("model.js", "draw.js", "ui.js")),
    }
    # One pass over the template: nothing substituted is looked at again.
    return re.sub(r"@(TITLE|CSS|DATA|SCRIPT)@", lambda m: parts[m.group(1)], asset("page.html"))


def write_html(
    trace: str | Path, out: str | Path, *, title: str | None = None, run_end_us: int | None = None
) -> dict[str, Any]:
    """Write the page of the JSON Lines trace ``trace`` to ``out``; return what it shows, for a summary line:
    ``events``, ``servers``, ``clients``, ``arrows`` (message copies: every send and duplicate), ``dropped``,
    ``leader_bands``, ``operations``, ``history`` (the linearizability verdict: ok, violation, unknown, none),
    ``bytes``. Raises ``UsageError`` (one line) for a trace it cannot read."""
    tables = build(read_lines(trace), str(trace), run_end_us=run_end_us)
    page = render(tables, title)
    Path(out).write_text(page, encoding="utf-8")
    return summarize(tables) | {"bytes": len(page.encode("utf-8"))}


def summarize(tables: dict[str, Any]) -> dict[str, Any]:
    """Counts of what a page of ``tables`` shows."""
    leader = tables["roles"].index("leader")
    outcomes = tables["copies"]["outcome"]
    delivered = tables["outcomes"].index("delivered")
    in_flight = tables["outcomes"].index("in flight")
    return {
        "events": len(tables["events"]["kind"]),
        "servers": len(tables["servers"]),
        "clients": len(tables["clients"]),
        "arrows": len(outcomes),
        "dropped": sum(1 for o in outcomes if o not in (delivered, in_flight)),
        "leader_bands": sum(1 for bands in tables["timeline"]["bands"] for b in bands if b[2] == leader),
        "operations": len(tables["ops"]["seq"]),
        "history": tables["lin"]["verdict"],
    }


def summary_line(out: str | Path, shown: dict[str, Any]) -> str:
    """One line saying what was written."""
    history = {"ok": "linearizable", "violation": "NOT linearizable", "unknown": "unknown (budget spent)"}.get(
        shown["history"], shown["history"]
    )
    return (
        f"wrote {out}: {shown['servers']} servers, {shown['events']:,} events, {shown['arrows']:,} message arrows "
        f"({shown['dropped']:,} dropped), {shown['leader_bands']} leader bands, {shown['operations']:,} client "
        f"operations (history {history}), {shown['bytes'] / 1e6:.1f} MB"
    )
