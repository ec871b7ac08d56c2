"""``raftsim run``: run scenario files, print their summaries, write what was asked for."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.errors import UsageError
from sim.rng import check_seed
from sim.scenario.library import DEFAULT_SCENARIO, default_scenario
from sim.scenario.parse import load
from sim.scenario.run import ScenarioResult, expectation_text, run_scenario


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
    p.add_argument("--quiet", action="store_true", help="print one line per scenario")
    p.set_defaults(func=run_command)


def _output_path(base: str, source: str, several: bool) -> Path:
    """``--trace out.jsonl`` for one scenario; ``out.<scenario>.jsonl`` for each of several."""
    path = Path(base)
    if not several:
        return path
    return path.with_name(f"{path.stem}.{Path(source).stem}{path.suffix}")


def run_command(args: argparse.Namespace) -> int:
    seed = None if args.seed is None else check_seed("--seed", args.seed)
    files = list(args.files)
    if not files:
        default = default_scenario()
        files = [str(default.relative_to(Path.cwd())) if default.is_relative_to(Path.cwd()) else str(default)]
    # Every file is validated before anything runs, so a typo in the fifth file does not waste four runs.
    scenarios = [load(f) for f in files]
    several = len(scenarios) > 1
    want_trace = bool(args.trace or args.plot)
    failed = 0
    for s in scenarios:
        result = run_scenario(s, seed=seed, trace=want_trace)
        if args.trace:
            out = _output_path(args.trace, s.source, several)
            result.sim.trace.write_jsonl(out)
        if args.plot:
            _plot(result, _output_path(args.plot, s.source, several))
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


def _plot(result: ScenarioResult, out: Path) -> None:
    try:
        from sim.viz.timeline import plot_timeline
    except ImportError as e:
        raise UsageError(f"--plot: expected the plotting module sim.viz.timeline, got {e}") from None
    plot_timeline(result.sim.trace, out, title=f"{result.scenario.name} (seed {result.seed})")
