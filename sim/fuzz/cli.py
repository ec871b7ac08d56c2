"""``raftsim fuzz`` and ``raftsim replay``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from contextlib import ExitStack
from typing import Any

from sim.check.properties import LIVELOCK
from sim.fuzz.campaign import Campaign, Options, case_for_seed, run_campaign
from sim.fuzz.case import MS, Outcome, run_case
from sim.fuzz.draw import FAMILIES
from sim.fuzz.export import option_flags, replay_command, to_scenario, write_failure
from sim.fuzz.shrink import shrink
from sim.nodes import flags as node_flags
from sim.nodes.bugs import BUGS, describe
from sim.outputs import output_dir, output_file
from sim.rng import MAX_SEED, check_seed
from sim.units import parse_wall_time

OUT_DEFAULT = "fuzz-failures"


def _options(args: argparse.Namespace) -> Options:
    from sim.errors import UsageError

    if args.nodes is not None and not 1 <= args.nodes <= 15:
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
    spec, command = node_flags.chosen(args)
    if args.bug is not None and (spec or command):
        raise UsageError("--bug: a known bug is a variant of the built-in node; it cannot go with --node or --node-cmd")
    return Options(nodes=args.nodes, bug=args.bug, families=families, fifo=args.fifo, node=spec, node_cmd=command)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, help="servers in the cluster (default: drawn per seed, 3, 5 or 7)")
    p.add_argument("--bug", metavar="NAME", help="switch on a known bug (see --list-bugs)")
    p.add_argument(
        "--families",
        metavar="LIST",
        help=f"only these fault families may be switched on (comma-separated; default all: {','.join(FAMILIES)})",
    )
    p.add_argument("--fifo", action="store_true", help="links deliver in send order, as TCP connections do")
    node_flags.add_flags(p)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fuzz",
        help="run seeds of random fault schedules, shrink failures to scenario files",
        description=(
            "Run a campaign of seeds. Each seed generates a fault schedule and a workload (swarm testing: each seed "
            "also picks which fault families are on), then a liveness phase (faults stop, the network heals, "
            "crashed servers restart; a leader must emerge and every client command complete). Failures are "
            "shrunk and written as scenario files. Ctrl-C stops the campaign: it reports the failures so far "
            "(written unshrunk) and the --start-seed that resumes it. Exit code 0 when every seed passed, 1 when "
            "any failed, 2 for bad input, 130 when interrupted."
        ),
    )
    how_many = p.add_mutually_exclusive_group()
    how_many.add_argument("--seeds", type=int, help="how many seeds to run (default 100)")
    how_many.add_argument("--time", metavar="DURATION", help="run seeds for this long (wall time: 60s, 5m, 1h)")
    p.add_argument("--start-seed", default="0", metavar="SEED", help="first seed (default 0; up to 2**63-1)")
    p.add_argument("--maxfail", type=int, metavar="N", help="stop after N failing seeds")
    p.add_argument("-x", dest="maxfail", action="store_const", const=1, help="stop at the first failing seed")
    _common(p)
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster (tcp://host:8786)")
    p.add_argument(
        "--out",
        default=OUT_DEFAULT,
        metavar="DIR",
        help=f"where failures go (default {OUT_DEFAULT}/; created when the first one is written)",
    )
    p.add_argument("--check-determinism", action="store_true", help="run each seed twice, compare trace digests")
    p.add_argument("--no-shrink", action="store_true", help="write failures as generated, without shrinking")
    p.add_argument("--list-bugs", action="store_true", help="print the known bugs, each with what it gets wrong")
    p.set_defaults(func=fuzz_command)

    r = subparsers.add_parser(
        "replay",
        help="reproduce one fuzz seed exactly",
        description="Run one fuzz seed again, exactly as the campaign ran it (same options). Exit code 1 if it fails.",
    )
    r.add_argument("seed", metavar="SEED", help="the seed (0 to 2**63-1)")
    _common(r)
    r.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines")
    r.add_argument("--history", metavar="OUT.edn", help="write the clients' history in Jepsen's EDN format")
    r.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run (.png or .svg)")
    r.add_argument("--html", metavar="OUT.html", help="write the interactive timeline of the run (one HTML file)")
    r.add_argument(
        "--schedule",
        action="store_true",
        help="print the case as a scenario file (what raftsim run reads), with the run's summary as TOML comments",
    )
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
        self.stream.write((_CLEAR if self.tty else "") + self.line() + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar (and the ``^C`` the terminal echoed after it), so a report can start on a clean line."""
        if self.tty:
            self.stream.write(_CLEAR)
            self.stream.flush()


