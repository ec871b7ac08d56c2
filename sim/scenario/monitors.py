"""Expectation monitors: each judges one ``[[expect]]`` of a scenario, watching the run event by event."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim.check.safety import Violation
from sim.scenario.model import Expectation, Scenario
from sim.units import format_ms

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


class _Monitor:
    """Judges one expectation. ``event`` runs after every simulation event while ``active``; ``finish`` gives
    (passed, why) once the run has ended (``stopped`` is the violation that ended it early, if any)."""

    active = False

    def __init__(self, e: Expectation, s: Scenario) -> None:
        self.e = e
        self.s = s

    def event(self, sim: Simulation) -> None:
        pass

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        raise NotImplementedError


def _at_or_after(sim: Simulation, t: int) -> bool:
    """Whether the simulation's state is now the state at time ``t`` or later: every event up to ``t`` is done."""
    return sim.env.now > t or sim.env.peek() > t


def _not_reached(sim: Simulation, t: int, stopped: Violation | None) -> str:
    why = f"a {stopped.property} violation" if stopped else "the end of the run"
    return f"not reached: the run stopped at {format_ms(sim.now)} ({why}) before {format_ms(t)}"


class _LeaderWithin(_Monitor):
    """A leader counts once a majority follows it in its term and keeps doing so for a maximum election timeout:
    that excludes a deposed leader whose old followers have not yet noticed it is gone."""

    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        last = s.faults[-1].at if s.faults else 0
        self.ref = e.start if e.start is not None else last
        self.deadline = self.ref + int(e.value)  # type: ignore[call-overload]
        self.stable = s.cluster.raft.election_timeout_max
        self.candidate: tuple[int, int, int] | None = None  # leader, term, since
        self.result: tuple[bool, str] | None = None

    def event(self, sim: Simulation) -> None:
        now = sim.env.now
        if now <= self.ref and sim.env.peek() <= self.ref:
            return  # not yet at the reference time
        cand = self.candidate
        if cand is not None and now >= cand[2] + self.stable:
            self._pass(cand)
            return
        found = sim.established_leader()
        if found is None:
            self.candidate = None
        elif cand is None or (cand[0], cand[1]) != found:
            self.candidate = (found[0], found[1], max(now, self.ref))
        if self.candidate is None and now > self.deadline:
            self._fail(sim)

    def _pass(self, cand: tuple[int, int, int]) -> None:
        leader, term, since = cand
        self.result = (
            True,
            f"leader {leader} (term {term}) followed by a majority from {format_ms(since)}, "
            f"{format_ms(since - self.ref)} after {self._ref_text()}",
        )
        self.active = False

    def _fail(self, sim: Simulation) -> None:
        self.result = (
            False,
            f"no leader followed by a majority within {format_ms(self.deadline - self.ref)} after "
            f"{self._ref_text()}{self._leaders_text(sim)}",
        )
        self.active = False

    def _ref_text(self) -> str:
        what = "the reference time" if self.e.start is not None else ("the last event" if self.s.faults else "start")
        return f"{what} at {format_ms(self.ref)}"

    @staticmethod
    def _leaders_text(sim: Simulation) -> str:
        leaders = sim.leaders()
        return f" (servers that believe they lead now: {', '.join(map(str, leaders))})" if leaders else ""

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        if self.result is None:
            cand = self.candidate
            if cand is not None and cand[2] <= self.deadline and stopped is None:
                leader, term, since = cand
                self.result = (
                    True,
                    f"leader {leader} (term {term}) followed by a majority from {format_ms(since)} to the end, "
                    f"{format_ms(since - self.ref)} after {self._ref_text()}",
                )
            elif stopped is not None or sim.now < self.deadline:
                self.result = (False, _not_reached(sim, self.deadline, stopped))
            else:
                self._fail(sim)
        assert self.result is not None
        return self.result


class _LogsConverge(_Monitor):
    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        self.t = int(e.value)  # type: ignore[call-overload]
        self.lag = e.lag if e.lag is not None else s.cluster.raft.election_timeout_max
        self.base_time = max(0, self.t - self.lag)
        self.base: int | None = None
        self.result: tuple[bool, str] | None = None

    def event(self, sim: Simulation) -> None:
        if self.base is None and _at_or_after(sim, self.base_time):
            self.base = sim.committed
        if _at_or_after(sim, self.t):
            self.result = self._judge(sim)
            self.active = False

    def _judge(self, sim: Simulation) -> tuple[bool, str]:
        base = self.base or 0
        live = {i: s for i, s in sim.servers.items() if s.alive}
        crashed = [i for i in sim.servers if i not in live]
        note = f"; crashed, not counted: {', '.join(map(str, crashed))}" if crashed else ""
        if not live:
            return False, f"at {format_ms(self.t)} no server is alive"
        commits = ", ".join(f"{i}:{s.state.commit}" for i, s in live.items())
        behind = [i for i, s in live.items() if s.state.commit < base]
        if behind:
            return False, (
                f"at {format_ms(self.t)} node(s) {', '.join(map(str, behind))} had not committed index {base} "
                f"(committed somewhere by {format_ms(self.base_time)}); commit indexes {commits}{note}"
            )
        terms = {s.term_at(base) for s in live.values()} if base else {0}
        if len(terms) > 1:
            return False, f"at {format_ms(self.t)} the live logs differ at index {base}{note}"
        return True, (
            f"at {format_ms(self.t)} every live server holds the committed log up to index {base} "
            f"(committed by {format_ms(self.base_time)}); commit indexes {commits}{note}"
        )

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        if self.result is None:
            return False, _not_reached(sim, self.t, stopped)
        return self.result


