"""Membership changes in the pure core (sim.raft.membership and the node's use of it), driven by hand through
``ManualNet``: one server at a time (thesis Chapter 4), a new server caught up before it votes (4.2.1), the
configuration used as soon as it is in a log, a removed leader stepping down (4.2.2), removed servers kept from
disrupting (4.2.3), and the 2015 bug played out step by step as Ongaro's raft-dev post describes it."""

from __future__ import annotations

import itertools
import random

import pytest
from conftest import CONFIG, ManualNet
from hypothesis import given
from hypothesis import strategies as st

from sim.nodes.bugs import ConcurrentConfigChanges, ConfigBeforeTermCommit
from sim.raft import (
    CANDIDATE,
    ELECTION,
    FOLLOWER,
    LEADER,
    AppendEntries,
    Configuration,
    Entry,
    InstallSnapshot,
    Node,
    PersistentState,
    RaftConfig,
    RequestVote,
)
from sim.raft.membership import (
    MAX_ROUNDS,
    CatchUp,
    ConfigurationLog,
    changed,
    share_quorum,
)
from sim.raft.messages import ConfigEntry, MembershipReply


def cfg(*voters: int) -> Configuration:
    return Configuration(voters)


def replies(net: ManualNet) -> list[tuple[int, str]]:
    """(seq, status) of every MembershipReply the operator got so far, in order."""
    return [(m.seq, m.status) for m in net.client_replies if isinstance(m, MembershipReply)]


def configured(net: ManualNet, i: int) -> tuple[int, ...]:
    return net.node(i).configuration.voters


def elected(n: int = 3, node_class: type[Node] = Node) -> ManualNet:
    """A cluster of ``n`` with node 1 leading term 1 and its no-op committed everywhere."""
    net = ManualNet(n, node_class=node_class)
    net.elect(1)
    net.heartbeat(1)
    net.settle()
    assert all(net.node(i).commit == 1 for i in net.ids)
    return net


# ------------------------------------------------------------------------------------------- the values


def test_changed_adds_at_the_end_and_removes_in_place() -> None:
    assert changed(cfg(1, 2, 3), "add", 4) == cfg(1, 2, 3, 4)
    assert changed(cfg(1, 2, 3), "remove", 2) == cfg(1, 3)
    assert changed(cfg(1, 2, 3), "add", 2) == cfg(1, 2, 3)  # already a member: nothing to change
    assert changed(cfg(1, 2, 3), "remove", 9) == cfg(1, 2, 3)
    with pytest.raises(ValueError):
        changed(cfg(1), "swap", 2)


def majorities(c: Configuration) -> list[set[int]]:
    q = len(c.voters) // 2 + 1
    return [set(s) for s in itertools.combinations(c.voters, q)]


def share_quorum_brute(a: Configuration, b: Configuration) -> bool:
    """Every majority of a meets every majority of b, by enumerating them all."""
    if not a.voters or not b.voters:
        return False
    return all(qa & qb for qa in majorities(a) for qb in majorities(b))


@given(st.sets(st.integers(1, 8), max_size=7), st.sets(st.integers(1, 8), max_size=7))
def test_share_quorum_agrees_with_enumerating_every_majority(a: set[int], b: set[int]) -> None:
    ca, cb = cfg(*sorted(a)), cfg(*sorted(b))
    assert share_quorum(ca, cb) == share_quorum_brute(ca, cb)


def test_share_quorum_on_the_cases_of_the_2015_post() -> None:
    four = cfg(1, 2, 3, 4)
    assert share_quorum(four, cfg(1, 2, 3, 4, 5)) and share_quorum(four, cfg(1, 2, 3))  # one step: always
    assert not share_quorum(cfg(1, 2, 3, 4, 5), cfg(1, 2, 3))  # one add, one remove from an even cluster
    assert not share_quorum(cfg(1, 2, 3, 4, 5), cfg(1, 2, 3, 4, 6))  # two adds
    assert not share_quorum(cfg(1, 2, 3), cfg(1, 2, 4))  # two removes
    assert share_quorum(cfg(1, 2, 3, 4), cfg(1, 2, 3, 5))  # siblings of an odd cluster still meet
    assert not share_quorum(cfg(1, 2, 3), cfg(1, 2, 3, 4, 5))  # two steps
    assert not share_quorum(cfg(), cfg(1))  # an empty configuration decides nothing
    with pytest.raises(ValueError):
        share_quorum(Configuration((1, 2), (1, 3)), cfg(1))


