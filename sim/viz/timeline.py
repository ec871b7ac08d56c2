"""Election timelines: one row per server against simulated time, drawn from a trace.

``plot_timeline(trace, "timeline.png")`` draws, for each server:

- its role as coloured bands (follower, pre-candidate, candidate, leader), the term written where it changes;
- crashes (a red cross, then a dark band while the server is down) and restarts (a green triangle);
- the votes it granted (a purple mark at the top of its row, with the candidate's id when there is room);
- its commit index as a step line inside its row (0 at the bottom of the row, the highest index in view at the
  top);

and across all rows the network faults: partitions, isolations and one-way cuts shaded from when they start
until they are healed or replaced (servers cut off from the largest group hatched), other injected faults
(drop, delay, duplicate, drift) as dotted lines, and a checker violation as a red line.

Long runs are summarised rather than smeared: a band narrower than a pixel is drawn one pixel wide, and when a
row has many such bands, each pixel column shows the most significant role the server had during it (leader
over candidate over pre-candidate over follower, and "down" over all); the commit line keeps one point per pixel
column, and votes are drawn only when few enough are in view to tell apart (their count is given in the legend
otherwise). ``start_ms``/``end_ms`` zoom in.

The input is a live ``sim.trace.Trace`` or the dicts of a JSON Lines trace (``sim.trace.read_jsonl``). The
function returns counts of what it drew, so tests can compare the picture with the trace.

``raftsim plot TRACE.jsonl -o timeline.png [--from MS] [--to MS] [--title T]`` is the command-line form.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import UsageError
from sim.trace import MESSAGE_KINDS, Trace, record_to_dict

ROLES = ("follower", "precandidate", "candidate", "leader")
DOWN = "down"
# Colour and drawing priority (a pixel column shows the highest-priority role seen in it).
COLORS = {
    "follower": "#dbe4ef",
    "precandidate": "#f7e08b",
    "candidate": "#f28e2b",
    "leader": "#2a9d8f",
    DOWN: "#3a3a3a",
}
PRIORITY = {"follower": 0, "precandidate": 1, "candidate": 2, "leader": 3, DOWN: 4}
NETWORK_ACTIONS = ("partition", "isolate", "cut", "repair", "heal")
OTHER_FAULT_ACTIONS = ("drop", "duplicate", "delay", "drift")
# The kinds a timeline needs; message traffic is skipped, which keeps reading a long trace fast.
KINDS = frozenset({"boot", "crash", "state", "vote", "commit", "fault", "violation"})
MAX_VOTES_DRAWN = 150
# Bands narrower than a pixel are drawn one pixel wide; beyond this many in a row, the row is merged per pixel.
MAX_THIN_BANDS = 20
MAX_VOTE_LABELS = 60
MAX_FAULT_LABELS = 40
PLOT_WIDTH_IN = 12.0
DPI = 130


# ----------------------------------------------------------------------------------------------- input


def _events(trace: Trace | Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The records a timeline needs, as dicts, in trace order."""
    if isinstance(trace, Trace):
        for record in trace.records:
            if record[1] in KINDS:
                yield record_to_dict(record)
    else:
        for d in trace:
            if d.get("ev") in KINDS:
                yield d


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    """Read the timeline's records of a JSON Lines trace, skipping message traffic without parsing it.

    Raises ``UsageError`` (one line) when the file is missing or is not a trace."""
    out: list[dict[str, Any]] = []
    skip = tuple(f'"ev":"{k}"' for k in (*MESSAGE_KINDS, "apply", "request", "ack"))
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip() or any(s in line for s in skip):
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UsageError(
                        f"{path}:{lineno}: expected a JSON trace record, got invalid JSON ({e.msg})"
                    ) from None
                if not isinstance(d, dict) or "t" not in d or "ev" not in d:
                    raise UsageError(f"{path}:{lineno}: expected a trace record with 't' and 'ev', got {line[:60]!r}")
                out.append(d)
    except OSError as e:
        raise UsageError(f"{path}: cannot read trace: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: expected a JSON Lines trace, got binary data") from None
    return out


