"""Unit tests of the pure Raft node (sim.raft.node), driven by hand through ``ManualNet`` (tests/conftest.py).

Each test scripts an exact situation: which timer fires, which message arrives, which is lost. Section numbers
refer to the Raft paper (Ongaro and Ousterhout, 2014) and to Ongaro's thesis for PreVote and CheckQuorum.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from conftest import CONFIG, ManualNet

from sim.nodes.bugs import Figure8Commit
from sim.raft import (
    CANDIDATE,
    ELECTION,
    FOLLOWER,
    HEARTBEAT,
    LEADER,
    PRECANDIDATE,
    AppendEntries,
    AppendEntriesReply,
    ClientReply,
    Entry,
    Node,
    PersistentState,
    RaftConfig,
    RequestVote,
    RequestVoteReply,
)
from sim.raft.progress import REPLICATE

MakeNet = Callable[..., ManualNet]


def lone_node(entries: tuple[Entry, ...] = (), term: int = 0, voted_for: int | None = None, **config: object) -> Node:
    """Node 1 of a 3-node cluster, built from the given durable state and started at time 0."""
    cfg = RaftConfig(**config) if config else CONFIG  # type: ignore[arg-type]
    node = Node(1, (1, 2, 3), cfg, random.Random(1), PersistentState(term, voted_for, entries))
    node.start(0)
    return node


def entries(*terms: int) -> tuple[Entry, ...]:
    return tuple(Entry(t) for t in terms)


def append(term: int, src: int, prev: int, prev_term: int, new: tuple[Entry, ...], commit: int = 0) -> AppendEntries:
    return AppendEntries(term, src, 1, prev, prev_term, new, commit)


def replies(out_messages: list, kind: type) -> list:
    return [m for m in out_messages if isinstance(m, kind)]


# ------------------------------------------------------------------------------------------------ elections


def test_start_arms_a_randomized_election_timer() -> None:
    delays = set()
    for seed in range(20):
        node = Node(1, (1, 2, 3), CONFIG, random.Random(seed))
        out = node.start(0)
        ((timer, delay),) = out.timers
        assert timer == ELECTION
        assert CONFIG.election_timeout_min <= delay <= CONFIG.election_timeout_max
        delays.add(delay)
    assert len(delays) > 10  # randomized (Section 5.2), not one fixed value


def test_election_timeouts_in_whole_steps_round_to_the_nearest_as_logcabin_does() -> None:
    # RaftConfig.election_timeout_step: LogCabin draws whole milliseconds, lround of a uniform draw, so 150-155 ms
    # gives 151 to 154 twice as often as the ends.
    cfg = RaftConfig(150_000, 155_000, 75_000, election_timeout_step=1_000)
    counts: dict[int, int] = {}
    for seed in range(3000):
        ((timer, delay),) = Node(1, (1, 2, 3), cfg, random.Random(seed)).start(0).timers
        assert timer == ELECTION
        counts[delay] = counts.get(delay, 0) + 1
    assert sorted(counts) == [150_000, 151_000, 152_000, 153_000, 154_000, 155_000]
    for end in (150_000, 155_000):
        for middle in (151_000, 152_000, 153_000, 154_000):
            assert 0.35 < counts[end] / counts[middle] < 0.65
    # AppendEntries re-arms the timer with the same rule.
    node = Node(2, (1, 2, 3), cfg, random.Random(7))
    node.start(0)
    out = node.step(append(1, 1, 0, 0, ()), 10)
    rearmed = [d for t, d in out.timers if t == ELECTION]
    assert rearmed and all(d % 1_000 == 0 and 150_000 <= d <= 155_000 for d in rearmed)


def test_election_timeout_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="election_timeout_step"):
        RaftConfig(election_timeout_step=0)


def test_first_election(make_net: MakeNet) -> None:
    net = make_net(3)
    out = net.timeout(1)
    n1 = net.node(1)
    assert (n1.role, n1.term, n1.voted_for) == (CANDIDATE, 1, 1)
    assert out.hard_state == (1, 1)  # term and self-vote are persisted before the requests leave
    assert net.durable[1].term == 1 and net.durable[1].voted_for == 1
    assert sorted(m.dst for m in replies(out.messages, RequestVote)) == [2, 3]
    assert any(t == ELECTION for t, _ in out.timers)  # a new randomized timeout for this election
    net.settle()
    assert net.leaders() == [1]
    assert [net.terms(i) for i in (1, 2, 3)] == [[1], [1], [1]]
    assert net.node(1).log.entry(1).command is None  # the no-op of Section 8
    assert net.node(1).commit == 1
    # Followers learn the commit index with the next AppendEntries.
    net.heartbeat(1)
    net.settle()
    assert [net.node(i).commit for i in (1, 2, 3)] == [1, 1, 1]
    assert net.checker.violation is None


def test_becoming_leader_swaps_election_timer_for_heartbeats(make_net: MakeNet) -> None:
    net = make_net(3)
    net.timeout(1)
    net.deliver(type="RequestVote", dst=2)
    ((reply,),) = [net.take(type="RequestVoteReply")]
    out = net.step(reply)
    assert net.node(1).role == LEADER
    assert (ELECTION, None) in out.timers
    assert (HEARTBEAT, CONFIG.heartbeat_interval) in out.timers
    # A heartbeat re-arms itself and sends AppendEntries to every follower.
    out = net.heartbeat(1)
    assert (HEARTBEAT, CONFIG.heartbeat_interval) in out.timers
    assert sorted(m.dst for m in replies(out.messages, AppendEntries)) == [2, 3]
    # An election timeout that fires late for a leader does nothing.
    assert net.timeout(1).messages == []
    assert net.node(1).role == LEADER


def test_candidate_that_times_out_starts_a_new_term(make_net: MakeNet) -> None:
    net = make_net(3)
    net.timeout(1)
    net.take()  # every request lost
    net.timeout(1)
    assert (net.node(1).role, net.node(1).term) == (CANDIDATE, 2)
    assert {m.term for m in net.pending(type="RequestVote")} == {2}


def test_one_vote_per_term(make_net: MakeNet) -> None:
    net = make_net(3)
    net.timeout(1)
    net.timeout(2)  # both campaign in term 1
    net.deliver(type="RequestVote", src=1, dst=3)
    net.deliver(type="RequestVote", src=2, dst=3)
    votes = {m.dst: m.granted for m in net.take(type="RequestVoteReply", src=3)}
    assert votes == {1: True, 2: False}
    assert net.node(3).voted_for == 1 and net.durable[3].voted_for == 1
    # A retransmitted request from the candidate it voted for is granted again (same term, same candidate).
    out = net.step(RequestVote(1, 1, 3, 0, 0))
    assert replies(out.messages, RequestVoteReply)[0].granted
    # The candidate that voted for itself refuses the other.
    out = net.step(RequestVote(1, 2, 1, 0, 0))
    assert not replies(out.messages, RequestVoteReply)[0].granted


def test_vote_denied_to_a_candidate_whose_log_is_behind() -> None:
    node = lone_node(entries(1, 1, 2), term=2)
    for last_index, last_term, granted in [(2, 2, False), (9, 1, False), (3, 2, True)]:
        node = lone_node(entries(1, 1, 2), term=2)
        out = node.step(RequestVote(3, 2, 1, last_index, last_term), 1)
        (reply,) = replies(out.messages, RequestVoteReply)
        assert reply.granted is granted, (last_index, last_term)
        # The higher term is adopted whatever the answer (Figure 2, all servers).
        assert node.term == 3 and node.role == FOLLOWER
        assert node.voted_for == (2 if granted else None)


def test_granting_a_vote_resets_the_election_timer_but_refusing_at_the_same_term_does_not() -> None:
    node = lone_node(entries(1, 1), term=1)
    out = node.step(RequestVote(1, 2, 1, 2, 1), 10)
    assert replies(out.messages, RequestVoteReply)[0].granted
    assert any(t == ELECTION for t, _ in out.timers)
    out = node.step(RequestVote(1, 3, 1, 2, 1), 20)  # already voted in term 1
    assert not replies(out.messages, RequestVoteReply)[0].granted
    assert out.timers == []


def test_any_message_with_a_higher_term_makes_a_leader_step_down(make_net: MakeNet) -> None:
    higher = [
        AppendEntries(5, 3, 1, 0, 0, (), 0),
        AppendEntriesReply(5, 3, 1, False, 0, 0),
        RequestVote(5, 3, 1, 0, 0),
        RequestVoteReply(5, 3, 1, False),
    ]
    for m in higher:
        net = make_net(3)
        net.elect(1)
        out = net.step(m)
        n1 = net.node(1)
        assert (n1.role, n1.term) == (FOLLOWER, 5), type(m).__name__
        assert net.durable[1].term == 5 and out.hard_state is not None
        assert (HEARTBEAT, None) in out.timers  # heartbeats stop
        assert n1.leader_id == (3 if isinstance(m, AppendEntries) else None)


def test_stale_term_requests_are_refused_with_the_current_term() -> None:
    node = lone_node(entries(1, 2), term=4)
    out = node.step(AppendEntries(3, 2, 1, 2, 2, entries(3), 2), 1)
    (reply,) = out.messages
    assert isinstance(reply, AppendEntriesReply) and not reply.success and reply.term == 4
    assert node.log.last_index == 2 and node.commit == 0 and node.leader_id is None
    out = node.step(RequestVote(3, 2, 1, 9, 9), 2)
    (vote,) = out.messages
    assert isinstance(vote, RequestVoteReply) and not vote.granted and vote.term == 4
    assert node.voted_for is None
    # Stale replies are simply dropped.
    assert node.step(RequestVoteReply(3, 2, 1, True), 3).messages == []


def test_candidate_steps_down_for_a_leader_of_its_own_term(make_net: MakeNet) -> None:
    net = make_net(3)
    net.timeout(1)
    net.timeout(2)  # 2 is a candidate in term 1 too
    net.deliver(type="RequestVote", src=1, dst=3)
    net.deliver(type="RequestVoteReply", src=3, dst=1)
    assert net.node(1).role == LEADER
    net.deliver(type="AppendEntries", src=1, dst=2)
    assert (net.node(2).role, net.node(2).term, net.node(2).leader_id) == (FOLLOWER, 1, 1)


# ----------------------------------------------------------------------------------------- log replication


def test_consistency_check_rejects_and_gives_a_backoff_hint() -> None:
    node = lone_node(entries(1, 1, 2, 2), term=3)
    # prev_index beyond the log: hint is last index + 1, conflict term 0.
    out = node.step(append(3, 2, 6, 3, entries(3)), 1)
    (r,) = out.messages
    assert (r.success, r.prev_index, r.conflict_index, r.conflict_term) == (False, 6, 5, 0)
    # Term mismatch at prev_index: hint is the first index of the follower's conflicting term.
    out = node.step(append(3, 2, 4, 3, entries(3)), 2)
    (r,) = out.messages
    assert (r.success, r.conflict_index, r.conflict_term) == (False, 3, 2)
    assert [e.term for e in node.log.entries()] == [1, 1, 2, 2]  # a rejection changes nothing
    assert node.leader_id == 2  # but the sender is the leader of the current term


def test_append_deletes_only_conflicting_entries() -> None:
    node = lone_node(entries(1, 1, 2, 2), term=2)
    # Entries that already match are kept: nothing is rewritten, nothing persisted.
    out = node.step(append(2, 2, 1, 1, entries(1, 2)), 1)
    assert [e.term for e in node.log.entries()] == [1, 1, 2, 2]
    assert out.log_from is None
    (r,) = out.messages
    assert r.success and r.match_index == 3  # vouches only for what the message covered
    # A conflict at index 3 deletes index 3 and everything after it, then appends.
    node = lone_node(entries(1, 1, 2, 2), term=3)
    out = node.step(append(3, 2, 2, 1, entries(3)), 1)
    assert [e.term for e in node.log.entries()] == [1, 1, 3]
    assert out.log_from == 3 and [e.term for e in out.log_entries] == [3]


def test_stale_or_reordered_append_never_shortens_the_log() -> None:
    node = lone_node(term=1)
    long = append(1, 2, 0, 0, entries(1, 1, 1, 1))
    short = append(1, 2, 0, 0, entries(1, 1))
    node.step(long, 1)
    out = node.step(short, 2)  # arrives after the longer one
    assert node.log.last_index == 4
    assert out.log_from is None
    assert out.messages[0].success and out.messages[0].match_index == 2
    node.step(long, 3)  # a duplicate
    assert node.log.last_index == 4


def test_follower_commit_is_bounded_by_what_the_message_vouched_for() -> None:
    node = lone_node(entries(1, 1, 1, 1), term=2)
    # The leader has committed 10, but this message only proves the log matches up to index 2: entries 3 and 4
    # may be stale leftovers of an old term.
    out = node.step(append(2, 2, 1, 1, entries(1), commit=10), 1)
    assert node.commit == 2
    assert [i for i, _ in out.applied] == [1, 2]
    assert node.last_applied == 2
    # A heartbeat whose prev_index is the last index lets it commit the rest.
    node.step(append(2, 2, 4, 1, (), commit=10), 2)
    assert node.commit == 4 and node.last_applied == 4


def test_next_and_match_index_follow_the_replies(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    pr = net.node(1).progress
    assert (pr[2].match, pr[2].next, pr[2].state) == (1, 2, REPLICATE)
    for i in range(5):
        net.request(1, "c", i + 1)
    net.settle()
    assert (pr[2].match, pr[2].next) == (6, 7)
    assert (pr[3].match, pr[3].next) == (6, 7)
    assert net.node(1).commit == 6
    assert [net.log(i) for i in (2, 3)] == [net.log(1)] * 2


def test_leader_streams_optimistically_once_a_follower_matched(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.request(1, "c", 1)
    net.request(1, "c", 2)
    # Two requests, two AppendEntries in flight to each follower without waiting for replies.
    assert [len(m.entries) for m in net.pending(type="AppendEntries", dst=2)] == [1, 1]
    assert net.node(1).progress[2].next == 4


def test_fast_backoff_over_many_conflicting_entries(make_net: MakeNet) -> None:
    """Node 2 holds 60 entries of term 2 that never committed; the leader of term 4 skips all of them in one
    round trip thanks to the conflict-term hint (Section 5.3, the optimization at the end)."""
    net = make_net(3)
    net.durable[1] = PersistentState(3, None, entries(1, *[3] * 40))
    net.durable[2] = PersistentState(2, None, entries(1, *[2] * 60))
    net.durable[3] = PersistentState(3, None, entries(1, *[3] * 40))
    for i in (1, 2, 3):
        net.restart(i)
    net.timeout(1)
    net.settle(among=(1, 3))  # elected by node 3
    assert net.node(1).role == LEADER and net.node(1).term == 4
    rejections = 0
    for _ in range(10):
        rejections += len([m for m in net.pending(type="AppendEntriesReply", src=2) if not m.success])
        if not net.deliver(where=lambda m: 2 in (m.src, m.dst)):
            break
    assert rejections <= 2
    assert net.log(2) == net.log(1)
    assert net.terms(2) == [1, *[3] * 40, 4]
    net.heartbeat(1)
    net.settle()
    assert net.node(2).commit == 42


def test_backoff_when_the_follower_log_is_short(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    for seq in range(1, 31):
        net.request(1, "c", seq)
    net.settle(among=(1, 2))
    net.drop_between((1,), (3,))
    assert net.node(3).log.last_index == 1
    net.heartbeat(1)
    sent = 0
    for _ in range(10):
        sent += len(net.pending(type="AppendEntries", dst=3))
        if not net.deliver(where=lambda m: 3 in (m.src, m.dst)):
            break
    assert net.log(3) == net.log(1)
    assert sent <= 4  # heartbeat, one rejection-driven jump to index 2, then the entries in batches


def test_stale_rejection_does_not_rewind_progress(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.request(1, "c", 1)
    net.settle()
    pr = net.node(1).progress[2]
    before = (pr.match, pr.next)
    # A rejection of a request the leader has long moved past (reordered, duplicated).
    net.step(AppendEntriesReply(1, 2, 1, False, 0, 0, 1, 0))
    assert (pr.match, pr.next) == before
    assert net.pending(type="AppendEntries", dst=2) == []


def test_leader_commits_only_entries_of_its_own_term_by_counting(make_net: MakeNet) -> None:
    """Section 5.4.2: an entry of an earlier term on a majority is not committed until an entry of the current
    term is."""
    net = make_net(3)
    # Node 1 replicated index 2 (term 2) to node 2 before it crashed; nobody committed it.
    net.durable[1] = PersistentState(2, 1, entries(1, 2))
    net.durable[2] = PersistentState(2, 1, entries(1, 2))
    net.durable[3] = PersistentState(2, 1, entries(1))
    for i in (1, 2, 3):
        net.restart(i)
    net.timeout(1)
    net.deliver(type="RequestVote", dst=2)
    net.deliver(type="RequestVoteReply")
    leader = net.node(1)
    assert leader.role == LEADER and leader.term == 3
    assert net.terms(1) == [1, 2, 3]  # the no-op of term 3
    # Node 2 confirms it holds index 2, but the new no-op does not reach it yet.
    net.drop(type="AppendEntries")
    net.step(AppendEntriesReply(3, 2, 1, True, 2, 2))
    assert leader.progress[2].match == 2  # index 2 is on a majority (1 and 2)...
    assert leader.commit == 0  # ...yet not committed: it is of term 2
    net.step(AppendEntriesReply(3, 2, 1, True, 2, 3))
    assert leader.commit == 3  # the term-3 no-op commits, and index 2 with it


def win_election(net: ManualNet, i: int) -> None:
    """Node ``i`` campaigns until it wins, with only votes flowing (each try in a new term)."""
    for _ in range(3):
        net.timeout(i)
        net.deliver(type="RequestVote", src=i)
        net.deliver(type="RequestVoteReply", dst=i)
        if net.node(i).role == LEADER:
            return
    raise AssertionError(f"node {i} could not win")


def figure8(node_class: type[Node], make_net: MakeNet) -> ManualNet:
    """The paper's Figure 8 with five servers, each leader appending its no-op. Returns the net after (d)."""
    net = make_net(5, config=RaftConfig(max_batch=2), node_class=node_class)
    # Term 1: node 1 leads; its no-op reaches everybody and commits.
    net.elect(1)
    net.heartbeat(1)
    net.settle()
    assert [net.node(i).commit for i in net.ids] == [1] * 5
    # (a) Node 1 restarts and leads term 2; its term-2 entries (no-op, a command) reach node 2 only.
    net.restart(1)
    win_election(net, 1)
    net.request(1, "c", 1)
    for _ in range(2):
        net.deliver(type="AppendEntries", dst=2)
        net.deliver(type="AppendEntriesReply", src=2)
    net.take()
    assert net.terms(1) == net.terms(2) == [1, 2, 2]
    # (b) Node 1 crashes; node 5 wins term 3 with votes from 3 and 4 and appends its no-op, which goes nowhere.
    net.crash(1)
    win_election(net, 5)
    assert net.node(5).term == 3
    net.take()
    # (c) Node 5 crashes; node 1 restarts and wins term 4 (appending its no-op at index 4). It copies its term-2
    # entries to nodes 3 and 4 (two entries per message) but its term-4 entry reaches nobody.
    net.crash(5)
    net.restart(1)
    win_election(net, 1)
    assert net.node(1).term == 4 and net.terms(1) == [1, 2, 2, 4]
    net.drop(dst=2)
    net.drop(dst=5)

    def harmless(m: AppendEntries) -> bool:  # rejected for being too far ahead, or carrying no term-4 entry
        return m.prev_index > net.node(m.dst).log.last_index or Entry(4) not in m.entries

    for _ in range(2):
        net.deliver(type="AppendEntries", dst=3, where=harmless)
        net.deliver(type="AppendEntries", dst=4, where=harmless)
        net.deliver(type="AppendEntriesReply", dst=1)
    net.take()
    assert net.terms(3) == net.terms(4) == [1, 2, 2]
    leader = net.node(1)
    replicas = 1 + sum(1 for p in leader.peers if leader.progress[p].match >= 3)
    assert replicas == 3  # index 3, of term 2, is stored on a majority of the five servers...
    if node_class is Node:
        # ...and still not committed (commit is volatile: 0 since the restart): its term is not the leader's
        assert leader.commit == 0  # (Section 5.4.2)
    else:
        assert leader.commit == 3  # the bug commits it by counting replicas
    # (d) Node 1 crashes; node 5 restarts and wins term 5 (its log ends in term 3, the others' in term 2).
    net.crash(1)
    net.restart(5)
    win_election(net, 5)
    assert net.node(5).term == 5
    return net


