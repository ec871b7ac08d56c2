"""``raftsim fuzz`` and ``raftsim replay``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any

from sim.fuzz.campaign import Campaign, Options, case_for_seed, run_campaign
from sim.fuzz.case import LIVELOCK, MS, Case, Outcome, run_case
from sim.fuzz.draw import FAMILIES
from sim.fuzz.export import replay_command, write_failure
from sim.fuzz.shrink import shrink
from sim.nodes.bugs import BUGS
from sim.units import parse_wall_time


def _options(args: argparse.Namespace) -> Options:
    from sim.errors import UsageError

    if not 1 <= args.nodes <= 15:
        raise UsageError(f"--nodes: expected an integer from 1 to 15, got {args.nodes}")
    if args.bug is not None and args.bug not in BUGS:
        raise UsageError(f"--bug: expected one of {', '.join(BUGS)}, got {args.bug!r}")
    families = None
    if getattr(args, "families", None):
        families = tuple(f.strip() for f in args.families.split(",") if f.strip())
        unknown = [f for f in families if f not in FAMILIES]
        if unknown or not families:
            raise UsageError(
                f"--families: expected a comma-separated list of {', '.join(FAMILIES)}, got {args.families!r}"
            )
    return Options(nodes=args.nodes, bug=args.bug, families=families, fifo=args.fifo)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, default=5, help="servers in the cluster (default 5)")
    p.add_argument("--bug", metavar="NAME", help="switch on a known bug (see --list-bugs)")
    p.add_argument(
        "--families",
        metavar="LIST",
        help=f"only these fault families may be switched on (comma-separated; default all: {','.join(FAMILIES)})",
    )
    p.add_argument("--fifo", action="store_true", help="links deliver in send order, as TCP connections do")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fuzz",
        help="run seeds of random fault schedules, shrink failures to scenario files",
        description=(
            "Run a campaign of seeds. Each seed generates a fault schedule and a workload (swarm testing: each seed "
            "also picks which fault families are on), then a liveness phase (faults stop, the network heals, "
            "crashed servers restart; a leader must emerge and every client command complete). Failures are "
            "shrunk and written as scenario files. Exit code 0 when every seed passed, 1 when any failed, "
            "2 for bad input."
        ),
    )
    how_many = p.add_mutually_exclusive_group()
    how_many.add_argument("--seeds", type=int, help="how many seeds to run (default 100)")
    how_many.add_argument("--time", metavar="DURATION", help="run seeds for this long (wall time: 60s, 5m)")
    p.add_argument("--start-seed", type=int, default=0, help="first seed (default 0)")
    _common(p)
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster (tcp://host:8786)")
    p.add_argument("--out", default="fuzz-failures", metavar="DIR", help="where shrunk failures go")
    p.add_argument("--check-determinism", action="store_true", help="run each seed twice, compare trace digests")
    p.add_argument("--no-shrink", action="store_true", help="write failures as generated, without shrinking")
    p.add_argument("--list-bugs", action="store_true", help="print the known bugs, one per line, and exit")
    p.set_defaults(func=fuzz_command)

    r = subparsers.add_parser(
        "replay",
        help="reproduce one fuzz seed exactly",
        description="Run one fuzz seed again, exactly as the campaign ran it (same options). Exit code 1 if it fails.",
    )
    r.add_argument("seed", type=int, metavar="SEED")
    _common(r)
    r.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines")
    r.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run")
    r.add_argument("--schedule", action="store_true", help="print the generated case (configuration and faults)")
    r.set_defaults(func=replay_command_main)


class _Progress:
    """A one-line progress bar on stderr (only when it is a terminal), and a final line."""

    def __init__(self, total: int | None, stream_: Any = None) -> None:
        self.stream = stream_ or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = total
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, o: Outcome) -> None:
        self.done += 1
        self.failed += o.failed
        now = time.monotonic()
        if self.tty and now - self.last > 0.2:
            self.last = now
            self.stream.write("\r" + self.line() + "   ")
            self.stream.flush()

    def line(self) -> str:
        elapsed = max(1e-9, time.monotonic() - self.start)
        of = f"/{self.total}" if self.total else ""
        return f"fuzz: {self.done}{of} seeds, {self.done / elapsed:.1f} seeds/s, {self.failed} failed"

    def finish(self) -> None:
        self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
        self.stream.flush()


def fuzz_command(args: argparse.Namespace) -> int:
    from sim.errors import UsageError

    if args.list_bugs:
        for name in BUGS:
            print(name)
        return 0
    options = _options(args)
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds: expected a positive integer, got {args.seeds}")
    if args.start_seed < 0:
        raise UsageError(f"--start-seed: expected a non-negative integer, got {args.start_seed}")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise UsageError(f"--workers: expected a positive integer, got {workers}")
    deadline = None
    total: int | None
    if args.time is not None:
        deadline = time.monotonic() + parse_wall_time(args.time)
        seeds: Iterable[int] = _count(args.start_seed)
        total = None
    else:
        total = args.seeds if args.seeds is not None else 100
        seeds = range(args.start_seed, args.start_seed + total)
    progress = _Progress(total)
    camp = run_campaign(
        seeds,
        options,
        workers=workers,
        scheduler=args.scheduler,
        check_determinism=args.check_determinism,
        deadline=deadline,
        progress=progress,
    )
    progress.finish()
    report_failures(camp, options, args.out, shrink_failures=not args.no_shrink)
    ran = len(camp.outcomes)
    by = camp.by_property()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"
    where = f"scheduler {args.scheduler}" if args.scheduler else f"{workers} worker{'s' if workers > 1 else ''}"
    print(
        f"{ran} seeds ({args.start_seed}..{args.start_seed + ran - 1}) run in {camp.wall:.1f}s on {where} "
        f"({ran / max(camp.wall, 1e-9):.1f} seeds/s); failures by property: {summary}"
        + ("; determinism checked (each seed twice)" if args.check_determinism else "")
    )
    return 1 if camp.failures else 0


def _count(start: int) -> Iterator[int]:
    n = start
    while True:
        yield n
        n += 1


def report_failures(camp: Campaign, options: Options, out_dir: str, shrink_failures: bool = True) -> None:
    """Print each failure (in seed order) with its replay command and scenario file. The first failure of each
    property is shrunk (shrinking costs hundreds of runs); the others are written as generated."""
    shrunk_props: set[str] = set()
    for o in camp.failures:
        assert o.property is not None
        print(f"FAIL seed {o.seed}: {o.property}: {o.detail}")
        print(f"  replay:   {replay_command(o.seed, options)}")
        if o.property in ("Determinism",):
            print("  (a determinism failure: the same seed ran differently twice; please report it)")
            continue
        case = case_for_seed(o.seed, options)
        if o.property == LIVELOCK:
            # A scenario run has no event budget: a message storm would not end, so none is written.
            print("  scenario: not written (message storms are reported by the fuzzer only)")
            continue
        final, final_out = case, o
        note = "as generated"
        if shrink_failures and o.property not in shrunk_props:
            shrunk_props.add(o.property)
            res = shrink(case, o.property)
            final, final_out = res.case, res.outcome
            note = (
                f"shrunk in {res.runs} runs from {len(case.faults)} events/{case.duration / MS:.0f}ms/"
                f"{case.cluster.nodes} servers/{case.workload.clients} clients to {len(final.faults)} events/"
                f"{final.duration / MS:.0f}ms/{final.cluster.nodes} servers/{final.workload.clients} clients"
            )
        path = write_failure(final, final_out, options, out_dir, original=case)
        print(f"  scenario: {path} ({note}); check with: raftsim run {path}")


def replay_command_main(args: argparse.Namespace) -> int:
    from sim.errors import UsageError

    options = _options(args)
    if args.seed < 0:
        raise UsageError(f"SEED: expected a non-negative integer, got {args.seed}")
    case = case_for_seed(args.seed, options)
    if args.schedule:
        print(describe_case(case))
    with ExitStack() as stack:
        trace_out = None
        if args.trace:
            try:
                trace_out = stack.enter_context(open(args.trace, "w", encoding="utf-8"))
            except OSError as e:
                raise UsageError(
                    f"--trace: expected a file we may write, but {args.trace}: {e.strerror or e}"
                ) from None
        # Without --trace, only a plot needs the trace: this short run keeps it in memory.
        out, sim = run_case(case, trace=bool(args.plot), digest=True, trace_out=trace_out)
    status = f"FAIL {out.property}: {out.detail}" if out.failed else "PASS"
    print(
        f"seed {args.seed} ({options.nodes} servers{', bug ' + options.bug if options.bug else ''}): {status}\n"
        f"  {len(case.faults)} fault events, {case.duration / MS:.0f}ms fault phase + {case.liveness / MS:.0f}ms "
        f"liveness phase; stopped at {out.time / MS:.3f}ms after {out.events} events; "
        f"{len(sim.elections)} elections, commit index {sim.committed}, {sim.acked()} commands acknowledged\n"
        f"  trace digest {out.digest}"
    )
    if sim.violation is not None:
        print(sim.violation.report())
    if args.trace:
        print(f"  trace written to {args.trace}")
    if args.plot:
        from sim.viz.timeline import plot_timeline, read_trace

        records = read_trace(args.trace) if args.trace else sim.trace
        plot_timeline(records, args.plot, title=f"fuzz seed {args.seed}: {out.property or 'passed'}")
        print(f"  timeline drawn to {args.plot}")
    return 1 if out.failed else 0


def describe_case(case: Case) -> str:
    c, r, w = case.cluster, case.cluster.raft, case.workload
    lines = [
        f"seed {case.seed}: {c.nodes} servers, election timeout {r.election_timeout_min / MS:.0f}-"
        f"{r.election_timeout_max / MS:.0f}ms, max_batch {r.max_batch}, prevote {r.prevote}, check_quorum "
        f"{r.check_quorum}, disk latency {c.disk_latency / MS:.0f}ms; {w.clients} clients at {w.rate:g}/s",
    ]
    for f in case.all_faults():
        fields_ = {k: v for k, v in dataclasses.asdict(f).items() if v not in (None, ()) and k not in ("at", "do")}
        lines.append(f"  {f.at / MS:9.0f}ms {f.do:<9} {fields_}")
    return "\n".join(lines)
