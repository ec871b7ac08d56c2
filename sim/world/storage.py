"""A server's stable storage: what survives a crash."""

from __future__ import annotations

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
