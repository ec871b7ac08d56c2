"""Values that flow into and out of a Raft node: log entries, commands, messages.

Values are immutable by contract: nothing changes one after building it (``replace`` makes a changed copy), so a
message can be kept in the trace, duplicated by the network and delivered twice as it was sent; a test checks
that every message of a faulty run arrives as it was sent. Values compare equal when they have the same type and
the same fields.

They are plain slotted classes, not frozen ones, for speed: a message is built and its fields read on every hop.
Measured on the benchmark's cluster (messages delivered per second, Python 3.11), frozen dataclasses, named
tuples (whose fields CPython 3.11 reads through an unspecialized descriptor) and slotted classes that refuse
assignment (built through ``object.__setattr__``) each make the whole simulator about 12% slower.

Addresses: servers are ints 1..N; clients are strings such as ``"c1"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .quorum import Configuration

Address = int | str


class _Value:
    """Base of the values below: equality, hashing, repr, ``replace`` and ``asdict`` from ``_fields``, which each
    class lists in the order of its ``__init__``'s parameters."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def astuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed."""
        return type(self)(**{**self.asdict(), **changes})

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.astuple() == other.astuple()  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.astuple())


class Command(_Value):
    """A client's key-value operation. ``(client, seq)`` identifies it; a retry reuses both.

    ``op`` is ``get``, ``put``, ``append`` or ``cas``; ``value`` is what put writes, append adds, or cas writes
    when the key holds ``expected`` (``expected`` means nothing for the other operations)."""

    _fields = ("client", "seq", "op", "key", "value", "expected")
    __slots__ = _fields
    client: str
    seq: int
    op: str
    key: str
    value: str
    expected: str

    def __init__(self, client: str, seq: int, op: str, key: str, value: str = "", expected: str = "") -> None:
        self.client = client
        self.seq = seq
        self.op = op
        self.key = key
        self.value = value
        self.expected = expected

    def asdict(self) -> dict[str, Any]:
        # ``expected`` only where it means something: traces of runs without cas stay as they were.
        d = {"client": self.client, "seq": self.seq, "op": self.op, "key": self.key, "value": self.value}
        if self.op == "cas":
            d["expected"] = self.expected
        return d

    def replace(self, **changes: Any) -> Any:
        return Command(**{**dict(zip(self._fields, self.astuple(), strict=True)), **changes})


class Entry(_Value):
    """One log entry. ``command`` is None for the no-op a leader appends at the start of its term (Section 8), and
    for a configuration entry (``ConfigEntry``)."""

    _fields = ("term", "command")
    __slots__ = _fields
    term: int
    command: Command | None
    # A class attribute, not a slot: a plain entry carries no configuration, and building one (once per client
    # command) costs nothing more for it. ``ConfigEntry``'s slot overrides it.
    config: Configuration | None = None

    def __init__(self, term: int, command: Command | None = None) -> None:
        self.term = term
        self.command = command


class ConfigEntry(Entry):
    """A configuration entry (thesis 4.1): the cluster's whole new configuration. A server uses it as soon as it is
    in its log, committed or not, and falls back to the one before if it is deleted. It carries no command."""

    _fields = ("term", "config")
    __slots__ = ("config",)
    config: Configuration

    def __init__(self, term: int, config: Configuration) -> None:
        self.term = term
        self.command = None
        self.config = config


class RequestVote(_Value):
    _fields = ("term", "src", "dst", "last_log_index", "last_log_term", "prevote", "transfer")
    __slots__ = _fields
    term: int
    src: int
    dst: int
    last_log_index: int
    last_log_term: int
    # PreVote (thesis 9.6): ``term`` is the term the sender would campaign in; nobody changes term because of it.
    prevote: bool
    # Leadership transfer (thesis 3.10): the sender campaigns because the leader told it to (TimeoutNow), so a
    # voter grants it even while it hears from that leader (the check that guards against disruptive servers).
    transfer: bool

    def __init__(
        self,
        term: int,
        src: int,
        dst: int,
        last_log_index: int,
        last_log_term: int,
        prevote: bool = False,
        transfer: bool = False,
    ) -> None:
        self.term = term
        self.src = src
        self.dst = dst
        self.last_log_index = last_log_index
        self.last_log_term = last_log_term
        self.prevote = prevote
        self.transfer = transfer

    def asdict(self) -> dict[str, Any]:
        # ``transfer`` only when set: traces of runs without transfers stay as they were.
        d = {name: getattr(self, name) for name in self._fields}
        if not self.transfer:
            del d["transfer"]
        return d