# ------------------------------------------------------------------------------------- what happened


@dataclass
class _Band:
    start: int  # microseconds
    end: int
    role: str  # a role or DOWN
    term: int


@dataclass
class _Timeline:
    nodes: list[int]
    bands: dict[int, list[_Band]]
    commits: dict[int, list[tuple[int, int | None]]]  # (t, index) ; index None breaks the line (down)
    crashes: list[tuple[int, int]]  # (t, node)
    restarts: list[tuple[int, int]]
    votes: list[tuple[int, int, int, int]]  # (t, voter, candidate, term)
    network: list[tuple[int, int, str, list[int]]]  # (start, end, description, nodes cut off)
    other_faults: list[tuple[int, str]]
    violations: list[tuple[int, str]]
    first: int
    last: int


def _describe_groups(groups: list[list[int]], nodes: list[int]) -> tuple[str, list[int]]:
    named = {n for g in groups for n in g}
    parts = [sorted(g) for g in groups if g]
    rest = [n for n in nodes if n not in named]
    if rest:
        parts.append(rest)
    largest = max(parts, key=len) if parts else []
    cut_off = sorted(n for g in parts if g is not largest for n in g)
    text = " | ".join("{" + ",".join(map(str, g)) + "}" for g in parts)
    return text, cut_off


def _build(events: Iterable[dict[str, Any]]) -> _Timeline:
    nodes: set[int] = set()
    bands: dict[int, list[_Band]] = {}
    commits: dict[int, list[tuple[int, int | None]]] = {}
    crashes: list[tuple[int, int]] = []
    restarts: list[tuple[int, int]] = []
    votes: list[tuple[int, int, int, int]] = []
    other_faults: list[tuple[int, str]] = []
    violations: list[tuple[int, str]] = []
    network: list[tuple[int, int, str, list[int]]] = []
    open_net: tuple[int, str, list[int]] | None = None
    groups: list[list[int]] | None = None
    cuts: list[tuple[int, int]] = []
    booted: set[int] = set()
    first: int | None = None
    last = 0

    def current(n: int) -> _Band | None:
        b = bands.get(n)
        return b[-1] if b else None

    def switch(n: int, t: int, role: str, term: int) -> None:
        b = current(n)
        if b is not None:
            if b.role == role and b.term == term:
                return
            b.end = t
            if b.start == t:  # zero-length: replaced by what follows
                bands[n].pop()
        bands.setdefault(n, []).append(_Band(t, t, role, term))

    def network_changed(t: int) -> None:
        nonlocal open_net
        all_nodes = sorted(nodes)
        parts: list[str] = []
        cut_off: list[int] = []
        if groups is not None:
            text, cut_off = _describe_groups(groups, all_nodes)
            parts.append(f"partition {text}")
        if cuts:
            parts.append("cut " + ", ".join(f"{a}\u2192{b}" for a, b in cuts))
        state = (" ; ".join(parts), cut_off) if parts else None
        if open_net is not None:
            if state is not None and (state[0], state[1]) == (open_net[1], open_net[2]):
                return
            network.append((open_net[0], t, open_net[1], open_net[2]))
            open_net = None
        if state is not None:
            open_net = (t, state[0], state[1])

    for d in events:
        t = int(d["t"])
        if first is None:
            first = t
        last = max(last, t)
        kind = d["ev"]
        node = d.get("node")
        if kind == "boot":
            nodes.add(node)
            if node in booted:
                restarts.append((t, node))
            booted.add(node)
            switch(node, t, "follower", int(d.get("term", 0)))
            commits.setdefault(node, []).append((t, 0))
        elif kind == "crash":
            nodes.add(node)
            crashes.append((t, node))
            b = current(node)
            switch(node, t, DOWN, b.term if b else 0)
            commits.setdefault(node, []).append((t, None))
        elif kind == "state":
            nodes.add(node)
            switch(node, t, d["role"], int(d["term"]))
        elif kind == "vote":
            votes.append((t, node, d.get("candidate"), int(d.get("term", 0))))
        elif kind == "commit":
            commits.setdefault(node, []).append((t, int(d["index"])))
        elif kind == "violation":
            violations.append((t, str(d.get("property", "violation"))))
        elif kind == "fault":
            action = d.get("action")
            if action == "partition":
                groups = [list(g) for g in d.get("groups", [])]
                if not any(groups):
                    groups = None
                network_changed(t)
            elif action == "isolate":
                groups = [[n] for n in d.get("nodes", [])]
                network_changed(t)
            elif action == "cut":
                if (d["src"], d["dst"]) not in cuts:
                    cuts.append((d["src"], d["dst"]))
                network_changed(t)
            elif action == "repair":
                if (d["src"], d["dst"]) in cuts:
                    cuts.remove((d["src"], d["dst"]))
                network_changed(t)
            elif action == "heal":
                groups = None
                cuts = []
                network_changed(t)
            elif action in OTHER_FAULT_ACTIONS:
                value = d.get("value")
                if isinstance(value, dict):
                    value = ",".join(f"{k}={v}" for k, v in value.items())
                who = d.get("nodes") or ([f"{d['src']}\u2192{d['dst']}"] if d.get("src") is not None else [])
                label = f"{action} {value}" + (f" ({','.join(map(str, who))})" if who else "")
                other_faults.append((t, label))
    first = first or 0
    for bs in bands.values():
        if bs:
            bs[-1].end = max(bs[-1].end, last)
    if open_net is not None:
        network.append((open_net[0], last, open_net[1], open_net[2]))
    return _Timeline(
        nodes=sorted(n for n in nodes if isinstance(n, int)),
        bands=bands,
        commits=commits,
        crashes=crashes,
        restarts=restarts,
        votes=votes,
        network=network,
        other_faults=other_faults,
        violations=violations,
        first=first,
        last=last,
    )


