"""Running a scenario: the simulation, its fault schedule, the monitors, and the result with its summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from sim.check.safety import Violation
from sim.scenario.model import Expectation, Scenario, Step
from sim.scenario.monitors import monitor_for, percentile
from sim.scenario.steps import StepsRun, StopRun
from sim.units import format_ms
from sim.world.faults import schedule

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


@dataclass
class ScenarioResult:
    scenario: Scenario
    seed: int
    sim: Simulation
    violation: Violation | None
    expectations: list[tuple[Expectation, bool, str]]  # (expectation, passed, why)
    interrupted: bool = False  # stopped by Ctrl-C: everything is judged at the time it stopped
    steps: tuple[bool, str] | None = None  # the verdict on the scenario's [[steps]] (passed, why), if it has any

    @property
    def violation_expected(self) -> bool:
        return any(e.kind == "violation" for e in self.scenario.expectations)

    @property
    def passed(self) -> bool:
        if self.interrupted:
            return False
        if self.violation is not None and not self.violation_expected:
            return False
        if self.steps is not None and not self.steps[0]:
            return False
        return all(ok for _, ok, _ in self.expectations)

    def replay_command(self) -> str:
        source = self.scenario.source
        if source == "<string>":
            return f"write the scenario with sim.scenario.to_toml(...) and run: raftsim run FILE --seed {self.seed}"
        c = self.scenario.cluster  # the implementation it ran, which --node may have chosen rather than the file
        node = f" --node {_shell_quote(c.implementation)}" if c.implementation else ""
        node += f" --node-cmd {_shell_quote(c.implementation_cmd)}" if c.implementation_cmd else ""
        return f"raftsim run {_shell_quote(source)} --seed {self.seed}{node}"

    def line(self) -> str:
        """One line: verdict, file, seed and the headline numbers."""
        s, sim = self.scenario, self.sim
        ok = sum(1 for _, passed, _ in self.expectations if passed)
        if self.violation is None:
            verdict = "invariants ok"
        else:
            verdict = f"{self.violation.property} at {format_ms(self.violation.time)}"
            verdict += " (expected)" if self.violation_expected else ""
        first_fail = next((f"; {e.kind}: {why}" for e, passed, why in self.expectations if not passed), "")
        if self.steps is not None and not self.steps[0]:
            first_fail = f"; steps: {self.steps[1]}"
        if self.interrupted:
            first_fail = f"; interrupted at {format_ms(sim.now)}{first_fail}"
        return (
            f"{'PASS' if self.passed else 'FAIL'} {s.source} seed={self.seed} {format_ms(self.length)}: "
            f"{len(sim.elections)} leader(s), commit {sim.committed}, {sim.acked()} acked, "
            f"expectations {ok}/{len(self.expectations)}, {verdict}{first_fail}"
        )

    @property
    def length(self) -> int:
        """How long the run was meant to last: its duration, or for a scenario that ends with its steps, how long
        it lasted."""
        return self.sim.now if self.scenario.ends_with_steps else self.scenario.duration

    def summary(self) -> str:
        """The human summary ``raftsim run`` prints for one scenario."""
        s, sim = self.scenario, self.sim
        simulated = f"{format_ms(self.length)} simulated" + (", to the end of its steps" if s.ends_with_steps else "")
        out = [
            f"{s.name} ({s.source}, seed {self.seed}, {simulated}, {s.cluster.nodes} nodes"
            f"{', bug ' + s.cluster.bug if s.cluster.bug else ''})"
        ]
        if s.description:
            out.append(f"  {s.description}")
        if self.interrupted:
            out.append(
                f"  INTERRUPTED: at {format_ms(sim.now)} of {format_ms(s.duration)} simulated (Ctrl-C); "
                "what follows is judged at that time"
            )
        elections = sim.elections
        shown = ", ".join(f"{format_ms(t)} node {n} (term {term})" for t, n, term in elections[:8])
        more = f", ... {len(elections) - 8} more" if len(elections) > 8 else ""
        out.append(f"  leaders:     {len(elections)} elected{': ' + shown if shown else ''}{more}")
        faults = [fault_text(t, action, d) for t, action, d in sim.faults]
        more = f", ... {len(faults) - 10} more" if len(faults) > 10 else ""
        out.append(f"  faults:      {len(faults)} applied{': ' + ', '.join(faults[:10]) if faults else ''}{more}")
        if sim.admin.changes:
            out.append(f"  members:     {membership_text(sim)}")
        issued = sum(c.seq for c in sim.clients.values())
        out.append(
            f"  commits:     commit index {sim.committed}; {sim.acked()} of {issued} client commands acknowledged, "
            f"{sim.pending_commands()} pending"
        )
        raft = s.cluster.raft
        if raft.snapshot_every:
            out.append(
                f"  snapshots:   {sim.snapshots_taken} taken, {sim.snapshots_installed} installed from a leader "
                f"(one per {raft.snapshot_every} entries applied, sent in {raft.snapshot_chunk}-byte chunks)"
            )
        lat = sim.latencies()
        if lat:
            out.append(
                f"  latency:     p50 {format_ms(percentile(lat, 50))}, p99 {format_ms(percentile(lat, 99))}, "
                f"max {format_ms(lat[-1])} over {len(lat)} commands"
            )
        else:
            out.append("  latency:     no client command completed")
        if self.steps is not None:
            out.append(f"  steps:       {'PASS' if self.steps[0] else 'FAIL'} {self.steps[1]}")
        for e, passed, why in self.expectations:
            out.append(f"  expect:      {'PASS' if passed else 'FAIL'} {expectation_text(e)}: {why}")
        if self.violation is None:
            checked = len(sim.checker.properties)
            out.append(f"  invariants:  hold ({checked} properties checked after each of {sim.events} events)")
            if sim.linearizability is not None:
                out.append(f"  history:     {sim.linearizability.summary()}")
        else:
            tag = " (expected by the scenario)" if self.violation_expected else ""
            out.append(f"  invariants:  VIOLATED{tag}")
            out.extend("    " + line for line in self.violation.report().splitlines())
        out.append(f"  result:      {'PASS' if self.passed else 'FAIL'}")
        if not self.passed or self.violation is not None:
            out.append(f"  replay:      {self.replay_command()}")
        return "\n".join(out)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def membership_text(sim: Simulation) -> str:
    """The members at the end and what became of each change asked for."""
    index, config = sim.committed_configuration
    changes = sim.admin.changes
    outcomes = ", ".join(f"{c.op} {c.server} {c.status or 'pending'}" for c in changes[:8])
    more = f", ... {len(changes) - 8} more" if len(changes) > 8 else ""
    return (
        f"{', '.join(map(str, config.voters))} (committed at index {index}); {len(changes)} changes asked: "
        f"{outcomes}{more}"
    )


def fault_text(t: int, action: str, d: dict[str, Any]) -> str:
    if "nodes" in d:
        arg = ",".join(map(str, d["nodes"]))
    elif "groups" in d:
        arg = "|".join(",".join(map(str, g)) for g in d["groups"])
    elif "src" in d:
        arg = f"{d['src']}->{d['dst']}"
    else:
        arg = ""
    if "value" in d:
        v = d["value"]
        val = f"{v.get('dist')}" if isinstance(v, dict) else f"{v:g}"
        arg = f"{arg} {val}".strip()
    return f"{format_ms(t)} {action}{' ' + arg if arg else ''}"


def expectation_text(e: Expectation) -> str:
    if e.kind in ("no_leader", "no_commit"):
        among = f" among {e.among} servers" if e.among else ""
        return f"{e.kind} [{format_ms(e.start or 0)}, {format_ms(e.end or 0)}]{among}"
    if e.kind in ("committed_at_least", "is_leader", "not_leader"):
        on = f" on {e.servers} servers" if e.servers is not None else ""
        at = f" at {format_ms(e.start)}" if e.start is not None else ""
        return f"{e.kind} {e.value}{on}{at}"
    if e.kind in ("leader_within", "logs_converge_by", "latency_p99_below"):
        return f"{e.kind} {format_ms(int(e.value))}"  # type: ignore[call-overload]
    if e.kind in ("clients_complete", "state_machines_agree"):
        return e.kind
    if e.kind == "members_at_end" and isinstance(e.value, tuple):
        return f"{e.kind} [{', '.join(map(str, e.value))}]"
    return f"{e.kind} {e.value}"


def counts_messages(s: Scenario) -> bool:
    """Whether the scenario reads message counts (an expectation on them, or a condition that reads them)."""
    if any(e.kind in ("max_messages", "min_messages") for e in s.expectations):
        return True
    conditions = [f.guard.when for f in s.faults if f.guard is not None and f.guard.when is not None]

    def collect(steps: tuple[Step, ...]) -> None:
        for step in steps:
            conditions.extend(c for c in (step.until, step.check) if c is not None)
            guard = step.action.guard if step.action is not None else None
            if guard is not None and guard.when is not None:
                conditions.append(guard.when)
            collect(step.steps)

    collect(s.steps)
    return any(c.counts_messages() for c in conditions)


# How much simulated time a run advances between two calls of its ``progress`` callback.
PROGRESS_STEP = 100_000


def run_scenario(
    s: Scenario,
    seed: int | None = None,
    trace: bool = True,
    trace_out: IO[str] | None = None,
    progress: Callable[[Simulation], None] | None = None,
) -> ScenarioResult:
    """Run a scenario (with ``seed`` instead of its own, if given) and judge its expectations.

    With ``trace_out``, the trace is streamed there as the run goes (a header first, the end record last), not
    kept in memory. ``progress``, if given, is called after every ``PROGRESS_STEP`` of simulated time; the run
    is the same with it as without."""
    from sim.world.cluster import Simulation

    run_seed = s.seed if seed is None else seed
    sim = Simulation(s.cluster, s.network, s.workload, seed=run_seed, trace=trace or trace_out is not None)
    if trace_out is not None:
        sim.stream_trace(trace_out, s.name, s.source, s.duration)
    if counts_messages(s):
        sim.network.count_sent()
    names = schedule(sim, s.faults)
    steps = None
    if s.steps:
        steps = StepsRun(sim, s.steps, names, stop_when_done=s.ends_with_steps)
        steps.start()
    monitors = [monitor_for(e, s, names) for e in s.expectations]
    watching = [m for m in monitors if m.active]

    def after_event(sim: Simulation) -> None:
        for m in watching:
            if m.active:
                m.event(sim)
        if steps is not None:
            steps.after_event(sim)  # last: it may end the run (StopRun)

    hook = after_event if watching or steps is not None else None
    interrupted = stopped = False
    try:
        if progress is None:
            violation = sim.run(s.duration, hook)
        else:
            # Advancing in steps changes nothing: ``run`` stops after the last event due by the step's end.
            violation = None
            t = 0
            while violation is None and t < s.duration:
                t = min(s.duration, t + PROGRESS_STEP)
                violation = sim.run(t, hook)
                progress(sim)
    except KeyboardInterrupt:
        # Ctrl-C: stop where the run is and judge what happened so far, so the caller can still report it and
        # write the files it was asked for.
        interrupted = True
        violation = sim.violation
    except StopRun:
        stopped = True  # a step failed, or the steps are done and end the run: judged at this moment
        violation = sim.violation
    if violation is None and not interrupted and not stopped:
        # Let monitors see the final state (the clock has been moved to the end).
        for m in watching:
            if m.active:
                m.event(sim)
    if violation is None and not interrupted:
        # What the clients saw, judged as a whole (Section 8's promise: linearizable operations).
        violation = sim.judge_history()
    results = [(m.e, *m.finish(sim, violation)) for m in monitors]
    violation = violation or sim.violation  # a node that failed while asked for its digest (state_machines_agree)
    sim.close()
    if trace_out is not None:
        sim.end_trace()
    verdict = steps.finish() if steps is not None else None
    return ScenarioResult(s, run_seed, sim, violation, results, interrupted, verdict)