class RequestVoteReply(_Value):
    _fields = ("term", "src", "dst", "granted", "prevote")
    __slots__ = _fields
    term: int
    src: int
    dst: int
    granted: bool
    prevote: bool

    def __init__(self, term: int, src: int, dst: int, granted: bool, prevote: bool = False) -> None:
        self.term = term
        self.src = src
        self.dst = dst
        self.granted = granted
        self.prevote = prevote


class AppendEntries(_Value):
    _fields = ("term", "src", "dst", "prev_index", "prev_term", "entries", "commit", "round")
    __slots__ = _fields
    term: int
    src: int
    dst: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    # The leader's current heartbeat round (sim.raft.read_only), echoed in the reply: a reply to round r shows that
    # the follower still took the sender for its leader after round r began. 0 when reads go through the log.
    round: int

    def __init__(
        self,
        term: int,
        src: int,
        dst: int,
        prev_index: int,
        prev_term: int,
        entries: tuple[Entry, ...],
        commit: int,
        round: int = 0,
    ) -> None:
        self.term = term
        self.src = src
        self.dst = dst
        self.prev_index = prev_index
        self.prev_term = prev_term
        self.entries = entries
        self.commit = commit
        self.round = round


class AppendEntriesReply(_Value):
    _fields = ("term", "src", "dst", "success", "prev_index", "match_index", "conflict_index", "conflict_term", "round")
    __slots__ = _fields
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
    conflict_index: int
    conflict_term: int
    # The request's heartbeat round, echoed (a rejection counts too: it was sent in the leader's term).
    round: int

    def __init__(
        self,
        term: int,
        src: int,
        dst: int,
        success: bool,
        prev_index: int,
        match_index: int,
        conflict_index: int = 0,
        conflict_term: int = 0,
        round: int = 0,
    ) -> None:
        self.term = term
        self.src = src
        self.dst = dst
        self.success = success
        self.prev_index = prev_index
        self.match_index = match_index
        self.conflict_index = conflict_index
        self.conflict_term = conflict_term
        self.round = round

    def asdict(self) -> dict[str, Any]:
        # ``round`` only when set: traces of runs whose reads go through the log stay as they were.
        d = {name: getattr(self, name) for name in self._fields}
        if not self.round:
            del d["round"]
        return d


class TimeoutNow(_Value):
    """Leadership transfer (thesis 3.10): the leader tells ``dst``, whose log it has brought up to date, to start an
    election at once."""

    _fields = ("term", "src", "dst")
    __slots__ = _fields
    term: int
    src: int
    dst: int

    def __init__(self, term: int, src: int, dst: int) -> None:
        self.term = term
        self.src = src
        self.dst = dst


class TransferLeader(_Value):
    """An operator's request to a leader (not a peer message: it reaches the node without crossing the network):
    hand leadership to server ``target`` (thesis 3.10)."""

    _fields = ("dst", "target")
    __slots__ = _fields
    dst: int
    target: int
    term = -1  # below every term: the node's step takes it past the term rules, off the path of peer messages

    def __init__(self, dst: int, target: int) -> None:
        self.dst = dst
        self.target = target


class InstallSnapshot(_Value):
    """One chunk of a snapshot, from a leader to a follower that needs entries the leader has discarded (the
    paper's Figure 13). ``data`` is the snapshot's bytes from ``offset`` on; ``done`` marks the last chunk.
    ``configuration`` is the snapshot's (``sim.raft.quorum.Configuration``), carried by every chunk."""

    _fields = ("term", "src", "dst", "last_index", "last_term", "offset", "data", "done", "configuration")
    __slots__ = _fields
    term: int
    src: int
    dst: int
    last_index: int  # the snapshot replaces the log up to and including this index (lastIncludedIndex)
    last_term: int  # the term of that entry (lastIncludedTerm)
    offset: int
    data: bytes
    done: bool
    configuration: Any

    def __init__(
        self,
        term: int,
        src: int,
        dst: int,
        last_index: int,
        last_term: int,
        offset: int,
        data: bytes,
        done: bool,
        configuration: Any,
    ) -> None:
        self.term = term
        self.src = src
        self.dst = dst
        self.last_index = last_index
        self.last_term = last_term
        self.offset = offset
        self.data = data
        self.done = done
        self.configuration = configuration