def test_configuration_log_follows_appends_and_truncations() -> None:
    log = ConfigurationLog(cfg(1, 2, 3))
    assert (log.index, log.current, log.previous()) == (0, cfg(1, 2, 3), None)
    assert not log.scan(1, (Entry(1), Entry(1)))
    assert log.scan(3, (Entry(1), ConfigEntry(1, cfg(1, 2, 3, 4)), Entry(1), ConfigEntry(2, cfg(1, 2, 4))))
    assert (log.index, log.current, log.previous()) == (6, cfg(1, 2, 4), cfg(1, 2, 3, 4))
    assert log.committed(5) == (4, cfg(1, 2, 3, 4)) and log.committed(3) == (0, cfg(1, 2, 3))
    assert not log.truncated(7)
    assert log.truncated(5)  # the newest goes: the one before is back in force
    assert (log.index, log.current) == (4, cfg(1, 2, 3, 4))
    assert log.truncated(1) and (log.index, log.current) == (0, cfg(1, 2, 3))
    assert not log.truncated(1)  # the base is never lost
    log.scan(4, (ConfigEntry(1, cfg(1, 2)),))
    log.rebase(5, cfg(1, 2))  # a snapshot through 5
    assert log.entries == [(5, cfg(1, 2))]


def test_catch_up_ends_with_a_round_shorter_than_the_timeout() -> None:
    c = CatchUp(now=0, last_index=100, timeout=150, limit=3000)
    assert c.step(50, 120, 100) is None  # halfway through round 1
    assert c.step(100, 130, 200) is None  # round 1 took 200 >= 150: round 2, to 130
    assert (c.rounds, c.target, c.round_start) == (2, 130, 200)
    assert c.step(130, 131, 300) is True  # round 2 took 100 < 150


def test_catch_up_gives_up_after_max_rounds_or_its_time_limit() -> None:
    c = CatchUp(now=0, last_index=10, timeout=150, limit=1_000_000)
    t = 0
    for k in range(1, MAX_ROUNDS):
        t += 200  # every round too slow: the leader's log grows as fast as the server catches up
        assert c.step(c.target, c.target + 10, t) is None, k
    assert c.step(c.target, c.target + 10, t + 200) is False
    slow = CatchUp(now=0, last_index=10, timeout=150, limit=3000)
    assert slow.step(0, 10, 2999) is None
    assert slow.step(3, 10, 3001) is False  # the server is down, or cannot keep up


# ------------------------------------------------------------------------------------------- adding


def test_a_new_server_is_caught_up_then_added_and_the_change_commits() -> None:
    net = elected(3)
    for k in range(5):
        net.request(1, "c1", k + 1)
    net.settle()
    net.join(4)
    assert configured(net, 4) == ()  # it knows no configuration yet
    net.change(1, "add", 4)
    # The leader replicates to 4 before 4 is a member: 4 is not in the configuration yet anywhere.
    assert configured(net, 1) == (1, 2, 3) and 4 in net.node(1).peers
    net.settle(among=[1, 4])
    # Caught up within one round (no time passed): the leader appended the configuration that adds 4, uses it,
    # and sent it to 4 as well (the no-op, five commands, the configuration).
    assert configured(net, 1) == configured(net, 4) == (1, 2, 3, 4)
    assert isinstance(net.node(1).log.entry(7), ConfigEntry) and net.node(4).log.last_index == 7
    assert replies(net) == []  # not committed: 2 and 3 have not heard of it
    net.settle()
    assert net.node(1).commit == 7 and replies(net) == [(1, "ok")]
    assert all(configured(net, i) == (1, 2, 3, 4) for i in (2, 3, 4))
    assert net.checker.violation is None


def test_the_configuration_is_used_as_soon_as_it_is_in_the_log_and_a_truncation_reverts_it() -> None:
    net = elected(5)
    net.join(6)
    net.change(1, "add", 6)
    net.settle(among=[1, 6])
    # Only node 2 receives the new configuration: it uses it before it commits (thesis 4.1).
    net.deliver(type="AppendEntries", dst=2)
    assert configured(net, 2) == (1, 2, 3, 4, 5, 6) and net.node(2).commit == 1
    assert net.configurations[2] == (2, cfg(1, 2, 3, 4, 5, 6))  # and reports it in its Output
    # Node 1 fails before anyone else hears of it; 3 is elected without it and overwrites index 2 on node 2.
    net.crash(1)
    net.take()
    net.timeout(3)
    net.settle(among=[3, 4, 5])
    assert net.node(3).role == LEADER
    net.settle(among=[2, 3])
    assert net.node(2).log.term_at(2) == net.node(3).term
    assert configured(net, 2) == (1, 2, 3, 4, 5)  # the entry was deleted: back to the configuration before
    assert net.configurations[2] == (0, cfg(1, 2, 3, 4, 5))
    assert net.checker.violation is None


