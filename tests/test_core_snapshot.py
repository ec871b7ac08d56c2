"""Snapshots and log compaction in the pure core (sim.raft.snapshot), driven by hand through ``ManualNet``.

The paper's Section 7 and Figure 13: a server snapshots its state machine (data and client sessions) once enough
is applied and discards the log it covers; a leader sends InstallSnapshot chunks to a follower that needs
discarded entries; the follower keeps a log suffix that follows the snapshot, or discards its log; a restart loads
the snapshot and then the log after it. Every ManualNet output is shown to the incremental checker, so every test
also asserts that no invariant (SnapshotIntegrity included) broke.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from conftest import CONFIG, ManualNet

from sim.raft import (
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    Command,
    Configuration,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    KeyValueStore,
    Node,
    PersistentState,
    Snapshot,
)
from sim.raft import snapshot as snapshot_module
from sim.raft.node import FOLLOWER as NODE_FOLLOWER
from sim.raft.progress import REPLICATE, SNAPSHOT
from sim.raft.snapshot import decode_state, encode_state

MakeNet = Callable[..., ManualNet]
COMPACTING = replace(CONFIG, snapshot_every=3, snapshot_chunk=16)


def writes(net: ManualNet, leader: int, n: int, start: int = 1, key: str = "x") -> None:
    """``n`` appends by client c, committed and known to every connected server."""
    for seq in range(start, start + n):
        net.request(leader, "c", seq, "append", key, f"{seq},")
        net.settle()
    net.heartbeat(leader)
    net.settle()


def assert_no_violation(net: ManualNet) -> None:
    assert net.checker.violation is None, net.checker.violation.report()


# ------------------------------------------------------------------------------------------------ the state


def test_the_state_encodes_to_the_same_bytes_whatever_the_order_it_was_built_in() -> None:
    a = encode_state({"x": "1", "y": "2"}, {"c1": (3, "2", 7), "c2": (1, None, 2)})
    b = encode_state({"y": "2", "x": "1"}, {"c2": (1, None, 2), "c1": (3, "2", 7)})
    assert a == b
    kv = decode_state(a)
    assert kv.data == {"x": "1", "y": "2"} and kv.sessions == {"c1": (3, "2", 7), "c2": (1, None, 2)}
    assert snapshot_module.FOLLOWER == NODE_FOLLOWER


def test_a_snapshot_restores_data_and_sessions() -> None:
    kv = KeyValueStore()
    kv.apply(Command("c", 1, "append", "x", "a"), 2)
    snap = Snapshot(2, 1, Configuration((1, 2, 3)), encode_state(kv.data, kv.sessions))
    restored = snap.restore()
    assert restored.data == {"x": "a"} and restored.applied("c", 1) == ("a", 2)
    assert f"{snap.size} bytes" in repr(snap) and snap.size == len(snap.data)


# ------------------------------------------------------------------------------------------------ taking one


def test_every_server_snapshots_once_enough_is_applied_and_compacts_its_log(make_net: MakeNet) -> None:
    net = make_net(3, config=COMPACTING)
    net.elect(1)
    writes(net, 1, 4)  # no-op + 4 commands: index 5 committed everywhere
    for i in net.ids:
        node = net.node(i)
        assert node.last_applied == 5
        assert node.snapshot is not None and node.snapshot.index == 3  # taken when 3 were applied
        assert node.log.snapshot_index == 3 and node.log.first_index == 4
        assert net.durable[i].snapshot == node.snapshot
        assert len(net.durable[i].entries) == node.log.last_index - 3  # the durable log starts after it
        state = node.snapshot.restore()
        assert state.data == {"x": "1,2,"} and state.applied("c", 2) == ("1,2,", 3)  # sessions included
    outs = [out for _, out in net.outputs if out.snapshot is not None]
    assert len(outs) == 3 and not any(out.snapshot_installed for out in outs)
    assert_no_violation(net)


def test_no_snapshot_without_snapshot_every(make_net: MakeNet) -> None:
    net = make_net(3)
    net.elect(1)
    writes(net, 1, 6)
    assert all(net.node(i).snapshot is None and net.node(i).log.snapshot_index == 0 for i in net.ids)


def test_restart_loads_the_snapshot_then_the_log_after_it_without_applying_from_index_1(make_net: MakeNet) -> None:
    net = make_net(3, config=COMPACTING)
    net.elect(1)
    writes(net, 1, 4)
    net.restart(2)
    node = net.node(2)
    assert (node.commit, node.last_applied) == (3, 3)  # as of the snapshot
    assert node.kv.data == {"x": "1,2,"} and node.log.snapshot_index == 3 and node.log.last_index == 5
    net.heartbeat(1)
    net.settle()
    applied = [index for i, out in net.outputs if i == 2 for index, _ in out.applied]
    assert applied[-2:] == [4, 5] and applied.count(1) == 1  # only what follows the snapshot, again
    assert node.kv.data == net.node(1).kv.data == {"x": "1,2,3,4,"}
    assert_no_violation(net)


def test_a_retry_after_a_restart_from_a_snapshot_is_answered_from_the_session(make_net: MakeNet) -> None:
    net = make_net(3, config=COMPACTING)
    net.elect(1)
    writes(net, 1, 2)  # no-op, c1, c2: snapshot at 3 holds c's session
    for i in net.ids:
        net.restart(i)
    net.elect(2)
    net.request(2, "c", 2, "append", "x", "2,")  # the client retries its last command
    reply = net.client_replies[-1]
    assert reply.ok and reply.index == 3 and reply.result == "1,2,"  # not applied again
    assert net.node(2).kv.data == {"x": "1,2,"}
    assert_no_violation(net)


# ----------------------------------------------------------------------------------------------- sending one


def lagging_follower(make_net: MakeNet, **config: object) -> ManualNet:
    """Node 3 misses everything after the first no-op while the others commit and compact past it."""
    net = make_net(3, config=replace(COMPACTING, **config))
    net.elect(1)
    for seq in range(1, 8):
        net.request(1, "c", seq, "append", "x", f"{seq},")
        net.drop(dst=3)
        net.settle(among=(1, 2))
    net.heartbeat(1)
    net.drop(dst=3)
    net.settle(among=(1, 2))
    assert net.node(1).log.snapshot_index >= 6 and net.node(3).log.last_index == 1
    return net


def test_a_lagging_follower_is_sent_the_snapshot_in_chunks_and_installs_it(make_net: MakeNet) -> None:
    net = lagging_follower(make_net)
    leader = net.node(1)
    net.heartbeat(1)
    net.deliver(dst=3)  # the heartbeat: rejected, the follower's log is too short
    net.deliver(dst=1)  # the rejection: the entries it needs are compacted
    pr = leader.progress[3]
    assert pr.state is SNAPSHOT and pr.pending_snapshot == leader.snapshot.index
    (chunk,) = net.pending(type="InstallSnapshot")
    assert chunk.offset == 0 and len(chunk.data) == 16 and not chunk.done
    assert not net.pending(type="AppendEntries", dst=3)  # none while the snapshot is on its way
    net.settle()
    node = net.node(3)
    snapshot = leader.snapshot
    assert node.snapshot == snapshot and node.log.snapshot_index == snapshot.index
    assert node.commit >= snapshot.index and node.kv.data == leader.kv.data
    chunks = [m for _, out in net.outputs for m in out.messages if isinstance(m, InstallSnapshot)]
    assert [c.offset for c in chunks] == list(range(0, snapshot.size, 16)) and chunks[-1].done
    assert b"".join(c.data for c in chunks) == snapshot.data
    assert pr.state is REPLICATE and pr.match == leader.log.last_index
    (installed,) = [out for i, out in net.outputs if i == 3 and out.snapshot is not None]
    assert installed.snapshot_installed and net.durable[3].snapshot == snapshot
    assert_no_violation(net)


def test_a_chunk_unanswered_for_a_heartbeat_interval_is_sent_again(make_net: MakeNet) -> None:
    net = lagging_follower(make_net)
    net.heartbeat(1)
    net.deliver(dst=3)
    net.deliver(dst=1)
    assert net.drop(type="InstallSnapshot") == 1  # lost
    net.heartbeat(1)  # sent less than an interval ago: not yet
    assert not net.pending(type="InstallSnapshot")
    net.now += CONFIG.heartbeat_interval
    net.heartbeat(1)
    (again,) = net.pending(type="InstallSnapshot")
    assert again.offset == 0
    net.settle()
    assert net.node(3).snapshot == net.node(1).snapshot
    assert_no_violation(net)


def test_duplicated_and_late_answers_send_nothing(make_net: MakeNet) -> None:
    net = lagging_follower(make_net)
    net.heartbeat(1)
    net.deliver(dst=3)
    net.deliver(dst=1)
    net.deliver(type="InstallSnapshot")
    (answer,) = net.take(type="InstallSnapshotReply")
    assert not answer.done and answer.next_offset == 16
    net.step(answer)
    (second,) = net.pending(type="InstallSnapshot")
    assert second.offset == 16
    net.step(answer)  # the same answer again (duplicated by the network): the chunk it answers is past
    assert len(net.pending(type="InstallSnapshot")) == 1
    net.settle()
    assert net.node(3).snapshot == net.node(1).snapshot
    assert_no_violation(net)


def test_leader_heartbeat_probes_at_its_snapshot_when_the_match_is_compacted(make_net: MakeNet) -> None:
    net = lagging_follower(make_net)
    leader = net.node(1)
    pr = leader.progress[3]
    pr.acknowledge(1)  # in REPLICATE with a match (1) the leader has compacted away
    pr.next = leader.log.last_index + 1
    net.heartbeat(1)
    (beat,) = net.pending(type="AppendEntries", dst=3)
    assert beat.prev_index == leader.log.snapshot_index and beat.prev_term == leader.log.snapshot_term
    net.settle()  # rejected, so the leader probes, finds the entries compacted, and sends the snapshot
    assert net.node(3).snapshot == leader.snapshot
    assert_no_violation(net)


# --------------------------------------------------------------------------------------------- receiving one


def follower_with(entries: tuple[Entry, ...], commit_through: int = 0, term: int = 2) -> Node:
    """Node 1 of three, a follower of node 2 in ``term``, holding ``entries`` with ``commit_through`` committed."""
    node = Node(1, (1, 2, 3), COMPACTING, random.Random(1), PersistentState(term, 2, entries))
    node.start(0)
    out = node.step(AppendEntries(term, 2, 1, len(entries), entries[-1].term if entries else 0, (), commit_through), 0)
    assert out.messages[0].success
    return node


def install(node: Node, snapshot: Snapshot, chunk: int = 1 << 20, term: int = 2) -> list:
    """Deliver ``snapshot`` to ``node`` from leader 2 in chunks; every reply."""
    replies = []
    for offset in range(0, snapshot.size, chunk):
        done = offset + chunk >= snapshot.size
        m = InstallSnapshot(
            term, 2, 1, snapshot.index, snapshot.term, offset, snapshot.data[offset : offset + chunk], done,
            snapshot.configuration,
        )  # fmt: skip
        replies += [r for r in node.step(m, 0).messages if isinstance(r, InstallSnapshotReply)]
    return replies


def a_snapshot(index: int, term: int, data: dict[str, str] | None = None) -> Snapshot:
    state = encode_state(data if data is not None else {"x": f"at {index}"}, {})
    return Snapshot(index, term, Configuration((1, 2, 3)), state)


def test_a_follower_keeps_the_log_that_follows_the_snapshot(make_net: MakeNet) -> None:
    """Figure 13, step 6: its log holds the snapshot's last entry (same index and term)."""
    log = tuple(Entry(t) for t in (1, 1, 2, 2, 2))
    node = follower_with(log)
    (reply,) = install(node, a_snapshot(3, 2))
    assert reply.done and reply.match_index == 3
    assert node.log.snapshot_index == 3 and node.log.last_index == 5 and node.log.entries() == list(log[3:])
    assert (node.commit, node.last_applied) == (3, 3) and node.kv.data == {"x": "at 3"}