# ---------------------------------------------------------------------------------------- summarising


def _clip_bands(bands: list[_Band], lo: int, hi: int) -> list[_Band]:
    out = []
    for b in bands:
        s, e = max(b.start, lo), min(b.end, hi)
        if e > s or (e == s and b.start == b.end and lo <= s <= hi):
            out.append(_Band(s, e, b.role, b.term))
    return out


def _pixel_bands(bands: list[_Band], lo: int, res: float, columns: int) -> list[_Band]:
    """Bands merged at pixel resolution: each column shows the highest-priority role it saw."""
    best: list[tuple[int, str, int] | None] = [None] * columns
    for b in bands:
        c0 = min(columns - 1, max(0, int((b.start - lo) / res)))
        c1 = min(columns - 1, max(c0, int((b.end - lo) / res - 1e-9)))
        p = PRIORITY[b.role]
        for c in range(c0, c1 + 1):
            cur = best[c]
            if cur is None or p > cur[0]:
                best[c] = (p, b.role, b.term)
    out: list[_Band] = []
    for c, cell in enumerate(best):
        if cell is None:
            continue
        _, role, term = cell
        s = int(lo + c * res)
        e = int(lo + (c + 1) * res)
        if out and out[-1].role == role and out[-1].end >= s - 1:
            out[-1].end = e
            out[-1].term = max(out[-1].term, term)
        else:
            out.append(_Band(s, e, role, term))
    return out


def _thin_steps(points: list[tuple[int, int | None]], lo: int, hi: int, res: float) -> list[tuple[int, float]]:
    """A step line's points within [lo, hi], at most a few per pixel column (the last value of each column wins,
    gaps (None: server down) are kept as NaN breaks)."""
    nan = float("nan")
    isnan = math.isnan
    out: list[tuple[int, float]] = []
    prev: float | None = None
    last_col = -1
    for t, v in points:
        value = nan if v is None else float(v)
        if t < lo:
            prev = value
            continue
        if t > hi:
            break
        if not out and prev is not None:
            out.append((lo, prev))
        col = int((t - lo) / res)
        if col == last_col and out and not isnan(value) and not isnan(out[-1][1]):
            out[-1] = (out[-1][0], value)  # same pixel column: keep the latest value only
        else:
            out.append((t, value))
        last_col = col
    if not out and prev is not None:
        out.append((lo, prev))
    if out:
        out.append((hi, out[-1][1]))
    return out


