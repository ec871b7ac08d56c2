"""Both checkers on Simulations whose nodes break one rule each, for the properties the sim.nodes.bugs catalog does
not reach (LeaderAppendOnly, LogMatching, CommitMonotonic, AckedDurable). The broken nodes are defined here and
swapped into the servers before the run starts; each test asserts that the incremental checker and the
reference checker name the property, at the same event.
"""

from __future__ import annotations

import pytest

from sim.check.reference import ReferenceChecker
from sim.raft import LEADER, ClientReply, ClientRequest, Entry, Node
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.network import Fixed


class LeaderDropsItsLastEntry(Node):
    """On each heartbeat a leader deletes its last entry: LeaderAppendOnly."""

    def _on_heartbeat_timer(self) -> None:
        if self.log.last_index >= 3:
            self.log.truncate_from(self.log.last_index)
            self._mark_log(self.log.last_index + 1)
            self.commit = min(self.commit, self.log.last_index)
            self.last_applied = min(self.last_applied, self.commit)
        super()._on_heartbeat_timer()


class FollowerRenumbersCommands(Node):
    """A follower stores every command it receives with another sequence number: same index and term as the
    leader's entry, different content. LogMatching."""

    def _merge_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        changed = tuple(Entry(e.term, e.command.replace(seq=e.command.seq + 1000)) if e.command else e for e in entries)
        super()._merge_entries(prev, changed)


class LeaderForgetsItsCommitIndex(Node):
    """On each heartbeat a leader lowers its commit index by one: CommitMonotonic."""

    def _on_heartbeat_timer(self) -> None:
        if self.commit >= 3:
            self.commit -= 1
            self.last_applied = min(self.last_applied, self.commit)
        super()._on_heartbeat_timer()


class LeaderAcksOnAppend(Node):
    """A leader tells the client its command is done as soon as it appends it: AckedDurable."""

    def _on_client_request(self, m: ClientRequest) -> None:
        before = self.log.last_index
        super()._on_client_request(m)
        if self.role == LEADER and self.log.last_index > before:
            c = m.command
            self._send(ClientReply(self.id, m.src, c.seq, True, c.value, None, self.log.last_index))


@pytest.mark.parametrize(
    ("node_class", "prop"),
    [
        (LeaderDropsItsLastEntry, "LeaderAppendOnly"),
        (FollowerRenumbersCommands, "LogMatching"),
        (LeaderForgetsItsCommitIndex, "CommitMonotonic"),
        (LeaderAcksOnAppend, "AckedDurable"),
    ],
)
def test_both_checkers_name_the_broken_property_at_the_same_event(node_class: type[Node], prop: str) -> None:
    sim = Simulation(
        ClusterConfig(nodes=3),
        NetworkConfig(delay=Fixed(5_000)),
        WorkloadConfig(clients=2, rate=50),
        seed=5,
    )
    for i, server in sim.servers.items():
        server.node_class = node_class
        sim.restart(i)  # at time 0: every server runs the broken node from the start
    ref = ReferenceChecker(sim)
    v = sim.run(3_000_000, after_event=ref.check)
    assert v is not None, f"{node_class.__name__} went unnoticed"
    ref.check(sim)
    r = ref.violation
    assert r is not None
    assert (v.property, r.property) == (prop, prop)
    assert v.event == r.event


def test_reference_requires_the_trace() -> None:
    with pytest.raises(ValueError, match="trace"):
        ReferenceChecker(Simulation(trace=False))


def test_reference_checks_each_event_once() -> None:
    sim = Simulation(seed=1)
    ref = ReferenceChecker(sim)
    sim.run(500_000, after_event=ref.check)
    assert ref.checked_events == sim.events
    ref.check(sim)  # the same event again: nothing new
    assert ref.violation is None and ref.checked_events == sim.events
    assert ref.leaders and all(len(who) == 1 for who in ref.leaders.values())
    assert len(ref.committed) == sim.committed


def test_disjoint_majorities_counts_what_enumerating_every_pair_finds() -> None:
    """The reference's count of disjoint majorities against the enumeration of every pair, for every pair of voter
    sets drawn from six servers."""
    from itertools import combinations

    from sim.check.reference import _disjoint_majorities
    from sim.raft.quorum import Configuration

    def majorities(voters: tuple[int, ...]) -> list[set[int]]:
        return [set(q) for q in combinations(voters, len(voters) // 2 + 1)]

    sets = [c for k in range(1, 7) for c in combinations(range(1, 7), k)]
    for a in sets:
        for b in sets:
            enumerated = any(not qa & qb for qa in majorities(a) for qb in majorities(b))
            assert _disjoint_majorities(Configuration(a), Configuration(b)) == enumerated, (a, b)