def test_a_follower_discards_a_log_that_does_not_hold_the_snapshot_s_last_entry() -> None:
    """Figure 13, step 7: the entry at the snapshot's index has another term, or there is none."""
    node = follower_with(tuple(Entry(t) for t in (1, 1, 1, 1)))
    install(node, a_snapshot(3, 2))
    assert node.log.snapshot_index == 3 and node.log.last_index == 3 and node.log.last_term == 2
    short = follower_with((Entry(1),))
    m = InstallSnapshot(2, 2, 1, 9, 2, 0, a_snapshot(9, 2).data, True, Configuration((1, 2, 3)))
    out = short.step(m, 0)
    assert out.snapshot is not None and out.snapshot_installed and out.log_from == 10 and out.log_entries == ()
    assert short.log.snapshot_index == 9 and short.log.last_index == 9


def test_a_snapshot_older_than_the_commit_index_is_not_installed() -> None:
    node = follower_with(tuple(Entry(t) for t in (1, 1, 2, 2, 2)), commit_through=4)
    own = node.snapshot  # the one it took when it applied index 3
    before = (node.kv.data.copy(), node.log.last_index)
    (reply,) = install(node, a_snapshot(3, 2))
    assert reply.done and reply.match_index == 4  # "I have it": its log matches up to its commit index
    assert node.snapshot is own and node.commit == 4 and (node.kv.data, node.log.last_index) == before


