"""Failures as scenario files that ``raftsim run`` replays, and the command that replays a seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.check.properties import CONVERGENCE, LIVENESS
from sim.fuzz.campaign import Options
from sim.fuzz.case import MS, Case, Outcome


def replay_command(seed: int, options: Options) -> str:
    cmd = f"raftsim replay {seed} --nodes {options.nodes}"
    if options.bug:
        cmd += f" --bug {options.bug}"
    if options.families is not None:
        cmd += f" --families {','.join(options.families)}"
    if options.fifo:
        cmd += " --fifo"
    return cmd


def to_scenario(case: Case, outcome: Outcome, options: Options, original: Case | None = None) -> Any:
    from sim.scenario import Expectation, Scenario

    expectations: tuple[Expectation, ...] = ()
    if case.liveness:
        expectations = (
            Expectation("leader_within", case.liveness, start=case.duration),
            Expectation("clients_complete", True),
            Expectation("state_machines_agree", True),
        )
    orig = original or case
    description = (
        f"Found by the fuzzer: seed {case.seed} fails with {outcome.property} ({outcome.detail}). "
        f"Replay the original run with: {replay_command(case.seed, options)}. "
        f"Shrunk from {len(orig.faults)} fault events, {orig.duration / MS:.0f}ms, {orig.cluster.nodes} servers "
        f"and {orig.workload.clients} clients to {len(case.faults)} events, {case.duration / MS:.0f}ms, "
        f"{case.cluster.nodes} servers and {case.workload.clients} clients."
        + (
            f" From {case.duration / MS:.0f}ms on, the liveness phase: faults stop, the network heals, crashed "
            "servers restart; a leader must be followed by a majority, every client command must complete and every "
            "live server's state machine must be the same."
            if case.liveness
            else ""
        )
    )
    return Scenario(
        name=f"fuzz seed {case.seed}: {outcome.property}" + (f" (bug {case.cluster.bug})" if case.cluster.bug else ""),
        description=description,
        seed=case.seed,
        duration=case.end,
        cluster=case.cluster,
        network=case.network,
        workload=case.workload,
        faults=case.all_faults(),
        expectations=expectations,
    )


def scenario_property(path: str | Path) -> str | None:
    """What ``raftsim run`` finds on a scenario file: the violated property, ``Convergence`` when only the state
    machines differ, ``Liveness`` for another failed expectation, None when it passes."""
    from sim.scenario import load, run_scenario

    result = run_scenario(load(path), trace=False)
    if result.violation is not None:
        return result.violation.property
    if result.passed:
        return None
    failed = {e.kind for e, passed, _ in result.expectations if not passed}
    return CONVERGENCE if failed == {"state_machines_agree"} else LIVENESS


def write_failure(
    case: Case, outcome: Outcome, options: Options, out_dir: str | Path, original: Case | None = None
) -> Path:
    from sim.scenario import to_toml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = options.bug or "correct"
    path = out / f"{tag}-seed{case.seed}-{outcome.property}.toml"
    path.write_text(to_toml(to_scenario(case, outcome, options, original)), encoding="utf-8")
    return path