def test_a_new_server_does_not_campaign_until_it_is_a_voter() -> None:
    net = elected(3)
    net.join(4)
    out = net.timeout(4)
    assert net.node(4).role == FOLLOWER and not out.messages  # not a voter of its (empty) configuration
    assert [t for t, _ in out.timers] == [ELECTION]  # its timer is re-armed: once a voter, it may campaign
    net.change(1, "add", 4)
    net.settle()
    net.crash(1)
    net.timeout(4)
    assert net.node(4).role == CANDIDATE  # now a voter


def test_a_catch_up_that_gets_nowhere_is_abandoned() -> None:
    net = elected(3)
    net.join(4)
    net.crash(4)  # never answers
    net.change(1, "add", 4)
    net.now += MAX_ROUNDS * CONFIG.election_timeout_max - 1
    net.heartbeat(1)
    assert replies(net) == []
    net.now += 2
    net.heartbeat(1)
    assert replies(net) == [(1, "timeout")]
    assert 4 not in net.node(1).peers and net.node(1).change is None
    net.change(1, "remove", 3, seq=2)  # the leader is free for the next change
    net.settle()
    assert replies(net)[-1] == (2, "ok") and configured(net, 1) == (1, 2)


def test_a_slow_first_round_is_followed_by_another() -> None:
    net = elected(3)
    net.join(4)
    net.change(1, "add", 4)
    net.deliver(dst=4)
    net.now += CONFIG.election_timeout_min  # the first round takes as long as an election timeout
    net.request(1, "c1", 1)  # the leader's log grows meanwhile
    net.settle(among=[1, 4])
    assert net.node(1).configuration.voters == (1, 2, 3, 4)  # the second round was quick
    assert net.node(4).log.last_index == 3  # no-op, command, and the configuration


# ------------------------------------------------------------------------------------------- one at a time


def test_one_change_at_a_time_the_others_are_refused_until_it_commits() -> None:
    net = elected(3)
    net.join(4)
    net.join(5)
    net.change(1, "add", 4, seq=1)
    net.change(1, "add", 5, seq=2)  # refused while 4 is being caught up ...
    net.settle(among=[1, 4])  # 4 caught up; {1, 2, 3, 4} appended, not committed (2 and 3 have not heard)
    assert configured(net, 1) == (1, 2, 3, 4)
    net.change(1, "add", 5, seq=2)  # ... and while {1, 2, 3, 4} is on its way to commit
    assert replies(net) == [(2, "busy"), (2, "busy")]
    net.settle()
    assert replies(net)[-1] == (1, "ok")
    net.change(1, "add", 5, seq=2)  # the operator's next try is taken
    net.settle()
    assert configured(net, 1) == (1, 2, 3, 4, 5) and replies(net)[-1] == (2, "ok")
    assert net.checker.violation is None


def test_repeated_and_idempotent_requests() -> None:
    net = elected(3)
    net.change(2, "remove", 3, seq=1)
    assert replies(net) == [(1, "not_leader")]
    assert net.client_replies[-1].leader_hint == 1
    net.change(1, "remove", 3, seq=2)
    net.change(1, "remove", 3, seq=2)  # a retry of the change on its way: answered once, when it commits
    net.settle()
    net.change(1, "remove", 3, seq=3)  # already so and committed: ok at once
    net.change(1, "add", 2, seq=4)  # 2 is a member
    assert replies(net)[1:] == [(2, "ok"), (3, "ok"), (4, "ok")]
    net.change(1, "remove", 2, seq=5)
    net.settle()
    net.change(1, "remove", 1, seq=6)
    assert replies(net)[-2:] == [(5, "ok"), (6, "invalid")]  # never down to no voter at all


# ------------------------------------------------------------------------------------------- removing