def test_out_of_order_chunks_are_answered_with_where_to_resume() -> None:
    node = follower_with((Entry(1),))
    snap = a_snapshot(9, 2, {f"k{i}": "v" * 10 for i in range(5)})
    chunk = 16

    def send(offset: int) -> InstallSnapshotReply:
        data = snap.data[offset : offset + chunk]
        m = InstallSnapshot(2, 2, 1, 9, 2, offset, data, offset + chunk >= snap.size, snap.configuration)
        (reply,) = [r for r in node.step(m, 0).messages if isinstance(r, InstallSnapshotReply)]
        return reply

    assert send(16).next_offset == 0  # nothing held yet: start from 0
    assert send(0).next_offset == 16
    assert send(32).next_offset == 16  # a gap: resume at 16
    assert send(0).next_offset == 16  # offset 0 starts the snapshot again (Figure 13, step 2)
    offset = 16
    while True:
        reply = send(offset)
        if reply.done:
            break
        offset = reply.next_offset
    assert node.snapshot == snap and node.kv.data == snap.restore().data


def test_a_crash_loses_the_chunks_received_so_far(make_net: MakeNet) -> None:
    net = lagging_follower(make_net)
    net.heartbeat(1)
    net.deliver(dst=3)
    net.deliver(dst=1)
    net.deliver(type="InstallSnapshot")  # chunk 0 held by node 3
    net.restart(3)  # ... and lost
    net.settle()  # the answer to chunk 0 still reaches the leader, which sends chunk 16: node 3 says 0
    net.now += CONFIG.heartbeat_interval
    net.heartbeat(1)
    net.settle()
    assert net.node(3).snapshot == net.node(1).snapshot
    assert_no_violation(net)


