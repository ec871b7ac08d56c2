"""A server's stable storage: what survives a crash."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class FsyncDisk:
    """Durable writes as LogCabin's ``SimpleFileLog`` made them when the Raft paper was measured (its 2012-2013
    version, ``Server/SimpleFileLog.cc`` in logcabin/logcabin): every file it writes is followed by an fsync of
    the file and one of its directory, and each write waits for the previous one (the server holds its lock).

    - Updating the metadata (currentTerm and votedFor) writes one file: 2 fsyncs. ``RaftConsensus`` updates it
      once when a server adopts a higher term (``stepDown``) and once more when it then grants its vote, so a voter
      that votes in a term it has just learned pays two updates; a candidate bumps its term and votes for itself
      in one.
    - Appending an entry writes the entry's file and then the metadata: 4 fsyncs per entry.
    - Truncating the log updates the metadata first (removing the entries' files is not waited for here).

    One fsync takes ``fsync`` microseconds. A write is what one Output asks for: its latency is the sum."""

    fsync: int  # microseconds

    def latency(self, storage: Storage, out: Output, node_id: int) -> int:
        fsyncs = 0
        hard = out.hard_state
        if hard is not None:
            term, voted_for = hard
            if term != storage.term:
                fsyncs += 2  # the new term (with votedFor as it then is, the server's own vote for a candidate)
                if voted_for is not None and voted_for != node_id:
                    fsyncs += 2  # then the vote, in a second update
            elif voted_for != storage.voted_for:
                fsyncs += 2
        if out.log_from is not None:
            if out.log_from <= storage.snapshot_index + len(storage.entries):
                fsyncs += 2  # a truncation updates the metadata first
            fsyncs += 4 * len(out.log_entries)
        return fsyncs * self.fsync