_CLEAR = "\r\x1b[K"  # carriage return, then erase to the end of the line


def fuzz_command(args: argparse.Namespace) -> int:
    from sim.errors import UsageError

    if args.list_bugs:
        width = max(map(len, BUGS))
        for name in BUGS:
            print(f"{name:<{width}}  {describe(name)}")
        return 0
    options = _options(args)
    start = check_seed("--start-seed", args.start_seed)
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds: expected a positive integer, got {args.seeds}")
    if args.maxfail is not None and args.maxfail < 1:
        raise UsageError(f"--maxfail: expected a positive integer, got {args.maxfail}")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise UsageError(f"--workers: expected a positive integer, got {workers}")
    output_dir("--out", args.out, create=False)  # created when the first failure is written
    deadline = None
    total: int | None
    if args.time is not None:
        deadline = time.monotonic() + parse_wall_time(args.time)
        total = None
        seeds = range(start, MAX_SEED + 1)
    else:
        total = args.seeds if args.seeds is not None else 100
        if total > MAX_SEED - start + 1:
            raise UsageError(
                f"--seeds: expected at most {MAX_SEED - start + 1} from --start-seed {start} (the last seed is "
                f"2**63-1), got {total}"
            )
        seeds = range(start, start + total)
    progress = _Progress(total)
    camp = run_campaign(
        seeds,
        options,
        workers=workers,
        scheduler=args.scheduler,
        check_determinism=args.check_determinism,
        deadline=deadline,
        progress=progress,
        stop_after_failures=args.maxfail,
    )
    if camp.interrupted:
        progress.clear()
    else:
        progress.finish()
    shrinking_interrupted = report_failures(camp, options, args.out, shrink_failures=not args.no_shrink)
    ran = len(camp.outcomes)
    by = camp.by_property()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"
    where = f"scheduler {args.scheduler}" if args.scheduler else f"{workers} worker{'s' if workers > 1 else ''}"
    print(
        ("interrupted: " if camp.interrupted else "")
        + f"{ran} seeds{f' ({start}..{start + ran - 1})' if ran else ''} run in {camp.wall:.1f}s on {where} "
        f"({ran / max(camp.wall, 1e-9):.1f} seeds/s); failures by property: {summary}"
        + ("; determinism checked (each seed twice)" if args.check_determinism else "")
    )
    rest = None if total is None else total - ran
    failed = len(camp.failures)
    if camp.interrupted:
        print(f"resume with: {_resume_command(args, options, start + ran, rest)}")
    elif args.maxfail is not None and failed >= args.maxfail and rest != 0:
        print(
            f"stopped after {failed} failing seed{'s' if failed > 1 else ''} (--maxfail {args.maxfail}); "
            f"resume with: {_resume_command(args, options, start + ran, rest)}"
        )
    if camp.interrupted or shrinking_interrupted:
        return 130
    return 1 if camp.failures else 0


def _resume_command(args: argparse.Namespace, options: Options, next_seed: int, remaining: int | None) -> str:
    """The command that runs the rest of this campaign: the same flags, from the first seed that did not finish."""
    parts = ["raftsim fuzz --start-seed", str(next_seed)]
    parts += ["--time", shlex.quote(args.time)] if remaining is None else ["--seeds", str(remaining)]
    parts.append(option_flags(options))
    if args.maxfail is not None:
        parts += ["--maxfail", str(args.maxfail)]
    if args.workers is not None:
        parts += ["--workers", str(args.workers)]
    if args.scheduler is not None:
        parts += ["--scheduler", shlex.quote(args.scheduler)]
    if args.out != OUT_DEFAULT:
        parts += ["--out", shlex.quote(args.out)]
    parts += [
        flag for flag, on in (("--check-determinism", args.check_determinism), ("--no-shrink", args.no_shrink)) if on
    ]
    return " ".join(parts)


