"""``raftsim experiment figure16`` and ``raftsim bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

from sim.errors import UsageError
from sim.experiments.bench import measure, measure_memory
from sim.experiments.figure16 import (
    DEFAULT_CAP_MS,
    DEFAULT_TESTBED,
    LINES,
    TESTBEDS,
    file_stem,
    format_table,
    plot_figure,
    run_experiment,
    summarize,
    trials_for,
    write_summary_csv,
    write_trials_csv,
)
from sim.nodes import flags as node_flags
from sim.nodes.contract import EARLY_VOTE_REQUESTS, STATE
from sim.outputs import output_dir
from sim.rng import check_seed
from sim.units import non_negative_int, positive_int

# Where a run writes unless told otherwise: a scratch folder of its own (ignored by git), never the committed
# results in plots/, which only an explicit ``--out plots/`` rewrites.
DEFAULT_OUT = "figure16-results"


def _parse_line(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError:
        raise UsageError(f"--lines: expected MIN-MAX in ms such as 150-155, got {text!r}") from None
    if not 0 < lo <= hi:
        raise UsageError(f"--lines: expected 0 < MIN <= MAX, got {text!r}")
    return lo, hi


def main(args: argparse.Namespace) -> int:
    if args.experiment != "figure16":
        raise UsageError(f"unknown experiment {args.experiment!r}: expected figure16")
    if args.trials < 1:
        raise UsageError(f"--trials: expected a positive number, got {args.trials}")
    seed = check_seed("--seed", args.seed)
    if args.cap <= 0:
        raise UsageError(f"--cap: expected a positive number of ms, got {args.cap}")
    lines = tuple(_parse_line(x) for x in args.lines.split(",")) if args.lines else LINES
    workers = args.workers or os.cpu_count() or 1
    if workers < 1:
        raise UsageError(f"--workers: expected a positive number, got {workers}")
    spec, command = node_flags.chosen(args)
    if spec or command:
        impl = node_flags.load(spec, command, "--node-cmd" if command else "--node")
        if STATE not in impl.capabilities:
            raise UsageError(f"--node: {impl.name} reports no state (a black box): figure16 needs its leader reports")
        if args.broadcast == "disk-early" and EARLY_VOTE_REQUESTS not in impl.capabilities:
            raise UsageError(f"--broadcast: disk-early needs the capability early_vote_requests; {impl.name} lacks it")
    out = output_dir("--out", args.out)

    total = sum(trials_for(line, args.trials) for line in lines)
    print(f"figure16: {total} trials over {len(lines)} lines on {workers} worker(s)...", file=sys.stderr)
    started = time.perf_counter()  # wall clock only to report how long the experiment took
    results = run_experiment(
        lines, args.trials, workers, seed, args.cap, broadcast=args.broadcast, node=spec, node_cmd=command
    )
    elapsed = time.perf_counter() - started
    summaries = summarize(results)
    print(format_table(summaries, args.cap))
    stem = file_stem(args.broadcast)
    written = [out / f"{stem}_trials.csv", out / f"{stem}_summary.csv"]
    write_trials_csv(results, written[0])
    write_summary_csv(summaries, written[1])
    if not args.no_plot:
        written.append(out / f"{stem}.png")
        plot_figure(results, written[2], args.cap, args.broadcast)
    events = sum(r.events for r in results)
    print(
        f"{total} trials, {events} simulated events, {elapsed:.1f} s wall time on {workers} worker(s); "
        f"wrote {', '.join(map(str, written))}"
    )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "experiment",
        help="reproduce a published experiment (figure16: the Raft paper's leader election times)",
        description="Reproduce Figure 16 of the Raft paper (Section 9.3): time without a leader after a crash.",
    )
    p.add_argument("experiment", metavar="NAME", help="the experiment: figure16")
    p.add_argument("--trials", type=int, default=1000, help="trials per line (150-150 runs a tenth); default 1000")
    p.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"folder for figure16.png and the CSVs, created if missing (default {DEFAULT_OUT}/ in the current "
        "folder; the committed results are rewritten only with --out plots/)",
    )
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: one per CPU)")
    p.add_argument("--seed", default="0", help="base seed of all trials (default 0; 0 to 2**63-1)")
    p.add_argument("--cap", type=float, default=DEFAULT_CAP_MS, help="stop a trial this many ms after the crash")
    p.add_argument("--lines", default="", help="comma-separated MIN-MAX lines to run instead of all (e.g. 150-155)")
    p.add_argument(
        "--broadcast",
        choices=tuple(TESTBEDS),
        default=DEFAULT_TESTBED,
        help=f"the model of the paper's testbed (default {DEFAULT_TESTBED}): logcabin (LogCabin as measured: a LAN, "
        "1.7 ms fsyncs as its log made them, whole-ms timeouts), network (4-9 ms one way, writes instant), or a "
        "step between them or an alternative (plots/README.md); a variant other than the default writes "
        "figure16_<variant>*",
    )
    p.add_argument("--no-plot", action="store_true", help="write the CSVs only")
    node_flags.add_flags(p)
    p.set_defaults(func=main)
    register_bench(subparsers)


def _print_human(r: dict[str, Any]) -> None:
    d = r["detail"]
    print(f"bare SimPy                 {r['bare_events_per_s']:>12,} events/s")
    print(
        f"5-node cluster, load       {r['sim_events_per_s']:>12,} events/s   "
        f"({d['events']:,} events, {d['simulated_s']:g} s simulated, {d['entries_committed']:,} entries committed)"
    )
    print(f"Raft messages delivered    {r['messages_per_s']:>12,} /s")
    lo, hi = d["ratio_range"]
    print(
        f"ratio (messages/bare)      {r['ratio']:>12.3f}        target >= 0.10 (stretch 0.25); "
        f"range {lo:.3f}-{hi:.3f} over {d['repeat']} rounds of {d['slices']} interleaved slices"
    )
    lo, hi = d["checker_overhead_range"]
    print(
        f"checker overhead           {r['checker_overhead']:>12.3f}x       target <= 1.25x "
        f"({d['run_cpu_s']:.2f} s vs {d['run_cpu_s_no_checker']:.2f} s; range {lo:.3f}-{hi:.3f})"
    )
    if d["snapshot_every"]:
        print(
            f"snapshots                  every {d['snapshot_every']} entries applied: {d['snapshots_taken']:,} taken, "
            f"{d['snapshots_installed']:,} installed from a leader in the {d['simulated_s']:g} s run"
        )
    print(
        f"10x duration / 1x          {r['scaling_10x']:>12.2f}x       target <= 11x "
        f"({d['run_cpu_s_10x']:.2f} s for {d['entries_committed_10x']:,} entries; "
        f"its last tenth took {d['last_tenth_over_first_10x']:.2f}x its first)"
    )


def _print_memory(rows: list[dict[str, Any]], rate: float, snapshot_every: int) -> None:
    minutes = len(rows)
    snapshots = f", a snapshot every {snapshot_every} entries applied" if snapshot_every else ""
    print(
        f"memory: 5-node cluster, 20 clients offering {rate:g} commands/s for {minutes / 2:g} of {minutes} simulated "
        f"minutes, trace streamed (to /dev/null), checker on{snapshots}"
    )
    print(
        "minute  log entries  heap MB  heap peak MB  peak RSS MB  heap growth MB  bytes/new entry  trace records"
        + ("  entries held  history MB  heap less history MB" if snapshot_every else "")
    )
    for r in rows:
        per_entry = f"{r['bytes_per_entry']:.0f}" if r["bytes_per_entry"] else "-"
        line = (
            f"{r['minute']:>6}  {r['entries']:>11,}  {r['heap_mb']:>7.1f}  {r['heap_peak_mb']:>12.1f}  "
            f"{r['rss_peak_mb']:>11.1f}  {r['growth_mb']:>+14.2f}  {per_entry:>15}  {r['trace_records']:>13,}"
        )
        if snapshot_every:
            line += f"  {r['held']:>12,}  {r['history_mb']:>10.1f}  {r['heap_mb'] - r['history_mb']:>20.1f}"
        print(line)


def bench_command(args: argparse.Namespace) -> int:
    """Each flag picks a part of the benchmark; with none, the simulator's speed."""
    parts = [name for name in ("speed", "lin", "bugs", "memory", "html", "nodes") if getattr(args, name)]
    spec, command = node_flags.chosen(args)
    if spec or command:
        parts.append("nodes")  # --node or --node-cmd: that implementation's campaign beside the examples'
    parts = list(dict.fromkeys(parts)) or ["speed"]
    result: dict[str, Any] = {}
    if "nodes" in parts:
        from sim.experiments.node_bench import measure_nodes

        extra = ((spec or command or "", spec, command),) if spec or command else ()
        result["nodes"] = measure_nodes(seeds=args.node_seeds, extra=extra)
    if "html" in parts:
        from sim.experiments.html_bench import find_browser, measure_html

        durations = _durations(args.html_durations)
        result["html"] = measure_html(durations, find_browser())
    if "memory" in parts:
        result["memory"] = measure_memory(minutes=args.minutes, rate=args.rate, snapshot_every=args.snapshot_every)
    if "speed" in parts:
        result.update(measure(repeat=args.repeat, snapshot_every=args.snapshot_every))
    if "lin" in parts:
        from sim.experiments.lin_bench import measure as measure_lin

        result["lin"] = measure_lin()
    if "bugs" in parts:
        from sim.fuzz.hunts import bench_bugs, campaign_throughput

        result["campaign"] = campaign_throughput()
        with tempfile.TemporaryDirectory(prefix="raftsim-bugs-") as shrunk:
            # Each shrunk failure is written as a scenario file and run again, as raftsim run would.
            result["bugs"] = bench_bugs(budget=args.bug_budget, out_dir=shrunk)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    if "memory" in parts:
        _print_memory(result["memory"], args.rate, args.snapshot_every)
    if "speed" in parts:
        _print_human(result)
    if "lin" in parts:
        lin = result["lin"]
        print(
            f"linearizability: 10,000-operation kv history (10 keys, 10 clients) {lin['kv_10000_ops_s']:.3f} s "
            f"(target < 1 s; {lin['us_per_op_kv']:.1f} us per operation); 1,000-operation register history "
            f"(10 clients, 10% indefinite) {lin['register_1000_ops_s']:.3f} s (target < 2 s)"
        )
    if "html" in parts:
        from sim.experiments.html_bench import format_rows

        print(format_rows(result["html"]))
    if "nodes" in parts:
        from sim.experiments.node_bench import format_nodes

        print(format_nodes(result["nodes"]))
    if "bugs" in parts:
        c = result["campaign"]
        print(
            f"default campaign, correct protocol: {c['seeds']} seeds on {c['workers']} worker: {c['seeds_per_s']} "
            f"seeds/s, {c['fault_s_per_s']} simulated fault-seconds/s ({c['simulated_s_per_s']} simulated s/s, "
            f"{c['fault_share']:.0%} of it with faults), {c['failures']} failures"
        )
        for row in result["bugs"]:
            print(
                f"bug {row['bug']:<24} default campaign: {row['default_seeds_to_failure']!s:>5} seeds "
                f"({row['default_property']}); hunt: {row['seeds_to_failure']!s:>5} seeds ({row['property']}), "
                f"shrunk to {row['shrunk_events']} events, {row['shrunk_duration_ms']} ms, "
                f"{row['shrunk_nodes']} nodes; its scenario file fails with {row.get('scenario_property')}"
            )
    return 0


