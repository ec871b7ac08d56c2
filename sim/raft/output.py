"""What a node returns after each input: the whole of what its environment may know about it.

The simulator reads a node only through these values (never its attributes), so a node may be anything that
returns them: the built-in ``sim.raft.node.Node``, a bug variant, or later a process in another language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .messages import Entry, Message
from .quorum import Configuration
from .snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class PersistentState:
    """What Figure 2 keeps on stable storage: currentTerm, votedFor, log[]; and the latest snapshot (Section 7),
    after which ``entries`` start (at index ``snapshot.index + 1``; at 1 without a snapshot). A node restarts
    from this."""

    term: int = 0
    voted_for: int | None = None
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None


class SoftState(NamedTuple):
    """The node's volatile state as its environment sees it (etcd's ``SoftState``, plus the indexes).

    role: "follower", "precandidate", "candidate" or "leader". term: currentTerm. leader_id: the leader it
    follows in that term, None if it knows none (itself when it leads). commit: its commit index. last_applied:
    the last index applied to its state machine (equal for servers whose state machines agree)."""

    role: str
    term: int
    leader_id: int | None
    commit: int
    last_applied: int


class Output:
    """Everything a node asks of its environment after one input. The environment handles the fields in this
    order, as etcd's ``Ready``, and feeds the node its next input only when it has finished with this one:

    1. ``soft_state``: a ``SoftState``, present (not None) when any of its fields changed since the previous
       Output, and always in the first Output after a boot. Purely informative: the environment keeps the last
       one reported to answer "who leads, in which term, what is committed" (monitors, the checker, reports).
       Until the first is reported a booted node counts as a follower in its durable term, knowing no leader,
       with nothing committed or applied.
    2. Durability: ``hard_state`` = (currentTerm, votedFor), present when either changed; ``log_from`` with
       ``log_entries``: the log from index ``log_from`` on was rewritten, and stable storage must replace its
       entries from that index with ``log_entries`` (which may be empty: a pure truncation). Then ``snapshot``:
       a ``sim.raft.snapshot.Snapshot`` that replaces the stored one, and the log entries up to its index go (the
       log holds what follows it; with ``log_from`` at ``snapshot.index + 1`` and no entries, nothing does).
       ``snapshot_installed`` says whether it came from a leader (InstallSnapshot) or the node took it. All of it
       must be durable before any of ``messages`` leaves; a crash before then loses it (and those messages),
       and the previous snapshot and log stay as they were.
    3. ``unsynced_messages``: messages that do not depend on the writes above and may leave before they are
       durable (a candidate's RequestVotes with ``early_vote_requests``; the bug variants of sim.nodes.bugs misuse
       it). Then ``messages``: to send once the writes are durable, in order.
    4. ``timers``: (timer name, delay in the node's local microseconds), in order; a delay of None cancels the
       timer. Arming a timer replaces its previous deadline. An expiry is fed back as ``tick(name, now)``.
    5. ``applied``: (index, entry) applied to the state machine by this input, in index order. (Client replies
       for them are among ``messages``.) An installed snapshot replaces the state machine without applying
       entries: the soft state's last applied index jumps to the snapshot's.
    6. ``configuration``: (index, ``Configuration``), present when the configuration in force changed (thesis
       4.1: the latest configuration entry in the log, at that index; the one the node was started with, at 0,
       when there is none; a snapshot's, at its index, when the log holds none after it), and always in the first
       Output after a boot. Informative, like ``soft_state``: the environment keeps it to know who the members are.

    A plain slotted class rather than a dataclass: one is built per input, on the simulator's hottest path.
    """

    __slots__ = (
        "applied",
        "configuration",
        "hard_state",
        "log_entries",
        "log_from",
        "messages",
        "snapshot",
        "snapshot_installed",
        "soft_state",
        "timers",
        "unsynced_messages",
    )

    def __init__(self) -> None:
        self.soft_state: SoftState | None = None
        self.hard_state: tuple[int, int | None] | None = None
        self.log_from: int | None = None
        self.log_entries: tuple[Entry, ...] = ()
        self.messages: list[Message] = []
        self.unsynced_messages: list[Message] = []
        self.timers: list[tuple[str, int | None]] = []
        self.applied: list[tuple[int, Entry]] = []
        self.configuration: tuple[int, Configuration] | None = None
        self.snapshot: Snapshot | None = None
        self.snapshot_installed = False

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Output({fields})"
