"""Snapshots and log compaction: the paper's Section 7 and Figure 13 (Ongaro's thesis, Chapter 5).

Taking one. Once the entries a server has applied since its last snapshot reach ``RaftConfig.snapshot_every``, it
snapshots its state machine as of its last applied entry: the key-value store *and* the client sessions (without
them, a command applied before the snapshot and retried after a restart would be applied twice: Section 8's
guarantee must survive compaction), with the last included index and term and the configuration. Its log up to
that index is then discarded. A snapshot covers applied entries only, so only committed ones.

Sending one. A leader whose follower needs entries it has discarded sends it its latest snapshot instead, in
InstallSnapshot chunks of ``RaftConfig.snapshot_chunk`` bytes, one at a time: the next once the previous is
answered, the same one again after a heartbeat interval without an answer (the follower tells where to resume,
and the leader takes only the answer to the chunk it last sent, so duplicated or late answers send nothing).
Meanwhile the follower's ``Progress`` is in its SNAPSHOT state and gets no AppendEntries; once the follower holds
the snapshot the leader probes from the entry after it.

Receiving one (Figure 13, receiver implementation, numbered as there):

1. a chunk of an older term is answered with the current term (in ``Node.step``, as for AppendEntries);
2. a chunk at offset 0 starts a new snapshot; 3. a chunk that continues the one being received is added to it;
4. until the last chunk (``done``), the follower answers with the offset it expects next;
5. the snapshot is complete. Unless the follower has already committed that far (then installing it would undo
   committed entries: etcd-io/raft's ``restore`` refuses it too, and the follower answers as though it had):
6. if its log holds the snapshot's last entry (same index and term), it keeps the entries that follow it;
7. otherwise it discards its whole log;
8. its state machine (and configuration) become the snapshot's; commit and last applied move up to its index.

The snapshot is made durable with the log compaction that comes with it (``Output.snapshot``), before the answer
that says it is held leaves. A restart loads the snapshot and then the log after it: nothing is applied again from
index 1, the entries after the snapshot are applied again as their commitment becomes known.

The rules are a mixin of ``sim.raft.node.Node``: they read and change the node's state, and the step function
calls them (``_on_install_snapshot``, ``_on_install_reply``, ``_start_snapshot``, ``_resend_snapshot``,
``_take_snapshot``, ``_hand_over_snapshot``, ``_after_snapshot_point``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .kv import KeyValueStore
from .log import RaftLog
from .messages import Entry, InstallSnapshot, InstallSnapshotReply
from .progress import SNAPSHOT
from .quorum import Configuration

if TYPE_CHECKING:
    from .progress import Progress

FOLLOWER = "follower"  # sim.raft.node.FOLLOWER (node imports this module, so it cannot import node)

_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode


def encode_state(data: dict[str, str], sessions: dict[str, tuple[int, str | None, int]]) -> bytes:
    """A state machine's content as bytes: the same state gives the same bytes (keys sorted), in any process."""
    return _encode({"data": data, "sessions": sessions}).encode()


