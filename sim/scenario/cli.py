"""``raftsim run``: run scenario files, print their summaries, write what was asked for."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sim.check.history import write_edn
from sim.outputs import output_dir, output_file
from sim.rng import check_seed
from sim.scenario.emit import to_toml
from sim.scenario.library import DEFAULT_SCENARIO, default_scenario
from sim.scenario.model import Scenario
from sim.scenario.parse import load
from sim.scenario.run import ScenarioResult, expectation_text, run_scenario
from sim.units import format_ms
from sim.world.clients import operations


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
    p.add_argument("--seed", help="use this seed instead of each file's own (0 to 2**63-1)")
    p.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines (one file per scenario)")
    p.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run (one file per scenario)")
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
    p.set_defaults(func=run_command)


TRACE_SUFFIXES = (".jsonl",)
HISTORY_SUFFIXES = (".edn",)
PLOT_SUFFIXES = (".png", ".svg")


@dataclass(frozen=True)
class _Outputs:
    """Where one scenario's files go (None: not asked for)."""

    trace: Path | None = None
    plot: Path | None = None
    history: Path | None = None
    folder: Path | None = None  # --out: the scenario as run, trace, plot and summary together

    @property
    def wants_trace(self) -> bool:
        return bool(self.trace or self.plot or self.folder)


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
        plans.append(_Outputs(trace, plot, history, folder))
    return plans


def run_command(args: argparse.Namespace) -> int:
    seed = None if args.seed is None else check_seed("--seed", args.seed)
    files = list(args.files)
    if not files:
        default = default_scenario()
        files = [str(default.relative_to(Path.cwd())) if default.is_relative_to(Path.cwd()) else str(default)]
    # Every file and output path is validated before anything runs, so a typo in the fifth file (or a plot file
    # name nothing can write) does not waste four runs.
    scenarios = [load(f) for f in files]
    plans = _plan_outputs(args, scenarios)
    several = len(scenarios) > 1
    failed = 0
    for s, plan in zip(scenarios, plans, strict=True):
        result = run_scenario(s, seed=seed, trace=plan.wants_trace)
        written = _write_outputs(result, plan)
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


def _write_outputs(result: ScenarioResult, plan: _Outputs) -> list[Path]:
    """Write what was asked for; returns the paths written, in order."""
    written: list[Path] = []
    if plan.trace:
        result.sim.trace.write_jsonl(plan.trace)
        written.append(plan.trace)
    if plan.plot:
        _plot(result, plan.plot)
        written.append(plan.plot)
    if plan.history:
        write_edn(operations(result.sim.history), plan.history)
        written.append(plan.history)
    if plan.folder:
        folder = plan.folder
        folder.mkdir(exist_ok=True)
        as_run = replace(result.scenario, seed=result.seed)
        files = {
            "scenario.toml": to_toml(as_run),
            "summary.txt": result.summary() + "\n",
        }
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
            written.append(folder / name)
        result.sim.trace.write_jsonl(folder / "trace.jsonl")
        written.append(folder / "trace.jsonl")
        write_edn(operations(result.sim.history), folder / "history.edn")
        written.append(folder / "history.edn")
        _plot(result, folder / "timeline.png")
        written.append(folder / "timeline.png")
    return written


def _plot(result: ScenarioResult, out: Path) -> None:
    from sim.viz.timeline import plot_timeline

    # The run ends at its duration, or at the violation that stopped it.
    plot_timeline(
        result.sim.trace, out, title=f"{result.scenario.name} (seed {result.seed})", run_end_us=result.sim.now
    )
