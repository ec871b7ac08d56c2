"""A catalog of realistic Raft bugs, each a subclass of the correct ``Node`` that overrides one rule.

They live here, not behind flags in ``sim.raft``, so the correct protocol's code paths carry no trace of them.
Switch one on with ``ClusterConfig(bug=NAME)``, the scenario key ``cluster.bug`` or ``raftsim fuzz --bug NAME``.
Each docstring's first line is the mistake the bug plants, in one line (``raftsim fuzz --list-bugs`` prints it, see
``describe``); the rest says what the bug breaks and what the checker reports when the fuzzer finds it.
"""

from __future__ import annotations

from typing import Any

from sim.raft.kv import KeyValueStore
from sim.raft.kv import step as kv_step
from sim.raft.messages import (
    AppendEntries,
    ClientReply,
    ClientRequest,
    Command,
    Entry,
    RequestVote,
    RequestVoteReply,
)
from sim.raft.node import LEADER, Node, Output
from sim.raft.read_only import LEASE
from sim.raft.snapshot import Snapshot, encode_state


class Figure8Commit(Node):
    """Commits an entry of an earlier term once a majority stores it (the trap of Figure 8).

    A later leader overwrites the "committed" entry: StateMachineSafety or LeaderCompleteness."""

    def _maybe_commit(self) -> None:
        candidate = self._quorum_match()
        if candidate > self.commit:
            self.commit = candidate
            self._apply_committed()


class VolatileVote(Node):
    """Does not persist votedFor: after a restart it can vote twice in one term.

    Two servers can then win the same term: ElectionSafety."""

    def _take(self) -> Output:
        out = super()._take()
        if out.hard_state is not None:
            out.hard_state = (out.hard_state[0], None)
        return out


class VolatileTerm(Node):
    """Does not persist currentTerm: after a restart it is back in an old term.

    votedFor and the log are persisted. TermMonotonic, and with it double votes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._boot_term = self.term  # the only term that ever reaches the disk

    def _take(self) -> Output:
        out = super()._take()
        if out.hard_state is not None:
            out.hard_state = (self._boot_term, out.hard_state[1])
        return out


class VoteWithoutLogCheck(Node):
    """Grants votes without checking that the candidate's log is up to date (Section 5.4.1).

    A candidate missing committed entries can win: LeaderCompleteness."""

    def _on_request_vote(self, m: RequestVote) -> None:
        if m.prevote:
            grant = m.term > self.term and not self._heard_from_leader_recently()
            self._send(RequestVoteReply(m.term if grant else self.term, self.id, m.src, grant, True))
            return
        grant = self.voted_for in (None, m.src)
        if grant:
            self.voted_for = m.src
            self._hard_dirty = True
            self._reset_election_timer()
        self._send(RequestVoteReply(self.term, self.id, m.src, grant))


class TruncateOnMatch(Node):
    """Truncates its log on every AppendEntries, even where the entries match the leader's.

    It deletes everything after prev_index, so a stale, reordered AppendEntries erases committed entries.
    StateMachineSafety."""

    def _merge_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        if prev < self.log.last_index:
            self._truncate(prev + 1)
        for e in entries:
            self._append(e)


class AckBeforePersist(Node):
    """Acknowledges appended entries and votes before they are durable on disk.

    A crash then loses entries (or a vote) a leader counted on. Needs a disk latency and crashes.
    LeaderCompleteness or ElectionSafety."""

    def _take(self) -> Output:
        out = super()._take()
        if out.hard_state is not None or out.log_from is not None:
            out.unsynced_messages, out.messages = out.messages, []
        return out


class CommitBeyondMatch(Node):
    """Follows the leader's commit index even when the log consistency check failed.

    It takes the commit index from every AppendEntries of the current term, bounded only by its own last index
    (Figure 2 bounds it by the index of the last new entry, once the log is known to match the leader's up to
    there). A follower still holding entries of a deposed leader that never committed then commits them.
    StateMachineSafety."""

    def _on_append_entries(self, m: AppendEntries) -> None:
        super()._on_append_entries(m)
        new_commit = min(m.commit, self.log.last_index)
        if new_commit > self.commit:
            self.commit = new_commit
            self._apply_committed()


class _SessionlessStore(KeyValueStore):
    """The store without its session check: every copy of a command in the log takes effect."""

    __slots__ = ()

    def apply(self, command: Command, index: int) -> tuple[str | None, int]:
        result, new = kv_step(self.data.get(command.key, ""), command.op, command.value, command.expected)
        if command.op != "get" and result is not None:
            self.data[command.key] = new
        self.sessions[command.client] = (command.seq, result, index)
        return result, index


class DuplicateApply(Node):
    """Applies a retried command again: no client session check (Section 8).

    A client that retries after a timeout, at a new leader, has its append applied twice: Linearizability."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kv = self._restore_state(self.snapshot) if self.snapshot else _SessionlessStore()

    def _restore_state(self, snapshot: Snapshot) -> KeyValueStore:
        store = _SessionlessStore()
        restored = snapshot.restore()
        store.data, store.sessions = restored.data, restored.sessions
        return store

    def _on_client_request(self, m: ClientRequest) -> None:
        if self.role != LEADER:
            super()._on_client_request(m)
            return
        index = self._append(Entry(self.term, m.command))  # retry or not: appended again
        self.pending[index] = m.command
        self._broadcast_append()
        self._maybe_commit()


class StaleLeaderRead(Node):
    """A leader answers reads from its own state without confirming it still leads.

    Thesis 6.4: a leader cut off from the majority goes on answering while a new leader takes writes.
    Linearizability (a stale read)."""

    def _on_client_request(self, m: ClientRequest) -> None:
        c = m.command
        if self.role == LEADER and c.op == "get":
            self._send(ClientReply(self.id, m.src, c.seq, True, self.kv.data.get(c.key, ""), None, 0))
            return
        super()._on_client_request(m)


