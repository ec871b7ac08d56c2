"""Values that flow into and out of a Raft node: log entries, commands, messages.

Everything here is immutable (frozen, slotted dataclasses), so a message can be kept in the trace, duplicated by
the network and delivered twice without anyone being able to change it in between.

Addresses: servers are ints 1..N; clients are strings such as ``"c1"``.
"""

from __future__ import annotations

from dataclasses import dataclass

Address = int | str


@dataclass(frozen=True, slots=True)
class Command:
    """A client's key-value operation. ``(client, seq)`` identifies it; a retry reuses both."""

    client: str
    seq: int
    op: str  # "put" | "append" | "get"
    key: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. ``command`` is None for the no-op a leader appends at the start of its term (Section 8)."""

    term: int
    command: Command | None = None


@dataclass(frozen=True, slots=True)
class RequestVote:
    term: int
    src: int
    dst: int
    last_log_index: int
    last_log_term: int
    # PreVote (thesis 9.6): ``term`` is the term the sender would campaign in; nobody changes term because of it.
    prevote: bool = False


@dataclass(frozen=True, slots=True)
class RequestVoteReply:
    term: int
    src: int
    dst: int
    granted: bool
    prevote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries:
    term: int
    src: int
    dst: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
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


@dataclass(frozen=True, slots=True)
class ClientRequest:
    src: str
    dst: int
    command: Command
    term: int = 0


@dataclass(frozen=True, slots=True)
class ClientReply:
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