def report_failures(camp: Campaign, options: Options, out_dir: str, shrink_failures: bool = True) -> bool:
    """Print each failure (in seed order) with its replay command and scenario file. The first failure of each
    property is shrunk (shrinking costs hundreds of runs); the others are written as generated. After Ctrl-C
    (during the campaign or while shrinking), the failures left are written as generated, at once.

    Returns whether Ctrl-C stopped a shrink."""
    shrunk_props: set[str] = set()
    unshrunk = "as generated" + ("; not shrunk: the campaign was interrupted" if camp.interrupted else "")
    shrink_failures = shrink_failures and not camp.interrupted
    shrinking_interrupted = False
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
        final, final_out, note = case, o, unshrunk
        if shrink_failures and o.property not in shrunk_props:
            shrunk_props.add(o.property)
            try:
                res = shrink(case, o.property)
            except KeyboardInterrupt:
                shrink_failures, shrinking_interrupted = False, True
                unshrunk = note = "as generated; not shrunk: shrinking was interrupted"
            except ValueError as e:  # it did not fail again: a node that does not replay its inputs (or a hang)
                note = f"as generated; not shrunk: {e} when run again (a node that is not deterministic?)"
            else:
                final, final_out = res.case, res.outcome
                note = (
                    f"shrunk in {res.runs} runs from {len(case.faults)} events/{case.duration / MS:.0f}ms/"
                    f"{case.cluster.nodes} servers/{case.workload.clients} clients to {len(final.faults)} events/"
                    f"{final.duration / MS:.0f}ms/{final.cluster.nodes} servers/{final.workload.clients} clients"
                )
        path = write_failure(final, final_out, options, output_dir("--out", out_dir), original=case)
        print(f"  scenario: {path} ({note}); check with: raftsim run {path}")
    return shrinking_interrupted


def replay_command_main(args: argparse.Namespace) -> int:
    from sim.errors import UsageError
    from sim.scenario import to_toml

    options = _options(args)
    seed = check_seed("SEED", args.seed)
    if args.trace:
        output_file("--trace", args.trace, (".jsonl",))
    if args.plot:
        output_file("--plot", args.plot, (".png", ".svg"))
    if args.history:
        output_file("--history", args.history, (".edn",))
    if args.html:
        output_file("--html", args.html, (".html",))
    case = case_for_seed(seed, options)
    with ExitStack() as stack:
        trace_out = None
        trace_path = args.trace
        if args.html and not trace_path:  # the page is made from a trace file: a temporary one will do
            trace_path = os.path.join(stack.enter_context(tempfile.TemporaryDirectory(prefix="raftsim-")), "t.jsonl")
        if trace_path:
            try:
                trace_out = stack.enter_context(open(trace_path, "w", encoding="utf-8"))
            except OSError as e:
                raise UsageError(
                    f"--trace: expected a file we may write, but {args.trace}: {e.strerror or e}"
                ) from None
        # Without a trace file, only a plot needs the trace: this short run keeps it in memory.
        out, sim = run_case(case, trace=bool(args.plot), digest=True, trace_out=trace_out)
        if args.html:
            from sim.viz.html import write_html

            title = f"fuzz seed {seed}: {out.property or 'passed'}"
            write_html(trace_path, args.html, title=title, run_end_us=sim.now)
        if args.plot and trace_path:  # streamed, so not in memory: the plot reads it back (before it is deleted)
            from sim.viz.timeline import read_trace

            plot_records = read_trace(trace_path)
    # With --schedule the output is a scenario file: the case, then everything else as comments.
    comment = "# " if args.schedule else ""

    def say(text: str) -> None:
        print("\n".join(comment + line for line in text.splitlines()))

    if args.schedule:
        print(to_toml(to_scenario(case, out, options)), end="")
    status = f"FAIL {out.property}: {out.detail}" if out.failed else "PASS"
    say(
        f"seed {seed} ({case.cluster.nodes} servers{', bug ' + options.bug if options.bug else ''}): {status}\n"
        f"  {len(case.faults)} fault events, {case.duration / MS:.0f}ms fault phase + {case.liveness / MS:.0f}ms "
        f"liveness phase; stopped at {out.time / MS:.3f}ms after {out.events} events; "
        f"{len(sim.elections)} elections, commit index {sim.committed}, {sim.acked()} commands acknowledged\n"
        f"  trace digest {out.digest}"
    )
    if sim.violation is not None:
        say(sim.violation.report())
    if args.trace:
        say(f"  trace written to {args.trace}")
    if args.history:
        from sim.check.history import write_edn
        from sim.world.clients import operations

        write_edn(operations(sim.history), args.history)
        say(f"  history written to {args.history}")
    if args.plot:
        from sim.viz.timeline import plot_timeline

        records = plot_records if trace_path else sim.trace
        title = f"fuzz seed {seed}: {out.property or 'passed'}"
        plot_timeline(records, args.plot, title=title, run_end_us=sim.now)
        say(f"  timeline drawn to {args.plot}")
    if args.html:
        say(f"  interactive timeline written to {args.html}")
    return 1 if out.failed else 0