class _Interval(_Monitor):
    """no_leader / no_commit: the state at every moment of [start, end]."""

    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        assert e.start is not None and e.end is not None
        self.start, self.end = e.start, e.end
        self.base: int | None = None
        self.broken: str | None = None
        self.done = False

    def event(self, sim: Simulation) -> None:
        now = sim.env.now
        if now > self.end:
            self.done = True
            self.active = False
            return
        if not _at_or_after(sim, self.start):
            return
        if self.e.kind == "no_leader":
            leaders = sim.leaders()
            if leaders:
                term = sim.servers[leaders[0]].state.term
                self.broken = f"node {leaders[0]} was leader (term {term}) at {format_ms(max(now, self.start))}"
        else:
            if self.base is None:
                self.base = sim.committed
            elif sim.committed > self.base:
                self.broken = f"the commit index rose from {self.base} to {sim.committed} at {format_ms(now)}"
        if self.broken:
            self.active = False
        elif sim.env.peek() > self.end:
            self.done = True
            self.active = False

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        span = f"[{format_ms(self.start)}, {format_ms(self.end)}]"
        if self.broken:
            return False, self.broken
        if not self.done and (stopped is not None or sim.now < self.end):
            return False, _not_reached(sim, self.end, stopped)
        if self.e.kind == "no_leader":
            return True, f"no server was leader during {span}"
        return True, f"the commit index stayed at {self.base if self.base is not None else sim.committed} during {span}"


class _AtEnd(_Monitor):
    """Expectations judged on the final state."""

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        kind, value = self.e.kind, self.e.value
        note = f" (the run stopped at {format_ms(sim.now)})" if stopped else ""
        if kind == "committed_at_least":
            n = sim.committed
            return n >= value, f"commit index reached {n}, need >= {value}{note}"  # type: ignore[operator]
        if kind == "acked_at_least":
            n = sim.acked()
            return n >= value, f"{n} client commands acknowledged, need >= {value}{note}"  # type: ignore[operator]
        if kind in ("min_elections", "max_elections"):
            n = len(sim.elections)
            ok = n >= value if kind == "min_elections" else n <= value  # type: ignore[operator]
            need = ">=" if kind == "min_elections" else "<="
            return ok, f"{n} leader(s) elected, need {need} {value}{note}"
        if kind == "max_term":
            term = max(max(s.storage.term, s.state.term if s.alive else 0) for s in sim.servers.values())
            return term <= value, f"highest term reached {term}, need <= {value}{note}"  # type: ignore[operator]
        if kind == "clients_complete":
            issued = sum(c.seq for c in sim.clients.values())
            pending = sim.pending_commands()
            if pending:
                waiting = ", ".join(
                    f"{name} #{c.seq} (since {format_ms(c.sent_at)})"
                    for name, c in sim.clients.items()
                    if c.outstanding is not None
                )
                return False, f"{pending} of {issued} commands never acknowledged: {waiting}{note}"
            return True, f"all {issued} commands acknowledged{note}"
        if kind == "leader_at_end":
            found = sim.established_leader()
            if found is None:
                return False, f"no leader followed by a majority at the end, need node {value}{note}"
            leader, term = found
            return leader == value, f"node {leader} leads (term {term}) at the end, need node {value}{note}"
        if kind == "state_machines_agree":
            if sim.state_machines_agree():
                return True, f"every live server's state machine is the same{note}"
            return False, f"live servers' state machines differ: {sim.state_text()}{note}"
        if kind == "latency_p99_below":
            lat = sim.latencies()
            if not lat:
                return False, f"no client command completed{note}"
            p99 = percentile(lat, 99)
            return (
                p99 < value,
                f"p99 latency {format_ms(p99)} over {len(lat)} commands, need < {format_ms(value)}{note}",
            )  # type: ignore[arg-type,operator]
        # violation
        if stopped is None:
            return False, f"no invariant was violated in {format_ms(sim.now)}"
        if value in ("any", stopped.property):
            return True, f"{stopped.property} violated at {format_ms(stopped.time)}, as expected"
        return False, f"expected {value}, but {stopped.property} was violated at {format_ms(stopped.time)}"


def monitor_for(e: Expectation, s: Scenario) -> _Monitor:
    if e.kind == "leader_within":
        return _LeaderWithin(e, s)
    if e.kind == "logs_converge_by":
        return _LogsConverge(e, s)
    if e.kind in ("no_leader", "no_commit"):
        return _Interval(e, s)
    return _AtEnd(e, s)


def percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]