def decode_state(blob: bytes) -> KeyValueStore:
    """The key-value store, client sessions included, that ``encode_state`` wrote."""
    d = json.loads(blob)
    kv = KeyValueStore()
    kv.data = d["data"]
    kv.sessions = {client: (s[0], s[1], s[2]) for client, s in d["sessions"].items()}
    return kv


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A server's state machine as of log index ``index`` (whose entry has term ``term``), with the configuration
    as of that index (whatever ``Configuration`` value the node held). ``data`` is the key-value store and its
    client sessions, as ``encode_state`` writes them."""

    index: int
    term: int
    configuration: Configuration
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def restore(self) -> KeyValueStore:
        return decode_state(self.data)

    def __repr__(self) -> str:
        return f"Snapshot(index={self.index}, term={self.term}, {self.configuration}, {len(self.data)} bytes)"


class Transfer:
    """A leader's InstallSnapshot to one follower: the snapshot it sends, the offset of the chunk it last sent
    (what the follower had acknowledged holding), and when it sent it (local microseconds)."""

    __slots__ = ("offset", "sent_at", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.offset = 0
        self.sent_at = 0


class Incoming:
    """The chunks of a snapshot a follower has received so far (volatile: a crash loses them)."""

    __slots__ = ("configuration", "data", "index", "term")

    def __init__(self, index: int, term: int, configuration: Configuration) -> None:
        self.index = index
        self.term = term
        self.configuration = configuration  # committed: the snapshot's, which every chunk carries
        self.data = bytearray()


class SnapshotRules:
    """Taking, sending, receiving and restoring snapshots: a mixin of ``sim.raft.node.Node``."""

    # The node's state these rules read and change (Node.__init__ sets all of it).
    if TYPE_CHECKING:
        id: int
        term: int
        role: str
        leader_id: int | None
        commit: int
        last_applied: int
        last_leader_contact: int | None
        now: int
        log: RaftLog
        kv: KeyValueStore
        configuration: Configuration
        peers: tuple[int, ...]
        progress: dict[int, Progress]
        match: dict[int, int]
        last_ack: dict[int, int]
        config: Any
        out: Any  # the Output being built (sim.raft.output imports this module)

        def _send(self, m: Any) -> None: ...
        def _send_append(self, peer: int, heartbeat: bool = False) -> None: ...
        def _become_follower(self, term: int, leader: int | None) -> None: ...
        def _reset_election_timer(self) -> None: ...
        def _mark_log(self, index: int) -> None: ...
        def _maybe_commit(self) -> None: ...

    def _init_snapshots(self, snapshot: Snapshot | None) -> None:
        """At construction: no snapshot, or a restart from a durable one (the log already starts after it)."""
        self.snapshot = snapshot  # the latest snapshot (taken, installed or loaded), None before the first
        self._snapshot_every: int = self.config.snapshot_every  # 0: never take one
        self._snapshot_point = 0  # its index (0 without one); the log may hold entries up to it until ``_take``
        # A snapshot taken or installed by the input being handled, for its Output.
        self._new_snapshot: Snapshot | None = None
        self._new_snapshot_installed = False
        self._incoming: Incoming | None = None  # a follower's partly received snapshot
        self._transfers: dict[int, Transfer] = {}  # a leader's snapshots on their way to followers
        if snapshot is not None:
            self._snapshot_point = snapshot.index
            self.commit = self.last_applied = snapshot.index  # a snapshot holds only committed, applied entries
            self.kv = self._restore_state(snapshot)

    # ---------------------------------------------------------------------------------------------- taking

    def _take_snapshot(self) -> None:
        """Snapshot the state machine as of the last applied entry. The log up to it is discarded once the
        Output hands the snapshot over (``_hand_over_snapshot``), after the log write it may carry is taken."""
        index = self.last_applied
        config = self._snapshot_configuration(index)
        self._keep(Snapshot(index, self.log.term_at(index), config, self._snapshot_state()), False)

    def _snapshot_configuration(self, index: int) -> Configuration:
        """The configuration as of ``index``, for a snapshot through it (the node's membership rules refine it)."""
        return self.configuration

    def _snapshot_state(self) -> bytes:
        """The state machine's content for a snapshot: the data and the client sessions."""
        return encode_state(self.kv.data, self.kv.sessions)

    def _restore_state(self, snapshot: Snapshot) -> KeyValueStore:
        """The state machine a snapshot holds."""
        return snapshot.restore()

    def _keep(self, snapshot: Snapshot, installed: bool) -> None:
        self.snapshot = snapshot
        self._snapshot_point = snapshot.index
        self._new_snapshot = snapshot
        self._new_snapshot_installed = installed

    def _hand_over_snapshot(self, out: Any) -> None:
        """Put the snapshot taken or installed by this input in its Output, and compact the log for one taken."""
        snapshot = self._new_snapshot
        assert snapshot is not None
        out.snapshot = snapshot
        out.snapshot_installed = self._new_snapshot_installed
        if not self._new_snapshot_installed:
            self.log.compact(snapshot.index)
        self._new_snapshot = None

    # --------------------------------------------------------------------------------------------- sending

    def _start_snapshot(self, peer: int, pr: Progress) -> None:
        """``peer`` needs entries this leader has discarded: send it the latest snapshot instead (Figure 13)."""
        snapshot = self.snapshot
        assert snapshot is not None, "the log is compacted, so there is a snapshot"
        pr.become_snapshot(snapshot.index)
        transfer = self._transfers[peer] = Transfer(snapshot)
        self._send_chunk(peer, transfer)

    def _resend_snapshot(self, peer: int) -> None:
        """On a heartbeat: a chunk unanswered for a heartbeat interval was lost (or its answer was): again."""
        transfer = self._transfers[peer]
        if self.now - transfer.sent_at >= self.config.heartbeat_interval:
            self._send_chunk(peer, transfer)

    def _send_chunk(self, peer: int, transfer: Transfer) -> None:
        snapshot = transfer.snapshot
        offset = transfer.offset
        end = offset + self.config.snapshot_chunk
        data = snapshot.data[offset:end]
        done = end >= len(snapshot.data)
        transfer.sent_at = self.now
        self._send(
            InstallSnapshot(
                self.term, self.id, peer, snapshot.index, snapshot.term, offset, data, done, snapshot.configuration
            )
        )

    def _on_install_reply(self, m: InstallSnapshotReply) -> None:
        pr = self.progress.get(m.src)
        if pr is None:
            return  # from a server this leader no longer replicates to (removed)
        self.last_ack[m.src] = self.now
        if m.done:
            # The follower's state covers the snapshot: its log matches this leader's up to match_index.
            advanced = m.match_index > pr.match
            pr.acknowledge(m.match_index)  # ends the SNAPSHOT state once it covers the snapshot sent
            if advanced:
                self.match[m.src] = pr.match
                self._maybe_commit()
            if pr.next <= self.log.last_index:
                self._send_append(m.src)
            return
        transfer = self._transfers.get(m.src)
        if (
            pr.state is not SNAPSHOT
            or transfer is None
            or m.last_index != transfer.snapshot.index
            or m.offset != transfer.offset
        ):
            return  # the answer to a chunk this leader has moved past (duplicated, late, or of another transfer)
        transfer.offset = m.next_offset
        self._send_chunk(m.src, transfer)

    # ------------------------------------------------------------------------------------------- receiving

    def _on_install_snapshot(self, m: InstallSnapshot) -> None:
        # m.term == self.term here: Node.step adopted a higher term and answered a lower one (step 1).
        if self.role != FOLLOWER:
            self._become_follower(self.term, m.src)
        else:
            self.leader_id = m.src
            self.last_leader_contact = self.now
            self._reset_election_timer()
        if self._covers(m.last_index):
            # This server has committed that far already: installing the snapshot would undo committed entries.
            # Its log matches the leader's up to its commit index, which is what the leader needs to know.
            self._send(InstallSnapshotReply(self.term, self.id, m.src, m.last_index, m.offset, 0, True, self.commit))
            return
        incoming = self._incoming
        if m.offset == 0:  # step 2
            incoming = self._incoming = Incoming(m.last_index, m.last_term, m.configuration)
        elif (
            incoming is None
            or incoming.index != m.last_index
            or incoming.term != m.last_term
            or m.offset != len(incoming.data)
        ):
            # Not the chunk that continues what is held (lost, duplicated or reordered chunks; or the chunks held
            # were lost in a crash): say where to resume, 0 to start again.
            same = incoming is not None and (incoming.index, incoming.term) == (m.last_index, m.last_term)
            held = len(incoming.data) if incoming is not None and same else 0
            self._send(InstallSnapshotReply(self.term, self.id, m.src, m.last_index, m.offset, held))
            return
        incoming.data += m.data  # step 3
        if not m.done:  # step 4
            self._send(InstallSnapshotReply(self.term, self.id, m.src, m.last_index, m.offset, len(incoming.data)))
            return
        self._incoming = None
        held = len(incoming.data)
        self._install(Snapshot(m.last_index, m.last_term, m.configuration, bytes(incoming.data)))  # steps 5-8
        self._send(InstallSnapshotReply(self.term, self.id, m.src, m.last_index, m.offset, held, True, m.last_index))

    def _receiving_configuration(self) -> Configuration | None:
        """The configuration of the snapshot this server is receiving, if it is receiving one (``Node._disrupts``)."""
        incoming = self._incoming
        return None if incoming is None else incoming.configuration

    def _covers(self, index: int) -> bool:
        """Whether this server's state already covers a snapshot whose last entry is at ``index``."""
        return index <= self.commit

    def _install(self, snapshot: Snapshot) -> None:
        """Figure 13's steps 5-8 for a complete snapshot newer than this server's commit index."""
        log = self.log
        if log.term_at(snapshot.index) == snapshot.term:
            log.compact(snapshot.index)  # step 6: the entries after the snapshot's last one stay
        else:
            log.restore(snapshot.index, snapshot.term)  # step 7
            self._mark_log(snapshot.index + 1)  # the durable log after the snapshot goes too (none is kept)
        self.kv = self._restore_state(snapshot)  # step 8
        self.commit = self.last_applied = snapshot.index
        self._adopt_configuration(snapshot.configuration)
        self._keep(snapshot, True)

    def _adopt_configuration(self, configuration: Configuration) -> None:
        if configuration != self.configuration:
            self.configuration = configuration
            self.peers = tuple(p for p in configuration.ids() if p != self.id)

    def _after_snapshot_point(self, prev: int, entries: tuple[Entry, ...]) -> tuple[int, tuple[Entry, ...]]:
        """An AppendEntries whose ``prev`` this server has compacted into its snapshot. Everything up to the
        snapshot's index is committed, so it matches the leader's log (which holds every committed entry): the
        message holds from the snapshot's index on, as (new prev, the entries after it)."""
        point = self.log.snapshot_index
        return point, entries[point - prev :]