class FollowerRead(Node):
    """A follower answers reads from its own state machine.

    That state lags the leader's commit index: Linearizability (a read that misses an acknowledged write)."""

    def _on_client_request(self, m: ClientRequest) -> None:
        c = m.command
        if self.role != LEADER and c.op == "get":
            self._send(ClientReply(self.id, m.src, c.seq, True, self.kv.data.get(c.key, ""), None, 0))
            return
        super()._on_client_request(m)


class AckBeforeCommit(Node):
    """Acknowledges a write once it is in the leader's own log, before it commits.

    A leader that crashes or is cut off then loses writes its clients were told had succeeded. AckedDurable (the
    checker sees the acknowledgment of an index not committed), or Linearizability."""

    def _on_client_request(self, m: ClientRequest) -> None:
        c = m.command
        before = self.log.last_index
        super()._on_client_request(m)
        if self.role == LEADER and c.op in ("put", "append") and self.log.last_index > before:
            index = self.log.last_index
            if self.pending.pop(index, None) is not None:
                self._send(ClientReply(self.id, c.client, c.seq, True, c.value, None, index))


class ConfigBeforeTermCommit(Node):
    """Appends a configuration entry before committing an entry of its term (the 2015 bug).

    Ongaro's raft-dev post of 2015: a leader's uncommitted change is left on a minority when it fails; a new leader
    appends a sibling change before committing anything of its term, the two configurations have majorities that
    do not meet, and the old leader can come back and win with its own. ConfigurationOverlap (then
    LeaderCompleteness or StateMachineSafety)."""

    def _may_change_configuration(self) -> bool:
        return not self._configuration_pending()


class ConcurrentConfigChanges(Node):
    """Starts a second configuration change before the first is committed.

    It takes only the change it is catching up a server for as "in progress", not a configuration entry on its way
    to commit. The configuration two changes away from the committed one can have majorities that do not meet the
    committed one's, which servers that have not heard of the first change still use: ConfigurationOverlap."""

    def _configuration_pending(self) -> bool:
        return False


class SnapshotLastIndex(Node):
    """Labels a snapshot with its last log index instead of its last applied index.

    The log up to that index is discarded as though the state machine held it, entries not applied (perhaps
    never committed) included. SnapshotIntegrity (a snapshot beyond the commit index)."""

    def _take_snapshot(self) -> None:
        index = self.log.last_index
        self._keep(Snapshot(index, self.log.last_term, self.configuration, self._snapshot_state()), False)


class SnapshotWithoutSessions(Node):
    """Snapshots the key-value store without its client sessions.

    A server restarted from such a snapshot, or sent it, has forgotten which commands it applied, and applies a
    retry again (Section 8). SnapshotIntegrity (the sessions differ), or Linearizability."""

    def _snapshot_state(self) -> bytes:
        return encode_state(self.kv.data, {})


class InstallOlderSnapshot(Node):
    """Installs a snapshot older than its commit index.

    Figure 13's receiver steps have no such check (etcd's ``restore`` has): a late or duplicated InstallSnapshot
    takes the state machine and the commit index back to an older snapshot's. CommitMonotonic or
    StateMachineSafety."""

    def _covers(self, index: int) -> bool:
        return False


class LeaseWithoutDriftMargin(Node):
    """Holds a read lease for a whole election timeout: no margin for clock drift (thesis 6.4.1).

    With lease reads, a leader whose clock runs slow (or whose followers' run fast) answers reads after the others
    may have elected a new leader that took writes. Linearizability (a stale read)."""

    def _lease_duration(self) -> int:
        return self.config.election_timeout_min if self.config.read == LEASE else 0


class ReadIndexBeforeTermCommit(Node):
    """Answers reads without a log entry before a new leader has committed an entry of its term.

    Thesis 6.4 step 1: until its no-op commits, a new leader's commit index can be behind a write an earlier leader
    committed and acknowledged, and a read answered from it misses that write. Linearizability (a stale read)."""

    def _committed_in_term(self) -> bool:
        return True


BUGS: dict[str, type[Node]] = {
    "figure8-commit": Figure8Commit,
    "volatile-vote": VolatileVote,
    "volatile-term": VolatileTerm,
    "vote-without-log-check": VoteWithoutLogCheck,
    "truncate-on-match": TruncateOnMatch,
    "ack-before-persist": AckBeforePersist,
    "commit-beyond-match": CommitBeyondMatch,
    "duplicate-apply": DuplicateApply,
    "stale-leader-read": StaleLeaderRead,
    "follower-read": FollowerRead,
    "ack-before-commit": AckBeforeCommit,
    "config-before-term-commit": ConfigBeforeTermCommit,
    "concurrent-config-changes": ConcurrentConfigChanges,
    "snapshot-last-index": SnapshotLastIndex,
    "snapshot-without-sessions": SnapshotWithoutSessions,
    "install-older-snapshot": InstallOlderSnapshot,
    "lease-without-drift-margin": LeaseWithoutDriftMargin,
    "readindex-before-term-commit": ReadIndexBeforeTermCommit,
}


def describe(name: str) -> str:
    """The mistake the bug ``name`` plants, in one line: the first line of its class's docstring."""
    return (BUGS[name].__doc__ or "").strip().partition("\n")[0]


def node_class_for(name: str) -> type[Node]:
    try:
        return BUGS[name]
    except KeyError:
        raise ValueError(f"unknown bug {name!r}; known: {', '.join(BUGS)}") from None
