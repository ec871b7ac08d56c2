"""The replicated log, 1-indexed, held after a snapshot point (paper Section 7).

The log holds the entries ``first_index .. last_index``. Everything up to and including the *snapshot point*
(``snapshot_index``, ``snapshot_term``: the last entry a snapshot covers; (0, 0) when there has been none) has been
discarded; the log remembers only the point's term. Internally the point is a sentinel entry standing in front of
the held entries, which defines the "empty log" special cases out of existence: ``term_at(snapshot_index)`` is the
point's term (0 at index 0), so the AppendEntries consistency check and the up-to-date comparison need no branch
for an empty log, with or without a snapshot.

Terms along a log never decrease (each leader appends in its own term, which exceeds those before it), so the
searches used by the fast back-off are binary searches.

Only this module indexes the list of entries: everything else goes through ``term_at``, ``entry`` and ``slice``,
which translate an index by the snapshot point.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from operator import attrgetter

from .messages import Entry

_term = attrgetter("term")


class RaftLog:
    __slots__ = ("_items", "_offset", "last_index")

    def __init__(self, entries: Iterable[Entry] = (), snapshot_index: int = 0, snapshot_term: int = 0) -> None:
        """The log after the snapshot point (``snapshot_index``, ``snapshot_term``), holding ``entries`` from
        ``snapshot_index + 1`` on."""
        # ``_items[k]`` is the entry at index ``_offset + k``; ``_items[0]`` the sentinel for the snapshot point.
        self._offset = snapshot_index
        self._items: list[Entry] = [Entry(snapshot_term, None), *entries]
        # A plain attribute, kept equal to _offset + len(_items) - 1: it is read several times per message.
        self.last_index = snapshot_index + len(self._items) - 1

    def __repr__(self) -> str:
        return f"RaftLog(after ({self._offset}, {self._items[0].term}), {len(self._items) - 1} entries)"

    # ------------------------------------------------------------------------------------------ reading

    @property
    def snapshot_index(self) -> int:
        return self._offset

    @property
    def snapshot_term(self) -> int:
        return self._items[0].term

    @property
    def first_index(self) -> int:
        """The first index the log holds an entry for (``last_index + 1`` when it holds none)."""
        return self._offset + 1

    @property
    def last_term(self) -> int:
        return self._items[-1].term

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index`` (of the snapshot point at ``snapshot_index``); -1 if the log does not
        know it, compacted away or beyond the end (never equal to a real term)."""
        # On every AppendEntries sent and received: written for the fewest bytecodes.
        k = index - self._offset
        if k >= 0:
            try:
                return self._items[k].term
            except IndexError:
                pass
        return -1

    def entry(self, index: int) -> Entry:
        """The entry at ``index``, ``first_index <= index <= last_index`` (the snapshot point's sentinel, a no-op
        of its term, at ``snapshot_index``). IndexError outside."""
        k = index - self._offset
        if k < 0:
            raise IndexError(f"log index {index} is compacted (the log starts after {self._offset})")
        return self._items[k]

    def slice(self, start: int, stop: int) -> tuple[Entry, ...]:
        """Entries ``start <= i < stop``, where ``first_index <= start`` (``stop`` is clipped to the end)."""
        offset = self._offset
        if start > offset:
            return tuple(self._items[start - offset : stop - offset])
        raise IndexError(f"log index {start} is compacted (the log starts after {offset})")

    def entries(self) -> Sequence[Entry]:
        """Every entry held (``first_index`` on), as a read-only copy for storage and checkers."""
        return self._items[1:]

    def matching_prefix(self, prev: int, entries: Sequence[Entry]) -> int:
        """How many of ``entries``, placed after index ``prev`` (``snapshot_index <= prev <= last_index``), the
        log already holds with the same terms: the first of them that conflicts or is new is ``entries[k]``
        (etcd's ``findConflict``; Figure 2, receiver step 3)."""
        items = self._items
        first = prev - self._offset + 1  # list position of entries[0]
        n = min(len(entries), len(items) - first)
        for k in range(n):
            if items[first + k].term != entries[k].term:
                return k
        return n

    def first_index_of_term(self, term: int) -> int:
        """The first index holding ``term``, or where it would be if the log has none (for the fast back-off's
        conflict hint). The snapshot point counts, so an answer of ``snapshot_index`` means the term began at or
        before it."""
        return self._offset + bisect_left(self._items, term, key=_term)

    def last_index_of_term(self, term: int) -> int:
        """Last index holding ``term`` (the snapshot point counts), or 0 when the log has no entry of that term."""
        k = bisect_right(self._items, term, key=_term) - 1
        return self._offset + k if k >= 0 and self._items[k].term == term and (k or self._offset) else 0

    def is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        """Whether a log ending at (index, term) is at least as up-to-date as this one (Section 5.4.1)."""
        mine = self._items[-1].term
        return last_log_term > mine or (last_log_term == mine and last_log_index >= self.last_index)

    # ------------------------------------------------------------------------------------------ changing

    def append(self, entry: Entry) -> int:
        self._items.append(entry)
        self.last_index += 1
        return self.last_index

    def extend(self, entries: Sequence[Entry]) -> None:
        self._items.extend(entries)
        self.last_index = self._offset + len(self._items) - 1

    def truncate_from(self, index: int) -> None:
        """Delete the entries at ``index`` and after. The snapshot point can never be deleted."""
        if index <= self._offset:
            raise IndexError(f"cannot truncate from {index}: the log starts after {self._offset}")
        del self._items[index - self._offset :]
        self.last_index = self._offset + len(self._items) - 1

    def compact(self, through_index: int) -> None:
        """Discard the entries up to and including ``through_index`` (now covered by a snapshot): it becomes the
        snapshot point, with its entry's term. ``snapshot_index <= through_index <= last_index``; a compaction
        to the current point changes nothing."""
        offset = self._offset
        if not offset <= through_index <= self.last_index:
            raise IndexError(f"cannot compact through {through_index}: the log holds {offset + 1}..{self.last_index}")
        k = through_index - offset
        if k:
            term = self._items[k].term
            del self._items[:k]
            self._items[0] = Entry(term, None)
            self._offset = through_index

    def restore(self, index: int, term: int) -> None:
        """Replace everything by an empty log after the snapshot point (``index``, ``term``): an InstallSnapshot
        whose snapshot the log does not extend (Figure 13, receiver steps 6-7 decide when; this only does it)."""
        self._offset = index
        self._items = [Entry(term, None)]
        self.last_index = index
