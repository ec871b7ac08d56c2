"""A fuzz case and its run: the fault phase, the liveness phase, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import IO

from sim.check.properties import CONVERGENCE, LIVENESS
from sim.world.cluster import Simulation, cyclic_gc_off
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault, schedule
from sim.world.network import Uniform

BASE_DELAY: Uniform = Uniform(5_000, 15_000)
MS = 1_000


@dataclass(frozen=True)
class Case:
    """One fuzz run, fully explicit (what a scenario file holds, plus the liveness bound)."""

    seed: int
    cluster: ClusterConfig
    network: NetworkConfig
    workload: WorkloadConfig
    faults: tuple[Fault, ...]  # the fault phase's schedule, sorted by time, all before ``duration``
    duration: int  # microseconds of the fault phase
    liveness: int  # microseconds the liveness phase may take

    @property
    def end(self) -> int:
        return self.duration + self.liveness

    def recovery(self) -> tuple[Fault, ...]:
        """The explicit faults that start the liveness phase: undo every fault family the schedule used."""
        if not self.liveness:
            return ()  # no liveness phase (a shrunk safety failure ends where its violation happened)
        t = self.duration
        out = [Fault(t, "heal"), Fault(t, "drop", value=0.0), Fault(t, "duplicate", value=0.0)]
        out.append(Fault(t, "delay", delay=self.network.delay))
        links = sorted({(f.src, f.dst) for f in self.faults if f.do == "delay" and f.src is not None})
        for src, dst in links:
            assert src is not None and dst is not None
            out.append(Fault(t, "delay", src=src, dst=dst, delay=self.network.delay))
        if any(f.do == "drift" for f in self.faults):
            out.append(Fault(t, "drift", node="all", value=1.0))
        out.append(Fault(t, "restart", node="all-crashed"))
        return tuple(out)

    def all_faults(self) -> tuple[Fault, ...]:
        return self.faults + self.recovery()

    def size(self) -> tuple[int, int, int, int, float]:
        """What shrinking minimises, most important first."""
        w = self.workload
        clients = w.clients if w.rate > 0 or w.mode == "closed" else 0
        return (len(self.faults), self.duration, self.cluster.nodes, clients, w.rate)


@dataclass(frozen=True)
class Outcome:
    """The result of one case. ``property`` is None when it passed."""

    seed: int
    property: str | None
    detail: str = ""
    time: int = 0  # simulated microseconds when the run stopped
    events: int = 0  # SimPy events processed
    digest: str = ""  # trace digest, when asked for

    @property
    def failed(self) -> bool:
        return self.property is not None


def build(case: Case, trace: bool = False) -> Simulation:
    """The case's simulation, its faults scheduled. Without ``trace`` it records nothing at all: the outcome of a
    campaign's seed (or of a shrinking step) needs no trace, and a failure is replayed with one."""
    sim = Simulation(case.cluster, case.network, case.workload, seed=case.seed, trace=trace, tail=50 if trace else 0)
    schedule(sim, case.all_faults())
    return sim


def recovered(sim: Simulation) -> bool:
    """The liveness phase's goal: a leader followed by a majority, no client operation outstanding, and every
    live server's state machine the same. (For a black box, which reports no roles: no client operation
    outstanding and the same state machines.)"""
    if sim.white_box and sim.established_leader() is None:
        return False
    return not sim.pending_commands() and sim.state_machines_agree()


def liveness_problem(sim: Simulation) -> tuple[str, str] | None:
    """Why the cluster had not recovered by the end of the liveness phase, as (property, detail), or None."""
    # The same rules as the scenario expectations ``leader_within``, ``clients_complete`` and
    # ``state_machines_agree``, so a shrunk scenario judges it alike.
    leader = sim.established_leader() if sim.white_box else (0, 0)
    pending = sim.pending_commands()
    if leader is None:
        return LIVENESS, (
            f"no leader followed by a majority at the end of the liveness phase (live servers {sim.alive()}, "
            f"servers that believe they lead {sim.leaders()}, {pending} client commands pending)"
        )
    if pending:
        return LIVENESS, (
            f"{pending} client commands (or membership changes) never acknowledged by the end of the liveness phase"
            + (f" (leader {leader[0]})" if sim.white_box else "")
        )
    if not sim.state_machines_agree():
        return CONVERGENCE, f"live servers' state machines differ at the end of the liveness phase: {sim.state_text()}"
    return None


# A run that needs more SimPy events than this per simulated millisecond is a message storm (a livelock in which
# messages multiply, e.g. endless rejections with duplication on): every case's cluster carries this budget
# (ClusterConfig.max_events_per_ms), so the run stops with ``Livelock``, and so does its scenario file.
EVENTS_PER_MS = 120
# How often the liveness phase looks whether the cluster has recovered (it ends as soon as it has).
RECOVERY_POLL = 50 * MS


def run_case(
    case: Case, trace: bool = False, digest: bool = False, trace_out: IO[str] | None = None
) -> tuple[Outcome, Simulation]:
    """The fault phase, then the liveness phase until the cluster has recovered (or its bound), then the client
    history judged as a whole; the first property that fails is the outcome's. ``trace`` keeps the trace in
    memory, ``trace_out`` streams it there (ending with the outcome's property as the verdict), ``digest`` puts
    the trace's digest in the outcome.

    The cyclic garbage collector is off meanwhile, as ``Simulation.run`` turns it off for the run (whose reasons
    hold for the whole case): each time a poll of the liveness phase turned it back on, it would scan all the run
    had allocated since."""
    with cyclic_gc_off():
        return _run_case(case, trace, digest, trace_out)


def _run_case(case: Case, trace: bool, digest: bool, trace_out: IO[str] | None) -> tuple[Outcome, Simulation]:
    sim = build(case, trace=trace or digest or trace_out is not None)
    if trace_out is not None:
        bug = f" (bug {case.cluster.bug})" if case.cluster.bug else ""
        sim.stream_trace(trace_out, f"fuzz seed {case.seed}{bug}", f"fuzz seed {case.seed}", case.end)
    try:
        v = sim.run(case.duration)
        t = case.duration
        done = False  # the cluster was seen to have recovered (and nothing has run since)
        while v is None and t < case.end:
            t = min(case.end, t + RECOVERY_POLL)
            v = sim.run(t)
            if v is None and recovered(sim):
                done = True
                break
        # A node that broke the contract while asked for its digest (in ``recovered``) has stopped the run.
        v = v or sim.violation
        if v is None:
            v = sim.judge_history()
        if v is not None:
            out = Outcome(case.seed, v.property, v.detail, sim.now, sim.events)
        else:
            # A cluster just seen to have recovered has no liveness problem: asking again would only compute every
            # server's state machine digest a second time.
            problem = liveness_problem(sim) if case.liveness and not done else None
            if sim.violation is not None:  # a node failed while it was asked for its digest
                problem = sim.violation.property, sim.violation.detail
            prop, why = problem or (None, "")
            out = Outcome(case.seed, prop, why, sim.now, sim.events)
    finally:
        sim.close()
    if digest:
        out = replace(out, digest=sim.trace.digest())
    if trace_out is not None:
        sim.end_trace(out.property or "ok")
    return out, sim
