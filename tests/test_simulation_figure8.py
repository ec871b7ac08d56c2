"""The paper's Figure 8 played out in a full Simulation, steered by partitions and crashes chosen from the
cluster's state after each event (every leader also appends a no-op, Section 8).

(a) Leader A, cut off with one follower B, appends X at index n+1; X reaches B only.
(b) A crashes; the majority elects C, whose no-op (term t2) at n+1 reaches nobody; C crashes.
(c) A or B wins term t3 and copies X to D: X is on a majority, the no-op of t3 is not.
(d) That leader crashes; C restarts and wins with votes from D and E (their last term t1 < t2).

The correct protocol never commits X by counting replicas in (c), so C may overwrite it in (d). The
``figure8-commit`` bug commits it, and C's election breaks Leader Completeness. Both the incremental checker
and the reference checker must say so, at the same event.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.check.reference import ReferenceChecker
from sim.check.safety import Violation
from sim.raft import LEADER, ClientRequest, Command, Node, RaftConfig
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.network import Fixed

MS = 1_000


class Reached(Exception):
    pass


class Driver:
    def __init__(self, bug: str | None) -> None:
        self.sim = Simulation(
            ClusterConfig(nodes=5, raft=RaftConfig(max_batch=1), bug=bug),
            NetworkConfig(delay=Fixed(5 * MS)),
            # Idle clients: they only receive the replies to the command injected below.
            WorkloadConfig(clients=1, rate=1, stop=0),
            seed=3,
        )
        self.ref = ReferenceChecker(self.sim)

    def until(self, cond: Callable[[], bool], within: int, on_event: Callable[[], None] | None = None) -> bool:
        """Run until ``cond()`` holds after an event (True), or until a violation stops the run (False)."""
        sim = self.sim

        def after(s: Simulation) -> None:
            self.ref.check(s)
            if on_event is not None:
                on_event()
            if cond():
                raise Reached

        try:
            v = sim.run(sim.now + within, after_event=after)
        except Reached:
            return True
        assert v is not None, "the situation was not reached"
        self.ref.check(sim)  # the run stopped before showing the reference the violating event
        return False

    def node(self, i: int) -> Node:
        node = self.sim.servers[i].node
        assert node is not None
        return node

    def leader_among(self, ids: tuple[int, ...]) -> int | None:
        for i in ids:
            n = self.sim.servers[i].node
            if n is not None and n.role == LEADER:
                return i
        return None


def play(bug: str | None) -> tuple[Driver, Violation | None]:
    d = Driver(bug)
    sim = d.sim
    ids = tuple(sim.servers)
    assert d.until(lambda: sim.leader() is not None and all(d.node(i).commit >= 1 for i in ids), 2_000 * MS)
    a = sim.leader()
    assert a is not None
    n = d.node(a).log.last_index
    b, c, dd, e = (i for i in ids if i != a)
    # (a) A and B cut off; X reaches B only.
    sim.partition([[a, b]])
    sim.servers[a].deliver(ClientRequest("c1", a, Command("c1", 1, "put", "k", "X")))
    assert d.until(lambda: d.node(b).log.last_index == n + 1, 200 * MS)
    x = d.node(a).log.entry(n + 1)
    t1 = x.term
    # (b) A crashes; the first of C, D, E to lead is cut off at once (its no-op goes nowhere) and crashes.
    sim.crash(a)
    assert d.until(lambda: d.leader_among((c, dd, e)) is not None, 2_000 * MS)
    c = d.leader_among((c, dd, e))  # type: ignore[assignment]
    dd, e = (i for i in ids if i not in (a, b, c))
    sim.partition([[a], [b], [c]])
    sim.crash(c)
    assert d.sim.servers[c].storage.entries[n].term > t1  # C's no-op is durable at n+1
    # (c) A restarts; A or B wins term t3 and sends X to D and E; once one of them holds X, both links are cut
    # so that the t3 no-op (sent right after, one entry per message) does not follow.
    sim.heal()
    sim.partition([[c]])
    sim.restart(a)
    assert d.until(lambda: d.leader_among((a, b)) is not None, 3_000 * MS)
    l3 = d.leader_among((a, b))
    twin = b if l3 == a else a
    cut = False

    def watch() -> None:
        nonlocal cut
        node = sim.servers[l3].node
        if cut or node is None or node.role != LEADER:
            return
        if any(node.progress[p].match >= n + 1 for p in (dd, e)):
            sim.cut(l3, dd)
            sim.cut(l3, e)
            cut = True

    if not d.until(lambda: cut, 500 * MS, on_event=watch):
        return d, sim.violation
    holders = [i for i in (l3, twin, dd, e) if d.node(i).log.last_index >= n + 1 and d.node(i).log.entry(n + 1) == x]
    assert len(holders) >= 3  # X, of term t1, is on a majority of the five servers
    l3_node = d.node(l3)
    if bug is None:
        assert l3_node.commit <= n  # not committed by counting: its term is not the leader's (Section 5.4.2)
    # (d) L3 crashes; C restarts (the twin, whose log ends in t3, stays cut off) and wins with D and E.
    sim.crash(l3)
    sim.heal()
    sim.partition([[twin]])
    sim.restart(c)
    if not d.until(lambda: d.leader_among((c, dd, e)) is not None, 3_000 * MS):
        return d, sim.violation
    assert d.leader_among((c, dd, e)) == c
    return d, sim.violation


def test_figure8_correct_protocol_overwrites_the_uncommitted_entry_safely() -> None:
    d, v = play(None)
    assert v is None and d.ref.violation is None
    sim = d.sim
    sim.heal()
    for i, s in sim.servers.items():
        if not s.alive:
            sim.restart(i)
    assert sim.run(sim.now + 2_000 * MS, after_event=d.ref.check) is None
    assert d.ref.violation is None
    logs = {tuple(s.node.log.entries()) for s in sim.servers.values() if s.node is not None}
    assert len(logs) == 1
    (log,) = logs
    assert not any(e.command and e.command.value == "X" for e in log)  # X was overwritten everywhere


def test_figure8_bug_is_caught_by_both_checkers_at_the_same_event() -> None:
    d, v = play("figure8-commit")
    assert v is not None and d.ref.violation is not None
    assert v.property == "LeaderCompleteness"
    assert d.ref.violation.property == "LeaderCompleteness"
    assert v.event == d.ref.violation.event
