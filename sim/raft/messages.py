"""Values that flow into and out of a Raft node: log entries, commands, messages.

Everything here is an immutable ``NamedTuple``, so a message can be kept in the trace, duplicated by the network
and delivered twice without anyone being able to change it in between. Tuples rather than frozen dataclasses
for speed, measured: a message is built and read on every hop, and building a tuple costs about a third of
building a frozen dataclass. A tuple holding only numbers and strings is also dropped from the cyclic garbage
collector's sight once it has survived one collection, which keeps a long trace of messages cheap to hold.

Two values of different types are never equal, even with equal fields (plain tuples would say they are).

Addresses: servers are ints 1..N; clients are strings such as ``"c1"``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

Address = int | str


class Command(NamedTuple):
    """A client's key-value operation. ``(client, seq)`` identifies it; a retry reuses both."""

    client: str
    seq: int
    op: str  # "put" | "append" | "get"
    key: str
    value: str = ""


class Entry(NamedTuple):
    """One log entry. ``command`` is None for the no-op a leader appends at the start of its term (Section 8)."""

    term: int
    command: Command | None = None


class RequestVote(NamedTuple):
    term: int
    src: int
    dst: int
    last_log_index: int
    last_log_term: int
    # PreVote (thesis 9.6): ``term`` is the term the sender would campaign in; nobody changes term because of it.
    prevote: bool = False


class RequestVoteReply(NamedTuple):
    term: int
    src: int
    dst: int
    granted: bool
    prevote: bool = False


class AppendEntries(NamedTuple):
    term: int
    src: int
    dst: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


class AppendEntriesReply(NamedTuple):
    term: int
    src: int
    dst: int
    success: bool
    # The request's prev_index, echoed so the leader can tell a stale (reordered) rejection from a current one.
    prev_index: int
    # On success: the index of the last entry known to match the leader's log.
    match_index: int
    # On rejection, the fast back-off hint: the follower's first index of the conflicting term (or its last
    # index + 1 when its log is too short, with conflict_term 0).
    conflict_index: int = 0
    conflict_term: int = 0


class ClientRequest(NamedTuple):
    src: str
    dst: int
    command: Command
    term: int = 0


class ClientReply(NamedTuple):
    src: int
    dst: str
    seq: int
    ok: bool
    result: str | None = None
    # When not ok: the node the sender believes is leader (None if it does not know).
    leader_hint: int | None = None
    # When ok: the log index at which the command was applied.
    index: int = 0
    term: int = 0


Message = RequestVote | RequestVoteReply | AppendEntries | AppendEntriesReply | ClientRequest | ClientReply

VALUE_TYPES: tuple[type[tuple[Any, ...]], ...] = (
    Command,
    Entry,
    RequestVote,
    RequestVoteReply,
    AppendEntries,
    AppendEntriesReply,
    ClientRequest,
    ClientReply,
)


def _eq(self: tuple[Any, ...], other: object) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other)  # type: ignore[arg-type]


def _ne(self: tuple[Any, ...], other: object) -> bool:
    return not _eq(self, other)


for _cls in VALUE_TYPES:
    _cls.__eq__ = _eq  # type: ignore[method-assign,assignment]
    _cls.__ne__ = _ne  # type: ignore[method-assign,assignment]
    _cls.__hash__ = tuple.__hash__  # type: ignore[method-assign,assignment]