def register_bench(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="measure simulator speed (ratios measured in one run)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeat", type=positive_int, default=5, help="rounds of interleaved measurements (default 5)")
    p.add_argument("--speed", action="store_true", help="the simulator's speed (the default part)")
    p.add_argument("--lin", action="store_true", help="the linearizability checker on generated histories")
    p.add_argument(
        "--bugs",
        action="store_true",
        help="the default campaign's speed, and each known bug: seeds to first failure (default campaign and hunt)",
    )
    p.add_argument(
        "--bug-budget", type=positive_int, default=2000, help="seed budget per bug with --bugs (default 2000)"
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help="memory: heap and peak RSS after each simulated minute of a loaded run",
    )
    p.add_argument("--minutes", type=positive_int, default=6, help="simulated minutes with --memory (default 6)")
    p.add_argument(
        "--snapshot-every",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="servers snapshot every N entries applied, with --speed and --memory (default 0: no snapshots)",
    )
    p.add_argument(
        "--rate", type=positive_int, default=200, help="commands/s offered with --memory, first half (default 200)"
    )
    p.add_argument(
        "--html",
        action="store_true",
        help="the HTML timeline: page size, load and frame times in headless Chromium for runs of each duration",
    )
    p.add_argument(
        "--html-durations",
        default="60,600",
        metavar="LIST",
        help="simulated seconds of the runs --html opens, comma-separated (default 60,600)",
    )
    p.add_argument(
        "--nodes",
        action="store_true",
        help="the default campaign's speed with each node implementation (built-in, examples/figure2.py, "
        "examples/raft.js through the process adapter, and --node/--node-cmd if given), and the adapter's cost",
    )
    p.add_argument(
        "--node-seeds", type=positive_int, default=30, help="seeds per implementation with --nodes (default 30)"
    )
    node_flags.add_flags(p)
    p.set_defaults(func=bench_command)


def _durations(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or any(not 1 <= v <= 86_400 for v in values):
        raise UsageError(f"--html-durations: expected whole seconds from 1 to 86400, comma-separated, got {text!r}")
    return values