def test_figure8_correct_node_does_not_commit_an_old_term_entry_by_counting(make_net: MakeNet) -> None:
    net = figure8(Node, make_net)
    assert net.checker.violation is None
    net.heartbeat(5)
    net.settle()
    net.heartbeat(5)
    net.settle()
    # Node 5 overwrote the term-2 entries everywhere: legal, since they were never committed.
    for i in (2, 3, 4, 5):
        assert net.terms(i) == [1, 3, 5] and net.node(i).commit == 3
    assert net.checker.violation is None


def test_figure8_bug_commits_an_old_term_entry_and_the_checker_catches_it(make_net: MakeNet) -> None:
    net = figure8(Figure8Commit, make_net)
    v = net.checker.violation
    assert v is not None
    # Node 5 became leader of term 5 without index 2..3, which node 1 "committed" in term 4.
    assert v.property == "LeaderCompleteness" and v.nodes == (5,)


# ---------------------------------------------------------------------------------------------- persistence


def test_restart_keeps_term_vote_and_log_and_loses_the_rest(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.request(1, "c", 1, "append", "x", "a")
    net.settle()
    net.heartbeat(1)
    net.settle()
    before = net.node(2)
    assert before.commit == 2 and before.kv.data == {"x": "a"}
    net.restart(2)
    after = net.node(2)
    assert (after.term, after.voted_for) == (before.term, before.voted_for) == (1, 1)
    assert list(after.log.entries()) == list(before.log.entries())
    assert (after.role, after.commit, after.last_applied, after.leader_id) == (FOLLOWER, 0, 0, None)
    assert after.kv.data == {}
    # It still remembers its vote of term 1: another candidate of term 1 is refused.
    out = net.step(RequestVote(1, 3, 2, 9, 1))
    assert not replies(out.messages, RequestVoteReply)[0].granted
    # And the state machine is rebuilt from the log once the leader tells it the commit index.
    net.heartbeat(1)
    net.settle()
    assert after.commit == 2 and after.kv.data == {"x": "a"}


def test_restarted_leader_comes_back_as_follower_of_the_same_term(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.restart(1)
    n1 = net.node(1)
    assert (n1.role, n1.term, n1.voted_for) == (FOLLOWER, 1, 1)
    assert net.checker.violation is None


def test_every_output_that_changes_state_asks_for_it_to_be_persisted(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    for seq in range(1, 4):
        net.request(1, "c", seq)
    net.settle()
    for i in net.ids:
        n = net.node(i)
        assert net.durable[i] == n.persistent_state()


# -------------------------------------------------------------------------------------------------- clients


def test_follower_redirects_to_the_leader_it_knows(make_net: MakeNet) -> None:
    net = make_net(3)
    net.request(2, "c", 1)
    (reply,) = net.client_replies
    assert isinstance(reply, ClientReply) and not reply.ok and reply.leader_hint is None
    net.elect(1)
    net.request(2, "c", 1)
    reply = net.client_replies[-1]
    assert not reply.ok and reply.leader_hint == 1
    assert net.log(2) == [Entry(1)]  # nothing appended by a follower


def test_leader_replies_once_committed_with_result_and_index(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.request(1, "c", 1, "append", "x", "a")
    assert net.client_replies == []  # not before it commits
    net.settle()
    (reply,) = net.client_replies
    assert (reply.ok, reply.seq, reply.result, reply.index, reply.dst) == (True, 1, "a", 2, "c")


def test_retried_command_is_applied_once(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    net.request(1, "c", 1, "append", "x", "a")
    net.request(1, "c", 1, "append", "x", "a")  # a retry while the first is still in flight
    net.settle()
    net.heartbeat(1)
    net.settle()
    assert all(net.node(i).kv.data == {"x": "a"} for i in net.ids)
    oks = [r for r in net.client_replies if r.ok]
    assert {(r.seq, r.index, r.result) for r in oks} == {(1, 2, "a")}  # both answers name the first index
    # A retry after it was applied is answered from the session, without a new entry.
    length = net.node(1).log.last_index
    net.request(1, "c", 1, "append", "x", "a")
    assert net.client_replies[-1].ok and net.client_replies[-1].index == 2
    assert net.node(1).log.last_index == length
    # A late retry of an older command the client gave up on is ignored.
    net.request(1, "c", 2, "append", "x", "b")
    net.settle()
    count = len(net.client_replies)
    net.request(1, "c", 1, "append", "x", "a")
    assert len(net.client_replies) == count and net.node(1).log.last_index == length + 1


def test_leader_that_steps_down_forgets_pending_replies(make_net: MakeNet) -> None:
    """Its pending commands may still commit under the next leader; the client learns the outcome by retrying
    (same seq) there, and the session answers the retry without applying twice."""
    net = make_net(3)
    net.elect(1)
    net.request(1, "c", 1, "append", "x", "a")
    net.deliver(type="AppendEntries", dst=2)  # node 2 holds it
    net.take()
    net.timeout(2)
    net.settle(among=(2, 3))
    assert net.node(2).role == LEADER
    net.settle()
    assert net.node(1).role == FOLLOWER and not net.node(1).pending
    assert [r for r in net.client_replies if r.ok] == []
    net.request(2, "c", 1, "append", "x", "a")  # the client's retry
    net.settle()
    net.heartbeat(2)
    net.settle()
    oks = [r for r in net.client_replies if r.ok]
    assert len(oks) == 1 and oks[0].index == 2
    assert all(net.node(i).kv.data == {"x": "a"} for i in net.ids)


# ------------------------------------------------------------------------------------ PreVote, CheckQuorum


PREVOTE = RaftConfig(prevote=True)
CHECK_QUORUM = RaftConfig(check_quorum=True)


def test_prevote_partitioned_node_does_not_inflate_its_term(make_net: MakeNet) -> None:
    for config, expected_term in ((PREVOTE, 1), (CONFIG, 6)):
        net = make_net(3, config=config)
        net.elect(1)
        net.heartbeat(1)
        net.settle()
        for _ in range(5):  # node 3 is cut off and keeps timing out
            net.now += 400_000
            net.timeout(3)
            net.drop(src=3)
        assert net.node(3).term == expected_term
        assert net.node(3).role == (PRECANDIDATE if config.prevote else CANDIDATE)


def test_prevote_rejoining_follower_does_not_depose_the_leader(make_net: MakeNet) -> None:
    net = make_net(3, config=PREVOTE)
    net.elect(1)
    net.heartbeat(1)
    net.settle()
    net.now += 400_000
    net.timeout(3)  # node 3 missed some heartbeats and pre-campaigns
    net.heartbeat(1)  # ... while node 1 keeps leading node 2
    net.deliver(src=1, dst=2)
    net.settle()  # node 3's pre-votes reach the others, who heard from the leader recently
    assert net.leaders() == [1]
    assert net.node(1).term == 1 and net.node(3).term == 1
    assert net.node(3).role == FOLLOWER  # and the leader's AppendEntries brought it back


def test_prevote_denied_while_a_leader_is_heard_from_and_granted_after() -> None:
    node = lone_node(entries(1), term=1, prevote=True)
    node.step(append(1, 2, 1, 1, (), commit=1), 1_000)
    out = node.step(RequestVote(2, 3, 1, 1, 1, prevote=True), 100_000)
    (r,) = out.messages
    assert (r.granted, r.prevote, r.term) == (False, True, 1)
    assert node.term == 1 and node.voted_for is None  # a pre-vote changes nothing
    out = node.step(RequestVote(2, 3, 1, 1, 1, prevote=True), 1_000 + CONFIG.election_timeout_min)
    (r,) = out.messages
    assert (r.granted, r.term) == (True, 2)
    assert node.term == 1 and node.voted_for is None and out.hard_state is None
    # The up-to-date check applies to pre-votes too.
    out = node.step(RequestVote(2, 3, 1, 0, 0, prevote=True), 400_000)
    assert not out.messages[0].granted


def test_prevote_majority_leads_to_a_real_election(make_net: MakeNet) -> None:
    net = make_net(3, config=PREVOTE)
    net.timeout(1)
    assert net.node(1).role == PRECANDIDATE and net.node(1).term == 0
    net.deliver(type="RequestVote")
    net.deliver(type="RequestVoteReply")
    assert net.node(1).role == CANDIDATE and net.node(1).term == 1
    net.settle()
    assert net.leaders() == [1]


def test_check_quorum_leader_that_hears_no_majority_steps_down(make_net: MakeNet) -> None:
    net = make_net(3, config=CHECK_QUORUM)
    net.elect(1)
    net.now += CONFIG.heartbeat_interval
    net.heartbeat(1)
    net.settle()
    assert net.node(1).role == LEADER  # acknowledged recently by both
    for _ in range(4):  # then partitioned: its heartbeats get no answer
        net.now += CONFIG.heartbeat_interval
        net.heartbeat(1)
        net.take()
    assert net.node(1).role == FOLLOWER and net.node(1).term == 1
    assert net.node(1).leader_id is None


def test_check_quorum_leader_with_one_live_follower_stays(make_net: MakeNet) -> None:
    net = make_net(3, config=CHECK_QUORUM)
    net.elect(1)
    for _ in range(6):
        net.now += CONFIG.heartbeat_interval
        net.heartbeat(1)
        net.drop(dst=3)
        net.settle()
    assert net.node(1).role == LEADER


def test_check_quorum_follower_ignores_votes_while_its_leader_is_alive(make_net: MakeNet) -> None:
    net = make_net(3, config=CHECK_QUORUM)
    net.elect(1)
    net.now += 10_000
    out = net.step(RequestVote(7, 3, 2, 5, 5))
    assert out.messages == [] and net.node(2).term == 1  # inside the lease: ignored, term unchanged
    net.now += CONFIG.election_timeout_min
    out = net.step(RequestVote(7, 3, 2, 5, 5))
    assert net.node(2).term == 7 and out.messages[0].granted


def test_prevote_with_check_quorum_elects_after_the_leader_dies(make_net: MakeNet) -> None:
    net = make_net(3, config=RaftConfig(prevote=True, check_quorum=True))
    net.elect(1)
    net.heartbeat(1)
    net.settle()
    net.crash(1)
    net.now += CONFIG.election_timeout_max
    net.timeout(2)
    net.settle()
    assert net.leaders() == [2] and net.node(2).term == 2


def test_late_vote_replies_may_elect_a_leader_of_an_old_term(make_net: MakeNet) -> None:
    """Node 1 wins term 1 with votes that arrive after nodes 2..4 moved on to term 2, elected node 2 and
    committed its no-op. That is legal (Leader Completeness binds leaders of later terms only) and the checker
    must not flag it."""
    net = make_net(5)
    net.timeout(1)
    net.deliver(type="RequestVote", src=1)
    held = net.take(type="RequestVoteReply")
    assert all(m.granted for m in held)
    net.timeout(2)
    net.settle(among=(2, 3, 4, 5))
    assert net.node(2).role == LEADER and net.node(2).term == 2 and net.node(2).commit == 1
    for m in held:
        net.step(m)
    assert net.node(1).role == LEADER and net.node(1).term == 1
    assert net.checker.violation is None
    net.settle()  # node 1 hears of term 2 and steps down
    assert net.leaders() == [2]
    assert net.checker.violation is None