def test_a_removed_leader_steps_down_once_the_change_commits_and_never_campaigns() -> None:
    net = elected(3)
    net.change(1, "remove", 1)
    leader = net.node(1)
    assert configured(net, 1) == (2, 3) and leader.role == LEADER  # leads a cluster it is not in
    net.request(1, "c1", 1)
    net.deliver(type="AppendEntries", dst=2)
    net.deliver(type="AppendEntriesReply", src=2)
    # Only {1, 2} hold the new entries: 1 does not count itself, so nothing after the change commits yet.
    assert leader.role == LEADER and leader.commit == 1
    net.settle()
    # It stepped down as soon as {2, 3} committed the change (the command after it is the next leader's to commit).
    assert leader.role == FOLLOWER and replies(net) == [(1, "ok")] and leader.commit == 2
    net.timeout(1)
    assert leader.role == FOLLOWER  # not a voter of its configuration: it stays out
    net.elect(2)
    assert net.checker.violation is None


def test_a_leader_cut_off_while_removing_itself_campaigns_to_finish_the_change() -> None:
    """Found by the fuzzer: on {1, 2}, leader 1 appends {2} and is cut off before 2 hears of it. 2 cannot win
    (1 holds the longer log and refuses), so 1 must stand for election although its configuration excludes it:
    not known to be committed, it may still be undone. It wins with 2's vote (the one voter of {2}), commits the
    change, and steps down; then 2 leads."""
    net = elected(3)
    net.change(1, "remove", 3, seq=1)
    net.settle()
    net.change(1, "remove", 1, seq=2)
    net.take()  # lost: 2 never hears of {2}
    assert configured(net, 1) == (2,) and configured(net, 2) == (1, 2)
    net.timeout(2)
    net.settle(among=[1, 2])
    assert net.node(2).role == CANDIDATE and net.node(1).role == FOLLOWER  # 1 refused: its log is longer
    net.timeout(1)
    net.settle(among=[1, 2])
    assert net.node(1).role == FOLLOWER and net.node(1).commit == 4  # led, committed {2}, stepped down
    assert configured(net, 2) == (2,)
    net.timeout(1)
    assert net.node(1).role == FOLLOWER  # its removal is committed: it stays out
    net.elect(2)
    net.change(2, "remove", 1, seq=2)  # the operator's retry (the first leader's answer went with its term)
    assert replies(net)[-1] == (2, "ok")
    assert net.checker.violation is None


def test_a_removed_server_hears_of_its_removal_and_stops_campaigning() -> None:
    net = elected(3)
    net.change(1, "remove", 3)
    net.settle()
    assert configured(net, 3) == (1, 2)  # replicated to 3 until the removal committed
    assert 3 not in net.node(1).peers
    out = net.timeout(3)
    assert not out.messages and net.node(3).role == FOLLOWER


def test_a_removed_server_that_never_heard_does_not_disrupt_the_leader() -> None:
    """Thesis 4.2.3: the removed server times out and asks for votes in a higher term; a server that heard from
    its leader within the minimum election timeout ignores it (CheckQuorum and PreVote are off here)."""
    net = elected(3)
    net.change(1, "remove", 3)
    net.drop(dst=3)
    net.settle(among=[1, 2])  # {1, 2} commit the removal; 3 never hears of it
    assert configured(net, 3) == (1, 2, 3) and replies(net) == [(1, "ok")]
    net.timeout(3)
    assert net.node(3).role == CANDIDATE and net.node(3).term == 2
    net.deliver(type="RequestVote", src=3)
    assert (net.node(1).role, net.node(1).term, net.node(2).term) == (LEADER, 1, 1)  # ignored
    # Without word from a leader for longer than the minimum election timeout, a vote request counts again.
    net.now += CONFIG.election_timeout_min
    net.step(RequestVote(3, 3, 2, net.node(3).log.last_index, net.node(3).log.last_term))
    assert net.node(2).term == 3


def test_a_member_asking_for_votes_is_heard_as_before() -> None:
    net = elected(3)
    net.timeout(3)
    net.deliver(type="RequestVote", src=3, dst=2)
    assert net.node(2).term == 2  # the default behaviour is unchanged for members


def test_a_server_receiving_a_snapshot_knows_a_removed_server_by_the_snapshots_configuration() -> None:
    """Thesis 4.2.3, fuzz seeds 62390 and 87715: server 2's log predates the removal of 3, so 3 is a member of its
    configuration in force; but the snapshot its leader is sending it, whose configuration is committed, leaves 3
    out. 3's RequestVote, within the minimum election timeout of a chunk, is ignored: 2 keeps its term and the
    snapshot goes on (before, 2 took 3's term and deposed the leader, whose successor sent its snapshot from the
    start, over and over)."""
    node = Node(2, (1, 2, 3), CONFIG, random.Random(0))
    node.start(0)
    chunk = InstallSnapshot(1, 1, 2, 40, 1, 0, b"x" * 16, False, cfg(1, 2))
    node.step(chunk, 1_000)
    assert node.configuration.voters == (1, 2, 3) and node.leader_id == 1
    out = node.step(RequestVote(5, 3, 2, 30, 1), 2_000)
    assert (node.term, node.voted_for, out.messages) == (1, None, [])  # ignored, term and all
    # A member of both configurations is heard as before.
    node.step(RequestVote(2, 1, 2, 40, 1), 3_000)
    assert node.term == 2
    # Without word from a leader for the minimum election timeout, the removed server's request counts again.
    node.step(RequestVote(6, 3, 2, 30, 1), 3_000 + CONFIG.election_timeout_min)
    assert node.term == 6