# ------------------------------------------------------------------------------------------- drawing


def _time_unit(span_us: float) -> tuple[float, str]:
    if span_us <= 5_000_000:
        return 1_000.0, "ms"
    if span_us <= 600_000_000:
        return 1_000_000.0, "s"
    return 60_000_000.0, "min"


def plot_timeline(
    trace: Trace | Sequence[dict[str, Any]],
    out: str | Path,
    *,
    start_ms: float | None = None,
    end_ms: float | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Draw the election timeline of ``trace`` to ``out`` (PNG or SVG by extension); return what was drawn.

    The returned dict counts the drawn items: ``nodes``, ``leader_bands``, ``role_bands``, ``crash_markers``,
    ``restart_markers``, ``partitions`` (shaded network-fault intervals), ``votes`` (drawn) and ``votes_in_view``,
    ``term_labels``, ``commit_points``, ``fault_lines``, ``violations``, ``summarised`` (bands merged to pixel
    resolution), ``artists`` (everything drawn), ``events_in_view`` (trace records in view), and the window
    ``start_ms``/``end_ms``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{out}: expected a .png or .svg file name")
    tl = _build(_events(trace))
    if not tl.nodes:
        raise ValueError("the trace has no server records (boot/state): nothing to plot")
    lo = int(start_ms * 1000) if start_ms is not None else tl.first
    hi = int(end_ms * 1000) if end_ms is not None else tl.last
    if hi <= lo:
        if start_ms is None and end_ms is None:
            hi = lo + 1_000  # a trace of a single instant
        else:
            raise ValueError(f"empty time window: from {lo / 1000:g} ms to {hi / 1000:g} ms")
    if end_ms is None:
        hi += max(1_000, (hi - lo) // 50)  # a margin, so the state at the last record stays visible
    # Each server stays in its last state until the end of the window.
    for bands in tl.bands.values():
        if bands and bands[-1].end >= tl.last:
            bands[-1].end = max(bands[-1].end, hi)
    span = hi - lo
    scale, unit = _time_unit(span)
    n = len(tl.nodes)
    row_of = {node: n - 1 - k for k, node in enumerate(tl.nodes)}  # node 1 at the top

    fig_h = 1.9 + 0.62 * n
    fig, ax = plt.subplots(figsize=(PLOT_WIDTH_IN, fig_h), dpi=DPI)
    fig.subplots_adjust(left=0.07, right=0.80, top=1 - 0.75 / fig_h, bottom=0.75 / fig_h)
    columns = max(200, int(PLOT_WIDTH_IN * DPI * 0.73))  # pixel columns of the plot area
    res = span / columns
    x = lambda t: (t - lo) / scale  # noqa: E731

    counts: dict[str, Any] = {
        "nodes": n,
        "leader_bands": 0,
        "role_bands": 0,
        "crash_markers": 0,
        "restart_markers": 0,
        "partitions": 0,
        "votes": 0,
        "votes_in_view": 0,
        "term_labels": 0,
        "commit_points": 0,
        "fault_lines": 0,
        "violations": 0,
        "summarised": False,
        "artists": 0,
        "events_in_view": 0,
        "start_ms": lo / 1000,
        "end_ms": hi / 1000,
    }
    artists = 0

    # Network faults: shaded across all rows; servers cut off from the largest group hatched.
    labels_drawn = 0
    net = [(s, e, text, cut) for s, e, text, cut in tl.network if e >= lo and s <= hi and (e > s or s >= lo)]
    for s, e, text, cut_off in net:
        s, e = max(s, lo), min(e, hi)
        e = max(e, s + res)
        ax.axvspan(x(s), x(e), color="#b39ddb", alpha=0.22, lw=0, zorder=0)
        for node in cut_off:
            if node in row_of:
                y = row_of[node]
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        (x(s), y + 0.15), x(e) - x(s), 0.7, fill=False, hatch="\\\\", ec="#7e57c2", lw=0, zorder=3
                    )
                )
                artists += 1
        if len(net) <= MAX_FAULT_LABELS:
            ax.text(x(s), n + 0.08, text, fontsize=7, color="#4a148c", va="bottom", ha="left", clip_on=False)
            labels_drawn += 1
        artists += 1
    counts["partitions"] = len(net)

    # Role bands.
    any_summarised = False
    for node in tl.nodes:
        y = row_of[node]
        bands = _clip_bands(tl.bands.get(node, []), lo, hi)
        if sum(1 for b in bands if b.end - b.start < res) > MAX_THIN_BANDS:
            bands = _pixel_bands(bands, lo, res, columns)
            any_summarised = True
        by_role: dict[str, list[tuple[float, float]]] = {}
        for b in bands:
            by_role.setdefault(b.role, []).append((x(b.start), max(x(b.end) - x(b.start), span / columns / scale)))
        for role, segs in by_role.items():
            kw: dict[str, Any] = {"facecolors": COLORS[role], "edgecolor": "none", "zorder": 1}
            if role == DOWN:
                kw.update(hatch="////", edgecolor="#777777", linewidth=0)
            ax.broken_barh(segs, (y + 0.15, 0.7), **kw)
            artists += 1
        counts["role_bands"] += len(bands)
        counts["leader_bands"] += sum(1 for b in bands if b.role == "leader")
        # The term, once per run of bands of one term (on its leader band if it has one), where there is room
        # (about 28 pixels before the next term starts).
        k = 0
        while k < len(bands):
            j = k
            while j + 1 < len(bands) and bands[j + 1].term == bands[k].term:
                j += 1
            run = [b for b in bands[k : j + 1] if b.role != DOWN]
            if run:
                b = next((c for c in run if c.role == "leader"), run[0])
                nxt = bands[j + 1].start if j + 1 < len(bands) else hi
                if (nxt - b.start) / res >= 28:
                    ax.text(
                        x(b.start) + 3 * res / scale,
                        y + 0.5,
                        f"T{b.term}",
                        fontsize=7,
                        va="center",
                        ha="left",
                        color="white" if b.role == "leader" else "#333333",
                        fontweight="bold" if b.role == "leader" else "normal",
                        zorder=6,
                        clip_on=True,
                    )
                    counts["term_labels"] += 1
                    artists += 1
            k = j + 1

    # Commit index: a step line inside each row, on a scale shared by all rows and fitted to the window (a
    # restarted server's commit index starts again from 0, drawn as a drop).
    lines = {node: _thin_steps(tl.commits.get(node, []), lo, hi, res) for node in tl.nodes}
    values = [v for pts in lines.values() for _, v in pts if not math.isnan(v)]
    min_commit = int(min(values, default=0))
    max_commit = int(max(values, default=0))
    if min_commit > 0 and any(v == 0 for v in values):
        min_commit = 0
    commit_span = max(1, max_commit - min_commit)
    for node, pts in lines.items():
        if not pts:
            continue
        y = row_of[node]
        xs = [x(t) for t, _ in pts]
        ys = [y + 0.2 + 0.6 * (v - min_commit) / commit_span for _, v in pts]
        ax.step(xs, ys, where="post", color="#1d3557", lw=1.1, zorder=4)
        counts["commit_points"] += len(pts)
        artists += 1

    # Crashes and restarts.
    for t, node in tl.crashes:
        if lo <= t <= hi and node in row_of:
            ax.plot(x(t), row_of[node] + 0.5, marker="X", ms=9, color="#d62828", mec="white", mew=0.8, zorder=7)
            counts["crash_markers"] += 1
            artists += 1
    for t, node in tl.restarts:
        if lo <= t <= hi and node in row_of:
            ax.plot(x(t), row_of[node] + 0.5, marker="^", ms=8, color="#2b9348", mec="white", mew=0.8, zorder=7)
            counts["restart_markers"] += 1
            artists += 1

    # Votes granted: drawn when they can be told apart.
    in_view = [v for v in tl.votes if lo <= v[0] <= hi and v[1] in row_of]
    counts["votes_in_view"] = len(in_view)
    if in_view and len(in_view) <= MAX_VOTES_DRAWN:
        vx = [x(t) for t, _, _, _ in in_view]
        vy = [row_of[voter] + 0.87 for _, voter, _, _ in in_view]
        ax.scatter(vx, vy, marker="v", s=22, color="#6a4c93", zorder=8, linewidths=0)
        artists += 1
        if len(in_view) <= MAX_VOTE_LABELS:
            for t, voter, cand, _ in in_view:
                ax.text(x(t), row_of[voter] + 0.93, f"\u2192{cand}", fontsize=6, color="#6a4c93", ha="left", zorder=8)
                artists += 1
        counts["votes"] = len(in_view)

    # Other injected faults and violations: vertical lines across all rows.
    others = [(t, text) for t, text in tl.other_faults if lo <= t <= hi]
    for t, text in others:
        ax.axvline(x(t), color="#555555", ls=":", lw=1, zorder=5)
        if len(others) + labels_drawn <= MAX_FAULT_LABELS:
            ax.text(x(t), n + 0.25, text, fontsize=7, color="#333333", va="bottom", ha="left", clip_on=False)
        artists += 1
    counts["fault_lines"] = len(others)
    for t, prop in tl.violations:
        if lo <= t <= hi:
            ax.axvline(x(t), color="#d62828", lw=2, zorder=9)
            ax.text(x(t), n + 0.08, f"violation: {prop}", fontsize=8, color="#d62828", va="bottom", ha="right")
            counts["violations"] += 1
            artists += 2

    # Axes, legend, title.
    ax.set_xlim(0, span / scale)
    ax.set_ylim(-0.05, n + 0.45)
    ax.set_yticks([row_of[node] + 0.5 for node in tl.nodes], [f"server {node}" for node in tl.nodes])
    ax.tick_params(axis="y", length=0)
    offset = f" (from {lo / scale:g} {unit})" if lo else ""
    ax.set_xlabel(f"simulated time ({unit}){offset}")
    ax.grid(True, axis="x", alpha=0.25, zorder=0)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    if lo:
        ticks = ax.get_xticks()
        ax.set_xticks(ticks, [f"{(t * scale + lo) / scale:g}" for t in ticks])
        ax.set_xlim(0, span / scale)
        ax.set_xlabel(f"simulated time ({unit})")
    handles: list[Any] = [Patch(facecolor=COLORS[r], label=r) for r in ROLES]
    handles.append(Patch(facecolor=COLORS[DOWN], hatch="////", edgecolor="#777777", label="crashed (down)"))
    handles.append(Line2D([], [], marker="X", ls="", color="#d62828", ms=8, label="crash"))
    handles.append(Line2D([], [], marker="^", ls="", color="#2b9348", ms=7, label="restart"))
    if counts["votes"]:
        handles.append(Line2D([], [], marker="v", ls="", color="#6a4c93", ms=6, label="vote granted (\u2192candidate)"))
    elif in_view:
        handles.append(Patch(color="none", label=f"{len(in_view)} votes granted\n(zoom in to see them)"))
    handles.append(
        Line2D([], [], color="#1d3557", lw=1.2, label=f"commit index\n({min_commit} to {max_commit} within a row)")
    )
    handles.append(Patch(facecolor="#b39ddb", alpha=0.4, label="partition / cut"))
    handles.append(Patch(facecolor="white", hatch="\\\\", edgecolor="#7e57c2", label="cut off from the\nlargest group"))
    if any_summarised:
        handles.append(Patch(color="none", label="(bands merged to\npixel resolution)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if title is None:
        title = f"raftsim election timeline: {n} servers, {span / scale:.4g} {unit}"
    ax.set_title(title, fontsize=11, pad=14)

    counts["summarised"] = any_summarised
    counts["artists"] = artists
    counts["events_in_view"] = sum(
        1 for d in _events(trace) if lo <= int(d["t"]) <= hi and d["ev"] in ("state", "commit", "vote", "crash")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lower().lstrip("."))
    plt.close(fig)
    return counts