def test_append_entries_before_the_snapshot_point_match_what_it_covers() -> None:
    """An AppendEntries whose prev_index the follower compacted: everything up to its snapshot is committed, so
    the part after the snapshot is taken and the reply says the logs match at least up to there."""
    node = follower_with((Entry(1),))
    install(node, a_snapshot(5, 2))
    m = AppendEntries(2, 2, 1, 3, 2, (Entry(2), Entry(2), Entry(2), Entry(2)), 6)  # entries 4..7
    out = node.step(m, 0)
    (reply,) = [r for r in out.messages if isinstance(r, AppendEntriesReply)]
    assert reply.success and reply.prev_index == 3 and reply.match_index == 7
    assert node.log.last_index == 7 and node.commit == 6
    old = AppendEntries(2, 2, 1, 1, 1, (Entry(1),), 6)  # entirely inside the snapshot
    (reply,) = [r for r in node.step(old, 0).messages if isinstance(r, AppendEntriesReply)]
    assert reply.success and reply.match_index == 5 and node.log.last_index == 7


def test_a_stale_term_chunk_is_answered_with_the_current_term() -> None:
    node = follower_with((Entry(1),), term=3)
    m = InstallSnapshot(2, 2, 1, 9, 2, 0, b"{}", True, Configuration((1, 2, 3)))
    (reply,) = [r for r in node.step(m, 0).messages if isinstance(r, InstallSnapshotReply)]
    assert reply.term == 3 and not reply.done and node.snapshot is None


def test_a_chunk_of_a_higher_term_makes_a_candidate_follow_its_sender() -> None:
    node = follower_with((Entry(1),))
    node.tick("election", 1)
    assert node.role != FOLLOWER
    install(node, a_snapshot(4, 3), term=5)
    assert (node.role, node.term, node.leader_id) == (FOLLOWER, 5, 2) and node.snapshot.index == 4


def test_the_leader_s_progress_is_in_snapshot_state_only_while_sending(make_net: MakeNet) -> None:
    net = lagging_follower(make_net)
    pr = net.node(1).progress[3]
    assert pr.state is not SNAPSHOT
    net.heartbeat(1)
    net.deliver(dst=3)
    net.deliver(dst=1)
    assert pr.state is SNAPSHOT
    net.deliver(type="InstallSnapshot")
    net.deliver(type="InstallSnapshotReply")
    assert pr.state is SNAPSHOT  # one chunk is not the snapshot
    net.settle()
    assert pr.state is REPLICATE and net.node(1).role == LEADER
