"""``raftsim bench --html``: how large a trace the HTML timeline stays responsive for.

For each duration, the default scenario (``leader-crash.toml``: five servers, three clients offering 50
commands/s, a leader crash, a partition) is run that long with its trace streamed to a file, the page is written
from it (``sim.viz.html``), and headless Chromium opens it with ``#bench`` in its address: the page then times
itself (``runBench`` in ``assets/ui.js``) and the result is read from the DOM Chromium dumps. Measured in the
page: parsing its data and building the model, the time until the first frame is drawn (from the start of
navigation: reading the file included), frame times while panning across windows of the whole run, 10 s, 1 s
and 100 ms at the middle of the run (each frame forced to finish rasterizing by reading a pixel back, so the
time is the frame's, not only the script's), stepping (one event, with the panel redrawn), and a click on a
server at the end of the run (its log rebuilt). Measured here: the CPU time to write the page, and its size.

Wall-clock figures on a shared machine are noisy: they are medians and maxima of many frames, reported as such,
never asserted by a test.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sim.errors import UsageError
from sim.scenario.library import default_scenario
from sim.scenario.parse import load
from sim.scenario.run import run_scenario
from sim.viz.html import write_html

DURATIONS_S = (60, 600)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise UsageError(
        "--html: expected Chromium on the PATH to open the pages in (apt-get install chromium), found none of "
        + ", ".join(BROWSERS)
    )


def measure_html(durations_s: tuple[int, ...] = DURATIONS_S, browser: str | None = None) -> list[dict[str, Any]]:
    """One row per duration (simulated seconds): the trace's size, the page's, the time to write it, and what the
    page measured."""
    browser = browser or find_browser()
    base = load(str(default_scenario()))
    rows = []
    for seconds in durations_s:
        scenario = replace(base, duration=seconds * 1_000_000, expectations=())
        with tempfile.TemporaryDirectory(prefix="raftsim-html-bench-") as tmp:
            trace = Path(tmp) / "trace.jsonl"
            page = Path(tmp) / "page.html"
            with open(trace, "w", encoding="utf-8") as out:
                run_scenario(scenario, trace=False, trace_out=out)
            started = time.process_time()  # CPU time: the machine is shared, wall time would be noise
            shown = write_html(trace, page)
            build_s = time.process_time() - started
            in_page = _open_in_browser(browser, page)
            rows.append(
                {
                    "duration_s": seconds,
                    "trace_mb": trace.stat().st_size / 1e6,
                    "page_mb": shown["bytes"] / 1e6,
                    "write_s": build_s,
                    **{k: shown[k] for k in ("events", "arrows", "operations", "servers", "clients")},
                    **in_page,
                }
            )
    return rows


def _open_in_browser(browser: str, page: Path) -> dict[str, Any]:
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--force-device-scale-factor=1",
        "--dump-dom",
        page.resolve().as_uri() + "#bench",
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        raise UsageError(f"--html: {browser} did not finish opening {page.name} within 600 s") from None
    found = re.search(r'<pre id="bench-result">(.*?)</pre>', done.stdout, re.S)
    if not found:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"--html: {browser} gave no measurement for the page (exit {done.returncode}: {tail})")
    return json.loads(html.unescape(found.group(1)))


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The measurements as text, a paragraph per duration."""
    lines = [
        "html timeline of the default scenario (leader-crash.toml: 5 servers, 3 clients at 50 commands/s) run for "
        "each duration, opened in headless Chromium; frame times with rasterization forced, as median/p90/max:"
    ]
    for r in rows:
        lines.append(
            f"  {r['duration_s']} s: {r['events']:,} events, {r['arrows']:,} messages, {r['operations']:,} operations; "
            f"trace {r['trace_mb']:.1f} MB, page {r['page_mb']:.1f} MB written in {r['write_s']:.1f} s of CPU; "
            f"first frame {r['ready_ms']:.0f} ms after opening (data parsed in {r['parse_ms']:.0f} ms, model "
            f"{r['model_ms']:.0f} ms)"
        )
        pans = []
        for p in r["pans"]:
            what = "density" if p["dense"] else f"{p['arrows']:,} arrows"
            pans.append(
                f"{_span(p['span_us'])} window {p['median_ms']:.1f}/{p['p90_ms']:.1f}/{p['max_ms']:.1f} ms ({what})"
            )
        lines.append("        pan: " + ", ".join(pans))
        lines.append(
            f"        step: {r['step_median_ms']:.1f} ms (max {r['step_max_ms']:.1f}); a click on a server at the "
            f"end of the run: {r['click_server_at_end_ms']:.1f} ms"
        )
    return "\n".join(lines)


def _span(us: float) -> str:
    return f"{us / 1e6:g} s" if us >= 1e6 else f"{us / 1e3:g} ms"
