"""A server's stable storage: what survives a crash."""

from __future__ import annotations

from sim.raft.messages import Entry
from sim.raft.node import Output, PersistentState
from sim.raft.snapshot import Snapshot


class Storage:
    """A server's stable storage: what survives a crash. currentTerm, votedFor, the latest snapshot and the log
    entries after it (``entries[k]`` is the entry at index ``snapshot.index + 1 + k``). One Output's writes become
    durable together, or not at all (a crash while they are on their way to the disk loses all of them)."""

    __slots__ = ("entries", "snapshot", "term", "voted_for", "writes")

    def __init__(self) -> None:
        self.term = 0
        self.voted_for: int | None = None
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.writes = 0

    @property
    def snapshot_index(self) -> int:
        return self.snapshot.index if self.snapshot is not None else 0

    def write(self, out: Output) -> None:
        """Make an Output's writes durable, in the order ``sim.raft.output.Output`` gives: the hard state, the log
        rewrite, then the snapshot with the compaction it implies."""
        self.writes += 1
        if out.hard_state is not None:
            self.term, self.voted_for = out.hard_state
        if out.log_from is not None:
            # From beyond the end (an installed snapshot's log_from), there is nothing to delete.
            del self.entries[max(0, out.log_from - 1 - self.snapshot_index) :]
            self.entries.extend(out.log_entries)
        snapshot = out.snapshot
        if snapshot is not None:
            del self.entries[: snapshot.index - self.snapshot_index]  # all of them when the log ends before it
            self.snapshot = snapshot

    def term_at(self, index: int) -> int:
        """Term of the durable entry at ``index`` (1-based; the snapshot's term at its index, 0 at index 0); -1 if
        there is none, or it is compacted into the snapshot."""
        k = index - self.snapshot_index
        if k == 0:
            return self.snapshot.term if self.snapshot is not None else 0
        return self.entries[k - 1].term if 0 < k <= len(self.entries) else -1

    def state(self) -> PersistentState:
        return PersistentState(self.term, self.voted_for, tuple(self.entries), self.snapshot)