# ------------------------------------------------------------------------------------------- the 2015 bug


def play_2015(node_class: type[Node]) -> ManualNet:
    """Ongaro's schedule (raft-dev, 2015), "one add, one remove" on four servers: S1 leads term 1 and adds S5, but
    only S5 hears of it before S1 fails; S2 wins term 2 with S3 and S4 and at once removes S4, replicating to S3
    only. The fix makes S2 wait until an entry of its own term is committed, which takes S4."""
    net = elected(4, node_class)
    net.join(5)
    net.change(1, "add", 5, seq=1)
    net.settle(among=[1, 5])
    assert configured(net, 1) == configured(net, 5) == (1, 2, 3, 4, 5)
    net.crash(1)
    net.drop(dst=1)
    net.drop(src=1)
    net.timeout(2)
    net.deliver(type="RequestVote", dst=3)
    net.deliver(type="RequestVote", dst=4)
    net.deliver(type="RequestVoteReply", dst=2)
    assert net.node(2).role == LEADER and net.node(2).term == 2
    net.drop(type="AppendEntries", src=2, dst=4)  # S4 hears nothing of term 2
    net.change(2, "remove", 4, seq=2)
    net.settle(among=[2, 3])
    return net


def test_2015_bug_correct_leader_waits_for_its_term_so_the_old_leader_cannot_come_back() -> None:
    net = play_2015(Node)
    assert configured(net, 2) == (1, 2, 3, 4)  # still waiting: its no-op needs 3 of {1, 2, 3, 4}
    net.heartbeat(2)
    net.settle(among=[2, 3, 4])
    assert configured(net, 2) == (1, 2, 3) and net.node(2).commit == 3
    net.restart(1)
    for _ in range(2):  # S1 campaigns with {1, 2, 3, 4, 5}, in term 2 then 3: S4 now holds term 2 and refuses
        net.timeout(1)
        net.settle(among=[1, 4, 5])
    assert net.node(1).role == CANDIDATE and net.node(1).term == 3
    assert net.checker.violation is None


def test_2015_bug_without_the_fix_two_configurations_without_a_common_quorum() -> None:
    net = play_2015(ConfigBeforeTermCommit)
    # S2 appended {1, 2, 3} before committing anything of term 2, while S1 and S5 hold {1, 2, 3, 4, 5}: a majority
    # of each, {2, 3} and {1, 4, 5}, do not meet. The checker says so at once ...
    v = net.checker.violation
    assert v is not None and v.property == "ConfigurationOverlap", v
    assert set(v.nodes) == {2, 1} or set(v.nodes) == {2, 5}
    # ... and the schedule goes on to what the post describes: {2, 3} commit the removal with S2's no-op ...
    s2, s3 = net.node(2), net.node(3)
    assert configured(net, 2) == (1, 2, 3) and s2.commit == 3 and s3.log.term_at(3) == 2
    net.heartbeat(2)
    net.settle(among=[2, 3])
    assert s3.commit == 3
    # ... S1 comes back and wins term 3 with S4 and S5, which never heard of term 2's entries (in term 2 S4 had
    # voted for S2) ...
    net.restart(1)
    for _ in range(2):
        net.timeout(1)
        net.settle(among=[1, 4, 5])
    s1 = net.node(1)
    assert s1.role == LEADER and s1.term == 3 and s1.log.term_at(2) == 1  # lacks committed index 2 (term 2)
    # ... and overwrites what S3 had committed.
    net.drop(type="AppendEntries", dst=2)
    net.settle(among=[1, 3])
    assert s3.log.term_at(2) == 1 and s3.log.term_at(3) != 2


