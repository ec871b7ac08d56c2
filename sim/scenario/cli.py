"""``raftsim run``: run scenario files, print their summaries, write what was asked for."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sim.check.history import write_edn
from sim.errors import UsageError
from sim.nodes import flags as node_flags
from sim.outputs import output_dir, output_file
from sim.rng import check_seed
from sim.scenario.emit import to_toml
from sim.scenario.library import DEFAULT_SCENARIO, default_scenario, in_library, library_dir, scenario_files
from sim.scenario.model import Scenario, actions_of
from sim.scenario.parse import load
from sim.scenario.run import ScenarioResult, expectation_text, run_scenario
from sim.units import format_ms
from sim.world.clients import operations

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
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="scenario files (.toml) or folders (every .toml in them, subfolders included); a relative path that "
        "is not here but in the bundled library (see --list) runs the library's",
    )
    p.add_argument("--list", action="store_true", help="list the bundled scenario library and exit")
    p.add_argument("--seed", help="use this seed instead of each file's own (0 to 2**63-1)")
    p.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines (one file per scenario)")
    p.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run (one file per scenario)")
    p.add_argument(
        "--html",
        metavar="OUT.html",
        help="write the interactive timeline: one self-contained HTML file to open in a browser (one per scenario)",
    )
    p.add_argument(
        "--history",
        metavar="OUT.edn",
        help="write the clients' history in Jepsen's EDN format, one operation map per line (one file per scenario)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write everything about each run into DIR: the scenario as run (scenario.toml), trace.jsonl, "
        "history.edn, timeline.png and summary.txt (a folder per scenario when several)",
    )
    p.add_argument("--quiet", action="store_true", help="print one line per scenario")
    node_flags.add_flags(p)
    p.set_defaults(func=run_command)


TRACE_SUFFIXES = (".jsonl",)
HISTORY_SUFFIXES = (".edn",)
PLOT_SUFFIXES = (".png", ".svg")
HTML_SUFFIXES = (".html",)


@dataclass(frozen=True)
class _Outputs:
    """Where one scenario's files go (None: not asked for)."""

    trace: Path | None = None
    plot: Path | None = None
    history: Path | None = None
    folder: Path | None = None  # --out: the scenario as run, trace, plot and summary together
    html: Path | None = None


def _derived(base: str, source: str, several: bool) -> str:
    """``--trace out.jsonl`` for one scenario; ``out.<scenario>.jsonl`` for each of several."""
    if not several:
        return base
    path = Path(base)
    return str(path.with_name(f"{path.stem}.{Path(source).stem}{path.suffix}"))


def _plan_outputs(args: argparse.Namespace, scenarios: list[Scenario]) -> list[_Outputs]:
    """Every output path, checked before anything runs (a bad one is one line and exit code 2, not a traceback
    after a long run). Folders are created only by ``--out`` itself, never a missing parent."""
    several = len(scenarios) > 1
    plans: list[_Outputs] = []
    out_dir = output_dir("--out", args.out) if args.out else None
    stems = [Path(s.source).stem for s in scenarios]
    for s, stem in zip(scenarios, stems, strict=True):
        trace = plot = history = folder = None
        if args.history:
            history = output_file("--history", _derived(args.history, s.source, several), HISTORY_SUFFIXES)
        if args.trace:
            trace = output_file("--trace", _derived(args.trace, s.source, several), TRACE_SUFFIXES)
        if args.plot:
            plot = output_file("--plot", _derived(args.plot, s.source, several), PLOT_SUFFIXES)
        if out_dir is not None:
            # Two files with the same name in different folders get their folders told apart by position.
            name = stem if stems.count(stem) == 1 else f"{stem}-{stems[: len(plans)].count(stem) + 1}"
            folder = output_dir("--out", str(out_dir / name), create=False) if several else out_dir
        html = output_file("--html", _derived(args.html, s.source, several), HTML_SUFFIXES) if args.html else None
        plans.append(_Outputs(trace, plot, history, folder, html))
    return plans


def _scenario_paths(names: list[str]) -> list[str]:
    """The files named on the command line: a folder stands for every scenario file in it; a relative path that
    does not exist here but does in the bundled library is the library's."""
    paths: list[str] = []
    for name in names:
        path = Path(name)
        if not path.exists() and (bundled := in_library(name)) is not None:
            path = bundled
        if path.is_dir():
            found = scenario_files(path)
            if not found:
                raise UsageError(f"{name}: expected a scenario file or a folder of them (.toml), got a folder of none")
            paths.extend(str(path / f.relative_to(path)) for f in found)
        else:
            paths.append(str(path))
    return paths


