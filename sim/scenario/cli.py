"""``raftsim run``: run scenario files, print their summaries, write what was asked for."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sim.errors import UsageError
from sim.scenario.library import DEFAULT_SCENARIO, default_scenario
from sim.scenario.parse import load
from sim.scenario.run import ScenarioResult, expectation_text, run_scenario

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run scenario files and check their expectations",
        description=(
            "Run scenario files (TOML, see scenarios/README.md) and check every invariant and expectation. "
            f"With no FILE, runs scenarios/{DEFAULT_SCENARIO}. Exit code 0 when everything holds, 1 when an "
            "invariant or expectation fails, 2 for bad input."
        ),
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="scenario files (.toml)")
    p.add_argument("--seed", type=int, help="use this seed instead of each file's own")
    p.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines (one file per scenario)")
    p.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run (one file per scenario)")
    p.add_argument("--quiet", action="store_true", help="print one line per scenario")
    p.set_defaults(func=run_command)


def _output_path(base: str, source: str, several: bool) -> Path:
    """``--trace out.jsonl`` for one scenario; ``out.<scenario>.jsonl`` for each of several."""
    path = Path(base)
    if not several:
        return path
    return path.with_name(f"{path.stem}.{Path(source).stem}{path.suffix}")


def run_command(args: argparse.Namespace) -> int:
    files = list(args.files)
    if not files:
        default = default_scenario()
        files = [str(default.relative_to(Path.cwd())) if default.is_relative_to(Path.cwd()) else str(default)]
    # Every file is validated before anything runs, so a typo in the fifth file does not waste four runs.
    scenarios = [load(f) for f in files]
    several = len(scenarios) > 1
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed: expected a non-negative integer, got " + str(args.seed))
    failed = 0
    for s in scenarios:
        trace_path = _output_path(args.trace, s.source, several) if args.trace else None
        progress = _Progress(s.name, s.duration)
        try:
            with _trace_file(trace_path, bool(args.plot)) as (trace_out, written):
                result = run_scenario(s, seed=args.seed, trace=False, trace_out=trace_out, progress=progress)
                if args.plot:
                    assert written is not None
                    _plot(result, written, _output_path(args.plot, s.source, several))
        finally:
            progress.clear()
        if not result.passed:
            failed += 1
        if several or args.quiet:
            print(result.line())
            if not result.passed and not args.quiet:
                for e, passed, why in result.expectations:
                    if not passed:
                        print(f"    FAIL {expectation_text(e)}: {why}")
                if result.violation is not None and not result.violation_expected:
                    print("    " + result.violation.report().splitlines()[0])
                print(f"    replay: {result.replay_command()}")
        else:
            print(result.summary())
        sys.stdout.flush()
    if several:
        print(f"total: {len(scenarios)} scenarios, {len(scenarios) - failed} passed, {failed} failed")
    return 1 if failed else 0


@contextmanager
def _trace_file(path: Path | None, for_plot: bool) -> Iterator[tuple[IO[str] | None, Path | None]]:
    """The open file a run streams its trace to, and its path: ``path`` (``--trace``), or with only ``--plot``
    a temporary file (the plot reads the trace back; nothing keeps a long run's trace in memory); none if
    neither was asked for."""
    with ExitStack() as stack:
        if path is None:
            if not for_plot:
                yield None, None
                return
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="raftsim-"))) / "trace.jsonl"
        try:
            out = stack.enter_context(open(path, "w", encoding="utf-8"))
        except OSError as e:
            raise UsageError(f"--trace: expected a file we may write, but {path}: {e.strerror or e}") from None
        yield out, path


def _plot(result: ScenarioResult, trace: Path, out: Path) -> None:
    try:
        from sim.viz.timeline import plot_timeline, read_trace
    except ImportError as e:
        raise UsageError(f"--plot: expected the plotting module sim.viz.timeline, got {e}") from None
    plot_timeline(read_trace(trace), out, title=f"{result.scenario.name} (seed {result.seed})")


class _Progress:
    """The progress of a run on stderr, on one line rewritten in place: only when stderr is a terminal, only once
    the run has taken ``delay`` seconds of wall time, and cleared at the end. Wall time is read for this display
    only; the run is the same whether it shows or not."""

    def __init__(
        self,
        name: str,
        duration: int,
        stream: Any = None,
        clock: Callable[[], float] = time.monotonic,
        delay: float = 2.0,
    ) -> None:
        self.name = name
        self.duration = duration
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.clock = clock
        self.delay = delay
        self.start = self.last = clock()
        self.last_events = 0
        self.width = 0  # of the line shown, 0 when none is

    def __call__(self, sim: Simulation) -> None:
        if not self.tty:
            return
        now = self.clock()
        if now - self.start < self.delay or (self.width and now - self.last < 0.25):
            return
        rate = (sim.events - self.last_events) / max(now - self.last, 1e-9)
        self.last, self.last_events = now, sim.events
        line = (
            f"{self.name}: {sim.now / 1e6:.1f}s of {self.duration / 1e6:.1f}s simulated "
            f"({100 * sim.now / max(self.duration, 1):.0f}%), {rate:,.0f} events/s"
        )
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(line))

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