def test_concurrent_changes_bug_two_changes_away_from_the_committed_configuration() -> None:
    net = elected(3, ConcurrentConfigChanges)
    net.join(4)
    net.join(5)
    net.change(1, "add", 4, seq=1)
    net.settle(among=[1, 4])
    net.change(1, "add", 5, seq=2)
    net.settle(among=[1, 4, 5])
    # {1, 2, 3, 4, 5} appended while {1, 2, 3, 4} is not committed; 2 and 3 still use {1, 2, 3}: a majority of
    # each, {2, 3} and {1, 4, 5}, do not meet.
    assert configured(net, 1) == (1, 2, 3, 4, 5) and configured(net, 2) == (1, 2, 3)
    v = net.checker.violation
    assert v is not None and v.property == "ConfigurationOverlap", v


# ------------------------------------------------------------------------------------------- restarts


def test_a_restarted_server_takes_its_configuration_from_its_log() -> None:
    net = elected(3)
    net.join(4)
    net.change(1, "add", 4)
    net.settle()
    for i in (1, 4):
        net.restart(i)
        assert configured(net, i) == (1, 2, 3, 4)
        assert net.configurations[i] == (2, cfg(1, 2, 3, 4))
    node = Node(4, (), CONFIG, random.Random(1), PersistentState(1, None, tuple(net.node(2).log.entries())))
    assert node.configuration == cfg(1, 2, 3, 4) and node.membership.index == 2


def test_a_joining_server_accepts_entries_from_any_leader() -> None:
    node = Node(9, (), CONFIG, random.Random(1))
    node.start(0)
    node.step(AppendEntries(3, 1, 9, 0, 0, (Entry(3), ConfigEntry(3, cfg(1, 2, 9))), 0), 10)
    assert (node.role, node.term, node.leader_id) == (FOLLOWER, 3, 1)
    assert node.configuration == cfg(1, 2, 9) and node.peers == (1, 2)


# ------------------------------------------------------------------------------------------- snapshots


def compacting(n: int = 3) -> ManualNet:
    """A cluster of ``n`` whose servers snapshot every 3 entries applied, node 1 leading term 1."""
    net = ManualNet(n, config=RaftConfig(snapshot_every=3))
    net.elect(1)
    net.heartbeat(1)
    net.settle()
    return net


def test_a_snapshot_holds_the_configuration_and_a_restart_restores_it() -> None:
    net = compacting(3)
    net.join(4)
    net.change(1, "add", 4)
    net.settle()
    for k in range(8):
        net.request(1, "c1", k + 1)
        net.settle()
    net.heartbeat(1)
    net.settle()
    for i in (1, 2, 4):
        node = net.node(i)
        assert node.snapshot is not None and node.log.snapshot_index > 2  # past the configuration entry at 2
        assert node.snapshot.configuration == cfg(1, 2, 3, 4)
        assert node.membership.entries == [(2, cfg(1, 2, 3, 4))]  # the entry at 2 compacted: the base now
    for i in (2, 4):
        net.restart(i)
        node = net.node(i)
        assert node.configuration == cfg(1, 2, 3, 4) and node.log.first_index > 3
        assert net.configurations[i] == (node.log.snapshot_index, cfg(1, 2, 3, 4))
    net.crash(1)
    net.elect(4)  # a voter only by its snapshot's configuration
    assert net.checker.violation is None


def test_an_installed_snapshot_brings_its_configuration() -> None:
    net = compacting(3)
    net.join(4)
    net.change(1, "add", 4, seq=1)
    net.settle()
    for k in range(8):
        net.request(1, "c1", k + 1)
        net.settle()
    assert net.node(1).log.snapshot_index > 2
    net.join(5)  # boots empty; the entries it needs are compacted: it gets the leader's snapshot
    net.change(1, "add", 5, seq=2)
    net.settle()
    five = net.node(5)
    assert five.snapshot is not None and five.snapshot.configuration == cfg(1, 2, 3, 4)
    assert five.configuration == cfg(1, 2, 3, 4, 5)  # then the entry that adds it, after the snapshot
    assert replies(net)[-1] == (2, "ok")
    assert net.checker.violation is None


def test_a_snapshot_taken_while_a_change_is_on_its_way_holds_the_committed_configuration() -> None:
    node = Node(1, (1, 2, 3), RaftConfig(snapshot_every=1), random.Random(1))
    node.start(0)
    node.membership.scan(5, (ConfigEntry(1, cfg(1, 2, 3, 4)),))
    assert node._snapshot_configuration(4) == cfg(1, 2, 3)  # as of index 4, not the one at 5 in force
    assert node._snapshot_configuration(5) == cfg(1, 2, 3, 4)
