"""Expectation monitors: each judges one ``[[expect]]`` of a scenario, watching the run event by event."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim.check.safety import Violation
from sim.scenario.model import Expectation, Scenario
from sim.units import format_ms
from sim.world.conditions import State, kinds_of
from sim.world.faults import Fault
from sim.world.names import Names

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


class _Monitor:
    """Judges one expectation. ``event`` runs after every simulation event while ``active``; ``finish`` gives
    (passed, why) once the run has ended (``stopped`` is the violation that ended it early, if any)."""

    active = False
    names: Names | None = None  # what the run's events and steps bind (``monitor_for`` sets it)

    def __init__(self, e: Expectation, s: Scenario) -> None:
        self.e = e
        self.s = s

    def event(self, sim: Simulation) -> None:
        pass

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        raise NotImplementedError


def _latest(f: Fault) -> int:
    """The latest time a fault may fire: with a guard, its last repetition (every gap the longest) and its undo."""
    g = f.guard
    if g is None:
        return f.at
    last = f.at + (g.count - 1) * (g.every[1] if g.every else 0)
    return last + max((then.at for then in g.then), default=0)


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
        last = max((_latest(f) for f in s.faults), default=0)
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
        if cand is None and now > self.deadline:
            # The state before this event, without a leader, held through the deadline: whatever this event
            # brings comes too late (even when no other event happened in between).
            self._fail(sim)
            return
        found = sim.established_leader()
        if found is None:
            self.candidate = None
        elif cand is None or (cand[0], cand[1]) != found:
            self.candidate = (found[0], found[1], max(now, self.ref))
            if now > self.deadline:
                self.candidate = None  # another leader took over after the window: too late as well
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
        members = sim.members()
        live = {i: s for i, s in live.items() if i in members}  # a removed or joining server need not converge
        commits = ", ".join(f"{i}:{s.state.commit}" for i, s in live.items())
        behind = [i for i, s in live.items() if s.state.commit < base]
        if behind:
            return False, (
                f"at {format_ms(self.t)} node(s) {', '.join(map(str, behind))} had not committed index {base} "
                f"(committed somewhere by {format_ms(self.base_time)}); commit indexes {commits}{note}"
            )
        # A server whose snapshot covers the base holds the committed log there (SnapshotIntegrity says so).
        terms = {s.term_at(base) for s in live.values() if s.snapshot_index <= base} if base else {0}
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
            if self.e.among == "connected":
                off = sim.network.disconnected()
                leaders = [n for n in leaders if n not in off]
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
            among = "connected server" if self.e.among == "connected" else "server"
            return True, f"no {among} was leader during {span}"
        return True, f"the commit index stayed at {self.base if self.base is not None else sim.committed} during {span}"


class _Messages(_Monitor):
    """max_messages / min_messages: the messages of some kinds sent between two moments, each a time (the counts
    are read when the run gets there) or a name's moment (the counts it keeps), by default the run's start and
    end."""

    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        self.kinds = [k for kind in (e.kinds or ("all",)) for k in kinds_of(kind)]
        self.first: dict[str, int] | None = {} if e.start is None and e.start_name is None else None
        self.last: dict[str, int] | None = None

    def event(self, sim: Simulation) -> None:
        e = self.e
        if self.first is None and e.start is not None and _at_or_after(sim, e.start):
            self.first = sim.network.sent()
        if self.last is None and e.end is not None and _at_or_after(sim, e.end):
            self.last = sim.network.sent()
        if (e.start is None or self.first is not None) and (e.end is None or self.last is not None):
            self.active = False

    def _counts(self, sim: Simulation, t: int | None, name: str | None, read: dict[str, int] | None) -> dict[str, int]:
        if name is not None:
            state = self.names.state(name) if self.names is not None else None
            if state is None:
                raise _NotJudged(f"@{name} was never bound (its event or step did not happen)")
            return state.messages
        if read is None:
            if t is None:
                return sim.network.sent()  # to the end of the run
            raise _NotJudged(f"the run stopped at {format_ms(sim.now)}, before {format_ms(t)}")
        return read

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        e = self.e
        try:
            first = self._counts(sim, e.start, e.start_name, self.first if e.start is not None else {})
            last = self._counts(sim, e.end, e.end_name, self.last)
        except _NotJudged as why:
            return False, f"not judged: {why}"
        n = sum(last.get(k, 0) - first.get(k, 0) for k in self.kinds)
        what = ", ".join(e.kinds) if e.kinds else "all"
        ok = n <= e.value if e.kind == "max_messages" else n >= e.value  # type: ignore[operator]
        need = "<=" if e.kind == "max_messages" else ">="
        return ok, f"{n} messages ({what}) sent {self._span(sim)}, need {need} {e.value}"

    def _span(self, sim: Simulation) -> str:
        e = self.e

        def at(t: int | None, name: str | None, default: str) -> str:
            if name is not None:
                when = self.names.time(name) if self.names is not None else None
                return f"@{name}" + (f" ({format_ms(when)})" if when is not None else "")
            return format_ms(t) if t is not None else default

        if e.start is None and e.start_name is None and e.end is None and e.end_name is None:
            return f"in the whole run ({format_ms(sim.now)})"
        return f"between {at(e.start, e.start_name, 'the start')} and {at(e.end, e.end_name, 'the end')}"


class _NotJudged(Exception):
    pass


class _Moment(_Monitor):
    """committed_at_least (with ``on`` or ``at``), is_leader, not_leader: the state at a time (``start``), or at
    the end of the run."""

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        self.active = e.start is not None
        self.result: tuple[bool, str] | None = None

    def event(self, sim: Simulation) -> None:
        assert self.e.start is not None
        if _at_or_after(sim, self.e.start):
            self.result = self.judge(sim, f"at {format_ms(self.e.start)}")
            self.active = False

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        if self.e.start is None:
            note = f" (the run stopped at {format_ms(sim.now)})" if stopped else ""
            return self.judge(sim, f"at the end{note}")
        if self.result is None:
            return False, _not_reached(sim, self.e.start, stopped)
        return self.result

    def judge(self, sim: Simulation, when: str) -> tuple[bool, str]:
        e = self.e
        state = State.of(sim)
        if e.kind == "committed_at_least":
            index = int(e.value)  # type: ignore[call-overload]
            if e.servers is None:
                return sim.committed >= index, f"commit index {sim.committed} {when}, need >= {index}"
            commits = state.commits()
            have = sorted(i for i, c in commits.items() if c >= index)
            shown = ", ".join(f"{i}:{c}" for i, c in commits.items())
            return (
                len(have) >= e.servers,
                f"{len(have)} live server(s) had committed index {index} {when}, need >= {e.servers} "
                f"(commit indexes {shown})",
            )
        node = e.value
        if isinstance(node, str):
            bound = self.names.nodes(node[1:]) if self.names is not None else None
            if not bound or len(bound) != 1:
                what = "not bound" if bound is None else f"bound to {len(bound)} servers"
                return False, f"{node} is {what} {when}; it must name one server"
            node = bound[0]
        n = int(node)  # type: ignore[call-overload]
        leads = state.leads(n)
        role = state.role[n] or "crashed"
        name = f"{e.value} (node {n})" if isinstance(e.value, str) else f"node {n}"
        ok = leads if e.kind == "is_leader" else not leads
        term = f", term {state.term[n]}" if state.alive[n] else ""
        return ok, f"{name} was {role} {when}{term}"


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
        if kind == "snapshots_installed_at_least":
            n = sim.snapshots_installed
            return n >= value, f"{n} snapshot(s) installed from a leader, need >= {value}{note}"  # type: ignore[operator]
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
        if kind == "members_at_end":
            members = sim.members()
            index = sim.committed_configuration[0]
            ok = len(members) == value if isinstance(value, int) else set(members) == set(value)  # type: ignore[arg-type]
            where = f"committed at index {index}" if index else "the initial one"
            return ok, f"members {', '.join(map(str, sorted(members)))} (the configuration {where}){note}"
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


def monitor_for(e: Expectation, s: Scenario, names: Names | None = None) -> _Monitor:
    m = _monitor_for(e, s)
    m.names = names
    return m


def _monitor_for(e: Expectation, s: Scenario) -> _Monitor:
    if e.kind in ("max_messages", "min_messages"):
        return _Messages(e, s)
    if e.kind in ("is_leader", "not_leader") or (
        e.kind == "committed_at_least" and (e.start is not None or e.servers is not None)
    ):
        return _Moment(e, s)
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
