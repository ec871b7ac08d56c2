"""The replicated log, 1-indexed, with a sentinel entry of term 0 at index 0.

The sentinel defines the "empty log" special cases out of existence: ``term_at(0)`` is 0, so the AppendEntries
consistency check and the up-to-date comparison need no branch for an empty log.

Terms along a log never decrease (each leader appends in its own term, which exceeds those before it), so the
searches used by the fast back-off are binary searches.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from operator import attrgetter

from .messages import Entry

_SENTINEL = Entry(0, None)
_term = attrgetter("term")


class RaftLog:
    __slots__ = ("items", "last_index")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        # ``items[i]`` is the entry at index i, ``items[0]`` the sentinel. Read it, never change it: the node's
        # hot paths index it directly (``log.items[i].term``) where the index is known to exist, rather than pay
        # for a call to ``term_at``.
        self.items: list[Entry] = [_SENTINEL, *entries]
        # A plain attribute, kept equal to len(items) - 1: it is read several times per message.
        self.last_index = len(self.items) - 1

    @property
    def last_term(self) -> int:
        return self.items[-1].term

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index``; -1 if there is none (never equal to a real term)."""
        if 0 <= index < len(self.items):
            return self.items[index].term
        return -1

    def entry(self, index: int) -> Entry:
        return self.items[index]

    def slice(self, start: int, stop: int) -> tuple[Entry, ...]:
        """Entries ``start <= i < stop`` (1-based indexes)."""
        return tuple(self.items[start:stop])

    def entries(self) -> Sequence[Entry]:
        """All real entries (without the sentinel), as a read-only view for storage and checkers."""
        return self.items[1:]

    def append(self, entry: Entry) -> int:
        self.items.append(entry)
        self.last_index += 1
        return self.last_index

    def extend(self, entries: Sequence[Entry]) -> None:
        self.items.extend(entries)
        self.last_index = len(self.items) - 1

    def truncate_from(self, index: int) -> None:
        """Delete the entries at ``index`` and after. Index 0 (the sentinel) can never be deleted."""
        assert index >= 1
        del self.items[index:]
        self.last_index = len(self.items) - 1

    def first_index_of_term(self, term: int) -> int:
        return bisect_left(self.items, term, key=_term)

    def last_index_of_term(self, term: int) -> int:
        """Last index holding ``term``, or 0 when the log has no entry of that term."""
        i = bisect_right(self.items, term, key=_term) - 1
        return i if i > 0 and self.items[i].term == term else 0

    def is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        """Whether a log ending at (index, term) is at least as up-to-date as this one (Section 5.4.1)."""
        mine = self.last_term
        return last_log_term > mine or (last_log_term == mine and last_log_index >= self.last_index)
