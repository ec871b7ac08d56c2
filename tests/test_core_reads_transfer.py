"""Unit tests of reads without a log entry (sim.raft.read_only: ReadIndex and leases, thesis 6.4) and of leadership
transfer (sim.raft.transfer, thesis 3.10), in the pure core, driven by hand through ``ManualNet``."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from conftest import CONFIG, ManualNet

from sim.nodes.bugs import LeaseWithoutDriftMargin, ReadIndexBeforeTermCommit
from sim.raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    ClientReply,
    Configuration,
    Node,
    RaftConfig,
    RequestVote,
    TimeoutNow,
    TransferLeader,
)
from sim.raft.read_only import LEASE, READ_INDEX, ReadOnly, lease_duration
from sim.raft.transfer import TRANSFER
from sim.trace import message_to_dict

MakeNet = Callable[..., ManualNet]

READINDEX = RaftConfig(read=READ_INDEX)
LEASED = RaftConfig(read=LEASE, lease_drift=0.5)  # a lease of 150 / 1.5 = 100 ms


def get(net: ManualNet, i: int, seq: int, key: str = "k", client: str = "r") -> list[ClientReply]:
    """A get at node ``i``; the replies it produced at once."""
    before = len(net.client_replies)
    net.request(i, client, seq, "get", key)
    return net.client_replies[before:]


def write(net: ManualNet, i: int, seq: int, value: str, key: str = "k") -> None:
    """A put at leader ``i``, committed everywhere and acknowledged."""
    net.request(i, "w", seq, "put", key, value)
    net.settle()
    assert any(r.ok and r.seq == seq and r.dst == "w" for r in net.client_replies)


def reads_answered(net: ManualNet, client: str = "r") -> list[tuple[int, str | None]]:
    return [(r.seq, r.result) for r in net.client_replies if r.dst == client and r.ok]


def tick(net: ManualNet, i: int, timer: str) -> None:
    net._handle(i, net.node(i).tick(timer, net.now))


# ------------------------------------------------------------------------------------------- the bookkeeping


def test_a_round_is_confirmed_by_a_quorum_and_the_lease_runs_from_its_start() -> None:
    reads = ReadOnly(duration=100)
    config = Configuration((1, 2, 3, 4, 5))
    r1 = reads.begin_round(now=1_000)
    assert not reads.acknowledge(1, r1, config)  # the leader's own answer: one of five
    assert not reads.acknowledge(2, r1, config)
    r2 = reads.begin_round(now=2_000)
    assert reads.acknowledge(3, r2, config)  # 1, 2 and 3 answered round 1 or later: a quorum for round 1
    assert (reads.confirmed, reads.lease_until) == (r1, 1_100)  # from when round 1 began, not from now
    assert not reads.acknowledge(3, r1, config)  # nothing new: an old round again
    assert reads.acknowledge(2, r2, config) is False  # 2 and 3 for round 2, the leader still at round 1
    reads.acknowledge(1, r2, config)
    assert (reads.confirmed, reads.lease_until) == (r2, 2_100)
    assert reads.lease_holds(2_099) and not reads.lease_holds(2_100)
    reads.forgo_lease()
    r3 = reads.begin_round(now=3_000)
    for server in (1, 2, 3):
        reads.acknowledge(server, r3, config)
    assert reads.confirmed == r3 and not reads.lease_holds(3_000)  # confirmed, but no lease any more


def test_waiting_reads_leave_in_order_once_confirmed_and_applied() -> None:
    reads = ReadOnly()
    a, b, c = object(), object(), object()
    reads.waiting.extend([(1, 5, a), (1, 6, b), (2, 6, c)])  # type: ignore[list-item]
    assert reads.ready(applied=10) == []  # no round confirmed yet
    reads.confirmed = 1
    assert reads.ready(applied=5) == [a]  # b's read index is not applied yet
    assert reads.ready(applied=6) == [b]  # c waits for round 2
    reads.confirmed = 2
    assert reads.ready(applied=6) == [c]


def test_the_lease_is_the_election_timeout_shrunk_by_the_drift_bound() -> None:
    assert lease_duration(150_000, 0.25) == 120_000
    assert lease_duration(150_000, 0.0) == 150_000
    assert Node(1, (1, 2, 3), RaftConfig(read=LEASE, lease_drift=0.5), random.Random(0))._lease_duration() == 100_000
    assert Node(1, (1, 2, 3), RaftConfig(read=READ_INDEX), random.Random(0))._lease_duration() == 0
    with pytest.raises(ValueError):
        RaftConfig(read="quorum")
    with pytest.raises(ValueError):
        RaftConfig(read=LEASE, lease_drift=-0.1)


# ------------------------------------------------------------------------------------------------ ReadIndex


def test_readindex_answers_after_a_heartbeat_round_without_a_log_entry(make_net: MakeNet) -> None:
    net = make_net(3, config=READINDEX)
    net.elect(1)
    write(net, 1, 1, "a")
    length = net.node(1).log.last_index
    assert get(net, 1, 1) == []  # not before a quorum confirmed it still leads
    rounds = net.pending(type="AppendEntries")
    assert sorted(m.dst for m in rounds) == [2, 3] and {m.round for m in rounds} == {net.node(1).reads.round}
    net.deliver(type="AppendEntries", dst=2)
    net.deliver(type="AppendEntriesReply", src=2)  # 1 and 2: a quorum of three
    ((seq, value),) = reads_answered(net)
    assert (seq, value) == (1, "a")
    assert [r.index for r in net.client_replies if r.dst == "r"] == [0]  # no log index: nothing was appended
    assert net.node(1).log.last_index == length
    net.settle()
    assert all(net.node(i).log.last_index == length for i in net.ids)


def test_readindex_leader_cut_off_from_the_majority_never_answers(make_net: MakeNet) -> None:
    net = make_net(3, config=READINDEX)
    net.elect(1)
    write(net, 1, 1, "a")
    get(net, 1, 1)
    net.drop(src=1)  # its round is lost
    net.elect(2, among=(2, 3))
    write(net, 2, 2, "b")
    net.heartbeat(1)
    net.drop(src=1)
    assert reads_answered(net) == []  # no quorum answered its rounds: the read waits (the client will retry)
    # Once it hears of the new term it steps down, and the read it held is dropped.
    net.heartbeat(1)
    net.settle()
    assert net.node(1).role == FOLLOWER and not net.node(1).reads.waiting
    assert reads_answered(net) == []


def test_rejections_answer_a_round_too(make_net: MakeNet) -> None:
    net = make_net(3, config=READINDEX)
    net.elect(1)
    get(net, 1, 1)
    m2 = net.take(type="AppendEntries", dst=2)[-1]
    # Node 2 rejects its copy (as if its log did not match): the rejection is of the leader's term.
    net.step(AppendEntriesReply(m2.term, 2, 1, False, m2.prev_index, 0, 1, 0, m2.round))
    assert reads_answered(net) == [(1, "")]


def test_a_new_leader_holds_reads_until_it_commits_an_entry_of_its_term(make_net: MakeNet) -> None:
    """Node 1 commits a write and acknowledges it; nobody else learns it is committed before node 1 is cut off.
    Node 2 is elected with the entry in its log but a commit index before it: a read must wait for its no-op."""
    net = make_net(3, config=READINDEX)
    net.elect(1)
    net.request(1, "w", 1, "put", "k", "new")
    net.deliver(type="AppendEntries", src=1)
    net.deliver(type="AppendEntriesReply", dst=1)
    assert any(r.ok and r.dst == "w" for r in net.client_replies)  # acknowledged...
    net.crash(1)
    assert net.node(2).commit < net.node(2).log.last_index  # ...but node 2 does not know it is committed
    net.timeout(2)
    net.deliver(type="RequestVote", src=2)
    net.deliver(type="RequestVoteReply", dst=2)
    leader = net.node(2)
    assert leader.role == LEADER and leader.log.term_at(leader.commit) != leader.term
    assert get(net, 2, 1) == [] and leader.reads.held  # held, not even a round yet
    net.settle(among=(2, 3))  # the no-op commits; the held read goes through a round
    assert reads_answered(net) == [(1, "new")]


def test_readindex_before_term_commit_bug_answers_a_stale_read(make_net: MakeNet) -> None:
    """The same situation with the bug: the read is answered from the commit index the new leader inherited."""
    net = make_net(3, config=READINDEX, node_class=ReadIndexBeforeTermCommit)
    net.elect(1)
    net.request(1, "w", 1, "put", "k", "new")
    net.deliver(type="AppendEntries", src=1)
    net.deliver(type="AppendEntriesReply", dst=1)
    net.crash(1)
    net.timeout(2)
    net.deliver(type="RequestVote", src=2)
    net.deliver(type="RequestVoteReply", dst=2)
    get(net, 2, 1)
    # The round's message reaches node 3 (the first AppendEntries with the no-op is lost); its answer confirms the
    # round, and the read is answered before that same answer lets the no-op commit.
    (round_message,) = [m for m in net.take(type="AppendEntries", dst=3) if m.round]
    net.step(round_message)
    net.deliver(type="AppendEntriesReply", dst=2)
    assert reads_answered(net) == [(1, "")]  # misses the acknowledged write
    assert net.node(2).kv.data["k"] == "new"


def test_a_lone_server_answers_at_once(make_net: MakeNet) -> None:
    net = make_net(1, config=READINDEX)
    net.elect(1)
    write(net, 1, 1, "a")
    assert [r.result for r in get(net, 1, 1)] == ["a"]


# ------------------------------------------------------------------------------------------------- leases


def confirmed_lease(net: ManualNet) -> int:
    """Node 1 leads, its heartbeat round is answered by everybody; returns when that round began."""
    net.now = CONFIG.election_timeout_min  # in lease mode, servers vote only an election timeout after booting
    net.elect(1)
    net.settle()
    start = net.now
    net.heartbeat(1)
    net.now += 20_000  # the answers come back later: the lease still runs from the round's start
    net.settle()
    return start


def test_lease_reads_are_answered_at_once_until_the_lease_ends(make_net: MakeNet) -> None:
    net = make_net(3, config=LEASED)
    start = confirmed_lease(net)
    assert net.node(1).reads.lease_until == start + 100_000
    net.now = start + 99_999
    assert [r.result for r in get(net, 1, 1)] == [""]
    assert net.pending() == []  # no message needed
    net.now = start + 100_000
    assert get(net, 1, 2) == []  # the lease is over: a round
    assert len(net.pending(type="AppendEntries")) == 2
    net.settle()
    assert reads_answered(net) == [(1, ""), (2, "")]


def test_lease_no_drift_margin_bug_holds_it_for_a_whole_election_timeout(make_net: MakeNet) -> None:
    net = make_net(3, config=LEASED, node_class=LeaseWithoutDriftMargin)
    start = confirmed_lease(net)
    assert net.node(1).reads.lease_until == start + CONFIG.election_timeout_min


def test_lease_mode_servers_keep_their_promise_not_to_vote(make_net: MakeNet) -> None:
    """Within an election timeout of hearing from the leader, or of a reboot, a server ignores a candidate."""
    net = make_net(3, config=LEASED)
    confirmed_lease(net)
    contact = net.now
    net.crash(1)
    net.now = contact + 100_000
    net.timeout(3)
    net.deliver(type="RequestVote", dst=2)
    assert net.pending(type="RequestVoteReply") == [] and net.node(2).term == 1  # ignored: no reply, same term
    net.restart(2)
    net.now = contact + 160_000  # past its lease promise, but it just rebooted
    net.timeout(3)
    net.deliver(type="RequestVote", dst=2)
    assert net.pending(type="RequestVoteReply") == []
    net.now += CONFIG.election_timeout_min
    net.timeout(3)
    net.deliver(type="RequestVote", dst=2)
    net.deliver(type="RequestVoteReply", dst=3)
    assert net.node(3).role == LEADER


def test_readindex_mode_leaves_voting_as_it_was(make_net: MakeNet) -> None:
    net = make_net(3, config=READINDEX)
    net.elect(1)
    net.settle()
    net.timeout(3)
    net.deliver(type="RequestVote", dst=2)
    assert [m.granted for m in net.pending(type="RequestVoteReply")] == [True]


# -------------------------------------------------------------------------------------- leadership transfer


def transfer(net: ManualNet, leader: int, target: int) -> None:
    net._handle(leader, net.node(leader).step(TransferLeader(leader, target), net.now))


@pytest.mark.parametrize("config", [CONFIG, RaftConfig(prevote=True, check_quorum=True)], ids=["plain", "prevote"])
def test_transfer_to_an_up_to_date_follower(make_net: MakeNet, config: RaftConfig) -> None:
    net = make_net(3, config=config)
    net.elect(1)
    net.settle()
    transfer(net, 1, 3)
    (now,) = net.take(type="TimeoutNow")
    assert (now.term, now.src, now.dst) == (net.node(1).term, 1, 3)
    net.step(now)
    # No PreVote, and the voters grant although they hear from the leader (CheckQuorum's check is skipped).
    assert net.node(3).role == CANDIDATE
    assert all(m.transfer and not m.prevote for m in net.pending(type="RequestVote"))
    net.settle()
    assert net.leaders() == [3] and net.node(1).role == FOLLOWER and net.node(1).transferee is None
    assert net.checker.violation is None


def test_transfer_to_a_lagging_follower_catches_it_up_first(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.settle()
    for seq in (1, 2, 3):
        net.request(1, "w", seq, "put", "k", str(seq))
    net.drop(dst=3)  # node 3 misses them
    net.settle()
    transfer(net, 1, 3)
    assert net.pending(type="TimeoutNow") == []  # not before node 3 holds everything
    # Ordinary replication catches it up: here the next heartbeat finds the stream to node 3 lost, and probes.
    net.now += CONFIG.heartbeat_interval
    net.heartbeat(1)
    while not net.pending(type="TimeoutNow"):
        assert net.deliver(dst=3) + net.deliver(src=3)
    assert net.node(1).progress[3].match == net.node(1).log.last_index
    net.settle()
    assert net.leaders() == [3]
    assert net.terms(3) == net.terms(1) == [1, 1, 1, 1, 2]  # everything, and the new leader's no-op


def test_a_leader_refuses_clients_during_a_transfer_and_resumes_if_it_fails(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.settle()
    net.crash(3)
    transfer(net, 1, 3)  # the target is down: the transfer cannot complete
    net.request(1, "w", 1, "put", "k", "v")
    reply = net.client_replies[-1]
    assert not reply.ok and reply.leader_hint is None  # refused, no leader named: the client waits and retries
    assert net.node(1).log.last_index == 1
    tick(net, 1, TRANSFER)  # an election timeout later: given up
    assert net.node(1).transferee is None and net.node(1).role == LEADER
    write(net, 1, 2, "v")


def test_transfer_requests_that_mean_nothing_are_ignored(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.settle()
    for target in (1, 7):  # itself; a server outside the configuration
        transfer(net, 1, target)
        assert net.node(1).transferee is None
    transfer(net, 2, 3)  # a follower is not asked
    assert net.node(2).transferee is None and net.pending() == []
    # A TimeoutNow of an older term is stale: node 2 does not campaign.
    net.step(TimeoutNow(0, 1, 2))
    assert net.node(2).role == FOLLOWER


def test_a_transfer_gives_up_the_lease_for_the_term(make_net: MakeNet) -> None:
    net = make_net(3, config=LEASED)
    confirmed_lease(net)
    assert [r.result for r in get(net, 1, 1)] == [""]
    net.crash(2)
    transfer(net, 1, 2)
    tick(net, 1, TRANSFER)  # failed: clients are accepted again, but reads now confirm leadership by a round
    assert get(net, 1, 2) == []
    net.settle()
    assert reads_answered(net) == [(1, ""), (2, "")]


def test_the_new_fields_are_left_out_of_the_trace_while_off() -> None:
    """So a run whose reads go through the log, without transfers, keeps its trace and its digest."""
    assert "round" not in message_to_dict(AppendEntries(1, 1, 2, 0, 0, (), 0))
    assert message_to_dict(AppendEntries(1, 1, 2, 0, 0, (), 0, 4))["round"] == 4
    assert "round" not in message_to_dict(AppendEntriesReply(1, 2, 1, True, 0, 0))
    assert message_to_dict(AppendEntriesReply(1, 2, 1, True, 0, 0, 0, 0, 4))["round"] == 4
    assert "transfer" not in message_to_dict(RequestVote(1, 1, 2, 0, 0))
    assert message_to_dict(RequestVote(1, 1, 2, 0, 0, False, True))["transfer"] is True
    m = RequestVote(1, 1, 2, 0, 0, False, True)
    assert m.replace(term=2) == RequestVote(2, 1, 2, 0, 0, False, True)
