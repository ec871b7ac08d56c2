"""The state machine of the committed log, kept incrementally, and digests of states: for SnapshotIntegrity.

SnapshotIntegrity says that a snapshot at index i holds exactly the state produced by applying the committed
entries 1..i, client sessions included. Comparing whole states would cost the size of the state at every snapshot,
and applying the log from index 1 would cost the length of the run; instead the checker applies each committed
entry once, to its own key-value store (``sim.raft.kv``, the servers' own code), and keeps after each index a
digest of the state: a sum, modulo 2**64, of a hash of each key with its value and of each client's session. A
sum over the elements does not depend on their order and changes by two hashes when one element changes, so each
applied entry costs O(1); a snapshot's digest is computed once from its content. The data and the sessions have
digests of their own, so a report can say which one a snapshot got wrong.

Hashes are BLAKE2b of the element's ``repr`` (strings and ints only): the same in every process, whatever
PYTHONHASHSEED says.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b

from sim.raft.kv import KeyValueStore
from sim.raft.messages import Entry

MASK = (1 << 64) - 1
Digest = tuple[int, int]  # (the data's, the sessions')


def _hash(element: tuple[object, ...]) -> int:
    return int.from_bytes(blake2b(repr(element).encode(), digest_size=8).digest(), "little")


def state_digest(data: Mapping[str, str], sessions: Mapping[str, tuple[int, str | None, int]]) -> Digest:
    """The digest of a state: its key-value data and its client sessions."""
    d = sum(_hash(("k", key, value)) for key, value in data.items()) & MASK
    s = sum(_hash(("s", client, *session)) for client, session in sessions.items()) & MASK
    return d, s


class CommittedState:
    """The state machine of the committed log, with the digest of its state after each index from ``base`` on.

    ``apply`` takes the committed entries in order (the checker passes each index the first time a server applies
    it, once it has checked that it is the committed entry). ``rebase`` forgets the digests before an index, as
    the checker forgets what every server has compacted away."""

    def __init__(self) -> None:
        self.kv = KeyValueStore()
        self.index = 0  # the last index applied
        self.base = 0  # digests[k] is the digest after index base + k
        self.digests: list[Digest] = [(0, 0)]
        self._data_hash: dict[str, int] = {}  # each key's current hash, and each client's session's
        self._session_hash: dict[str, int] = {}
        self._data = 0
        self._sessions = 0

    def apply(self, index: int, entry: Entry) -> None:
        """Apply the committed entry at ``index`` (``index == self.index + 1``)."""
        command = entry.command
        if command is not None:
            kv = self.kv
            before = kv.sessions.get(command.client)
            kv.apply(command, index)
            value = kv.data.get(command.key)
            if value is not None:
                h = _hash(("k", command.key, value))
                old = self._data_hash.get(command.key, 0)
                if h != old:
                    self._data_hash[command.key] = h
                    self._data = (self._data - old + h) & MASK
            session = kv.sessions[command.client]
            if session is not before:  # a retry leaves the session as it was
                h = _hash(("s", command.client, *session))
                old = self._session_hash.get(command.client, 0)
                self._session_hash[command.client] = h
                self._sessions = (self._sessions - old + h) & MASK
        self.index = index
        self.digests.append((self._data, self._sessions))

    def digest_at(self, index: int) -> Digest | None:
        """The digest after applying the committed entries 1..``index``; None if not kept (before ``base``) or
        not applied yet."""
        if self.base <= index <= self.index:
            return self.digests[index - self.base]
        return None

    def rebase(self, base: int) -> None:
        """Forget the digests before ``base`` (``base <= self.index``)."""
        del self.digests[: base - self.base]
        self.base = base
