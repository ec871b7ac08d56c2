"""A fuzz case and its run: the fault phase, the liveness phase, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import IO

from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault, schedule
from sim.world.network import Delay, Uniform

LIVENESS = "Liveness"
LIVELOCK = "Livelock"
BASE_DELAY: Delay = Uniform(5_000, 15_000)
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
        return (len(self.faults), self.duration, self.cluster.nodes, w.clients if w.rate > 0 else 0, w.rate)


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
    sim = Simulation(case.cluster, case.network, case.workload, seed=case.seed, trace=trace)
    schedule(sim, case.all_faults())
    return sim


def liveness_problem(sim: Simulation) -> str | None:
    """Why the liveness phase failed at the end of a run, or None."""
    # The same rule as the scenario expectation ``leader_within``, so a shrunk scenario judges liveness alike.
    leader = sim.established_leader()
    pending = sim.pending_commands()
    if leader is None:
        return (
            f"no leader followed by a majority at the end of the liveness phase (live servers {sim.alive()}, "
            f"servers that believe they lead {sim.leaders()}, {pending} client commands pending)"
        )
    if pending:
        return f"{pending} client commands never acknowledged by the end of the liveness phase (leader {leader[0]})"
    return None


# A run that needs more SimPy events than this per simulated millisecond is a message storm (a livelock in which
# messages multiply, e.g. endless rejections with duplication on): it is stopped and reported as ``Livelock``.
EVENTS_PER_MS = 120
SLICE = 100 * MS


class _Storm(Exception):
    pass


def run_case(
    case: Case, trace: bool = False, digest: bool = False, trace_out: IO[str] | None = None
) -> tuple[Outcome, Simulation]:
    """Run a case; ``trace`` keeps its trace in memory, ``trace_out`` streams it there (ending with the
    outcome's property as the verdict), ``digest`` puts the trace's digest in the outcome."""
    sim = build(case, trace=trace or digest or trace_out is not None)
    if trace_out is not None:
        bug = f" (bug {case.cluster.bug})" if case.cluster.bug else ""
        sim.stream_trace(trace_out, f"fuzz seed {case.seed}{bug}", f"fuzz seed {case.seed}", case.end)
    budget = EVENTS_PER_MS * case.end // MS + 20_000
    v = None
    t = 0
    try:
        while t < case.end:
            # Slices with an event budget each: a storm inside one slice is caught by the budget check after
            # every event (the check is an integer comparison, deterministic: it never depends on wall time).
            t = min(case.end, t + SLICE)
            limit = budget if t >= case.end else min(budget, EVENTS_PER_MS * t // MS + 20_000)

            def check(s: Simulation, limit: int = limit) -> None:
                if s.events > limit:
                    raise _Storm

            v = sim.run(t, check)
            if v is not None:
                break
    except _Storm:
        pass
    if v is not None:
        out = Outcome(case.seed, v.property, v.detail, sim.now, sim.events)
    elif t < case.end or sim.now < case.end:
        detail = f"message storm: more than {EVENTS_PER_MS} events per simulated ms by t={sim.now / MS:.0f}ms"
        out = Outcome(case.seed, LIVELOCK, detail, sim.now, sim.events)
    else:
        why = liveness_problem(sim)
        out = Outcome(case.seed, LIVENESS if why else None, why or "", sim.now, sim.events)
    if digest:
        out = replace(out, digest=sim.trace.digest())
    if trace_out is not None:
        sim.end_trace(out.property or "ok")
    return out, sim
