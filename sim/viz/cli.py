"""``raftsim plot``: a timeline PNG from a trace file; ``raftsim view``: the interactive HTML timeline."""

from __future__ import annotations

import argparse
from typing import Any

from sim.errors import UsageError
from sim.outputs import output_file
from sim.viz.timeline import plot_timeline, read_trace


def main(args: argparse.Namespace) -> int:
    out = output_file("-o", args.output, (".png", ".svg"))
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise UsageError(f"--to: expected a time after --from ({args.start:g} ms), got {args.end:g} ms")
    records = read_trace(args.trace)
    try:
        drawn = plot_timeline(records, out, start_ms=args.start, end_ms=args.end, title=args.title)
    except ValueError as e:
        raise UsageError(f"{args.trace}: {e}") from None
    print(
        f"wrote {out}: {drawn['nodes']} servers, {drawn['start_ms']:g}-{drawn['end_ms']:g} ms, "
        f"{drawn['leader_bands']} leader bands, {drawn['crash_markers']} crashes, "
        f"{drawn['partitions']} partitions, {drawn['cuts']} one-way cuts, {drawn['votes_in_view']} votes"
    )
    return 0


def view(args: argparse.Namespace) -> int:
    from sim.viz.html import summary_line, write_html

    out = output_file("-o", args.output, (".html",))
    shown = write_html(args.trace, out, title=args.title)
    print(summary_line(out, shown))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plot",
        help="draw the election timeline of a trace (PNG or SVG)",
        description="Draw one row per server against simulated time from a JSON Lines trace.",
    )
    p.add_argument("trace", metavar="TRACE.jsonl", help="a trace written by raftsim run/replay --trace")
    p.add_argument("-o", "--output", default="timeline.png", help="output file, .png or .svg (default timeline.png)")
    p.add_argument("--from", dest="start", type=float, default=None, metavar="MS", help="start of the window (ms)")
    p.add_argument("--to", dest="end", type=float, default=None, metavar="MS", help="end of the window (ms)")
    p.add_argument("--title", default=None, help="title of the plot")
    p.set_defaults(func=main)

    v = subparsers.add_parser(
        "view",
        help="write the interactive timeline of a trace (one HTML file, works offline)",
        description=(
            "Write one self-contained HTML file showing a JSON Lines trace: servers against simulated time, every "
            "message an arrow, the client history, the state of any server at any event. Open it in a browser."
        ),
    )
    v.add_argument("trace", metavar="TRACE.jsonl", help="a trace written by raftsim run/replay --trace")
    v.add_argument("-o", "--output", default="timeline.html", help="output file, .html (default timeline.html)")
    v.add_argument("--title", default=None, help="title of the page (default: the trace's scenario and seed)")
    v.set_defaults(func=view)