class InstallSnapshotReply(_Value):
    """A follower's answer to one InstallSnapshot chunk."""

    _fields = ("term", "src", "dst", "last_index", "offset", "next_offset", "done", "match_index")
    __slots__ = _fields
    term: int
    src: int
    dst: int
    # The request's last_index and offset, echoed: the leader takes only the answer to the chunk it last sent, so
    # a duplicated or late answer sends nothing.
    last_index: int
    offset: int
    # The byte of that snapshot the follower expects next (what it holds of it so far).
    next_offset: int
    # True once the follower's state covers the snapshot (it installed it, or had committed that far already);
    # then its log matches the leader's up to match_index.
    done: bool
    match_index: int

    def __init__(
        self,
        term: int,
        src: int,
        dst: int,
        last_index: int,
        offset: int,
        next_offset: int,
        done: bool = False,
        match_index: int = 0,
    ) -> None:
        self.term = term
        self.src = src
        self.dst = dst
        self.last_index = last_index
        self.offset = offset
        self.next_offset = next_offset
        self.done = done
        self.match_index = match_index


class ClientRequest(_Value):
    _fields = ("src", "dst", "command", "term")
    __slots__ = _fields
    src: str
    dst: int
    command: Command
    term: int

    def __init__(self, src: str, dst: int, command: Command, term: int = 0) -> None:
        self.src = src
        self.dst = dst
        self.command = command
        self.term = term


class ClientReply(_Value):
    _fields = ("src", "dst", "seq", "ok", "result", "leader_hint", "index", "term")
    __slots__ = _fields
    src: int
    dst: str
    seq: int
    ok: bool
    result: str | None
    # When not ok: the node the sender believes is leader (None if it does not know).
    leader_hint: int | None
    # When ok: the log index at which the command was applied.
    index: int
    term: int

    def __init__(
        self,
        src: int,
        dst: str,
        seq: int,
        ok: bool,
        result: str | None = None,
        leader_hint: int | None = None,
        index: int = 0,
        term: int = 0,
    ) -> None:
        self.src = src
        self.dst = dst
        self.seq = seq
        self.ok = ok
        self.result = result
        self.leader_hint = leader_hint
        self.index = index
        self.term = term


class MembershipChange(_Value):
    """An operator asks the leader to add or remove one server: the thesis's AddServer and RemoveServer RPCs
    (Figure 4.1) as one message. ``op`` is ``"add"`` or ``"remove"``; ``seq`` numbers the operator's requests, and
    a retry reuses it."""

    _fields = ("src", "dst", "seq", "op", "server")
    __slots__ = _fields
    src: str
    dst: int
    seq: int
    op: str
    server: int

    def __init__(self, src: str, dst: int, seq: int, op: str, server: int) -> None:
        self.src = src
        self.dst = dst
        self.seq = seq
        self.op = op
        self.server = server


class MembershipReply(_Value):
    """The answer to a ``MembershipChange``. ``status`` is one of ``sim.raft.membership.STATUSES``: ``"ok"`` (the
    configuration that makes it so is committed), ``"not_leader"`` (with ``leader_hint``, who the server thinks
    leads, or None), ``"busy"`` (another change is under way: try again later), ``"timeout"`` (the new server did
    not catch up, thesis 4.2.1) or ``"invalid"`` (it would leave no voter)."""

    _fields = ("src", "dst", "seq", "status", "leader_hint")
    __slots__ = _fields
    src: int
    dst: str
    seq: int
    status: str
    leader_hint: int | None

    def __init__(self, src: int, dst: str, seq: int, status: str, leader_hint: int | None = None) -> None:
        self.src = src
        self.dst = dst
        self.seq = seq
        self.status = status
        self.leader_hint = leader_hint


Message = (
    RequestVote
    | RequestVoteReply
    | AppendEntries
    | AppendEntriesReply
    | InstallSnapshot
    | InstallSnapshotReply
    | ClientRequest
    | ClientReply
    | MembershipChange
    | MembershipReply
    | TimeoutNow
    | TransferLeader
    | ClientRequest
    | ClientReply
)