def list_library() -> int:
    """``raftsim run --list``: every bundled scenario file, its path in the library and its name."""
    folder = library_dir()
    files = scenario_files(folder)
    print(f"scenario library: {folder} ({len(files)} files; `raftsim run PATH` runs one, or every file in a folder)")
    rows = [(str(f.relative_to(folder)), load(f).name) for f in files]
    width = max(len(r[0]) for r in rows)
    for rel, name in rows:
        print(f"  {rel.ljust(width)}  {name}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    seed = None if args.seed is None else check_seed("--seed", args.seed)
    if args.list:
        return list_library()
    files = _scenario_paths(args.files)
    if not files:
        default = default_scenario()
        files = [str(default.relative_to(Path.cwd())) if default.is_relative_to(Path.cwd()) else str(default)]
    # Every file and output path is validated before anything runs, so a typo in the fifth file (or a plot file
    # name nothing can write) does not waste four runs.
    spec, command = node_flags.chosen(args)
    scenarios = [load(f) for f in files]
    if spec or command:
        # Every scenario runs the implementation named on the command line, refused if it cannot do what one asks.
        flag = f"--node {spec}" if spec else f"--node-cmd {command!r}"
        chosen = node_flags.overrides(spec, command)
        scenarios = [replace(s, cluster=replace(s.cluster, **chosen)) for s in scenarios]
        for s in scenarios:
            kinds = tuple(e.kind for e in s.expectations)
            node_flags.refuse_unsupported(s.cluster, f"{s.source} (with {flag})", kinds, actions_of(s))
    plans = _plan_outputs(args, scenarios)
    several = len(scenarios) > 1
    failed = 0
    for s, plan in zip(scenarios, plans, strict=True):
        progress = _Progress(s.name, s.duration)
        if plan.folder is not None:
            plan.folder.mkdir(exist_ok=True)
        trace_path = plan.trace or (plan.folder / "trace.jsonl" if plan.folder else None)
        try:
            with _trace_file(trace_path, bool(plan.plot or plan.html)) as (trace_out, streamed):
                result = run_scenario(s, seed=seed, trace=False, trace_out=trace_out, progress=progress)
                if trace_out is not None:
                    trace_out.flush()
                written = _write_outputs(result, plan, streamed)
        finally:
            progress.clear()
        if not result.passed:
            failed += 1
        if several or args.quiet:
            print(result.line())
            if not result.passed and not args.quiet:
                if result.steps is not None and not result.steps[0]:
                    print(f"    FAIL steps: {result.steps[1]}")
                for e, passed, why in result.expectations:
                    if not passed:
                        print(f"    FAIL {expectation_text(e)}: {why}")
                if result.violation is not None and not result.violation_expected:
                    print("    " + result.violation.report().splitlines()[0])
                print(f"    replay: {result.replay_command()}")
            if written and not args.quiet:
                print(f"    wrote: {', '.join(map(str, written))}")
        else:
            print(result.summary())
            if written:
                print(f"  wrote:       {', '.join(map(str, written))}")
        sys.stdout.flush()
        if result.interrupted:
            print(f"interrupted: {s.source} stopped at {format_ms(result.sim.now)}", file=sys.stderr)
            return 130
    if several:
        print(f"total: {len(scenarios)} scenarios, {len(scenarios) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _write_outputs(result: ScenarioResult, plan: _Outputs, trace: Path | None) -> list[Path]:
    """Write what was asked for (the trace was streamed to ``trace`` during the run); returns the paths written,
    in order."""
    written: list[Path] = []
    if plan.trace:
        written.append(plan.trace)
    if plan.plot:
        assert trace is not None
        _plot(result, trace, plan.plot)
        written.append(plan.plot)
    if plan.html:
        assert trace is not None
        _html(result, trace, plan.html)
        written.append(plan.html)
    if plan.history:
        write_edn(operations(result.sim.history), plan.history)
        written.append(plan.history)
    if plan.folder:
        folder = plan.folder
        assert trace is not None
        as_run = replace(result.scenario, seed=result.seed)
        files = {
            "scenario.toml": to_toml(as_run),
            "summary.txt": result.summary() + "\n",
        }
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
            written.append(folder / name)
        if trace != folder / "trace.jsonl":
            shutil.copyfile(trace, folder / "trace.jsonl")  # streamed to --trace: the folder gets a copy
        written.append(folder / "trace.jsonl")
        write_edn(operations(result.sim.history), folder / "history.edn")
        written.append(folder / "history.edn")
        _plot(result, trace, folder / "timeline.png")
        written.append(folder / "timeline.png")
    return written


@contextmanager
def _trace_file(path: Path | None, for_plot: bool) -> Iterator[tuple[IO[str] | None, Path | None]]:
    """The open file a run streams its trace to, and its path: ``path`` (``--trace``), or with only ``--plot``
    (or ``--html``) a temporary file (the plot reads the trace back; nothing keeps a long run's trace in memory);
    none if neither was asked for."""
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
    from sim.viz.timeline import plot_timeline, read_trace

    # The run ends at its duration, or at the violation that stopped it.
    title = f"{result.scenario.name} (seed {result.seed})"
    plot_timeline(read_trace(trace), out, title=title, run_end_us=result.sim.now)


def _html(result: ScenarioResult, trace: Path, out: Path) -> None:
    from sim.viz.html import write_html

    write_html(trace, out, title=f"{result.scenario.name} (seed {result.seed})", run_end_us=result.sim.now)


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
