"""A server's stable storage: what survives a crash."""

from __future__ import annotations

from dataclasses import dataclass

from sim.raft.messages import Entry
from sim.raft.node import Output, PersistentState


class Storage:
    """A server's stable storage: what survives a crash."""

    __slots__ = ("entries", "term", "voted_for", "writes")

    def __init__(self) -> None:
        self.term = 0
        self.voted_for: int | None = None
        self.entries: list[Entry] = []
        self.writes = 0

    def write(self, out: Output) -> None:
        self.writes += 1
        if out.hard_state is not None:
            self.term, self.voted_for = out.hard_state
        if out.log_from is not None:
            del self.entries[out.log_from - 1 :]
            self.entries.extend(out.log_entries)

    def term_at(self, index: int) -> int:
        """Term of the durable entry at ``index`` (1-based); -1 if there is none (0 at index 0)."""
        if index == 0:
            return 0
        return self.entries[index - 1].term if 0 < index <= len(self.entries) else -1

    def state(self) -> PersistentState:
        return PersistentState(self.term, self.voted_for, tuple(self.entries))


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
            if out.log_from <= len(storage.entries):
                fsyncs += 2  # a truncation updates the metadata first
            fsyncs += 4 * len(out.log_entries)
        return fsyncs * self.fsync
