"""Membership changes, one server at a time (Ongaro's thesis, Chapter 4): which configuration is in force on a
server, how a leader brings a new server up to date before it votes, and when two configurations are safe together.

**The configuration in force** on a server is the latest configuration entry in its log, committed or not (thesis
4.1): a server starts using a configuration as soon as it appends it, and when a conflicting suffix holding it is
deleted, falls back to the one before. Without any entry it is the configuration the server was started with (the
cluster's initial servers; nothing for a server that boots empty to join). ``ConfigurationLog`` keeps the few
configurations a log holds and answers these questions in O(1).

**One change at a time.** A leader takes one change at a time (it answers ``BUSY`` to any other while it catches a
server up, or while its configuration in force is not committed), and appends a configuration entry only when two
things hold:

- the configuration in force is committed (at most one change in progress: consecutive configurations differ by one
  server, so any majority of one meets any majority of the other, thesis 4.1);
- it has committed an entry of its own term. This is the 2015 fix (Ongaro, raft-dev, "bug in single-server
  membership changes"): without it a new leader can append a configuration that is a sibling, not a successor, of
  an uncommitted one a previous leader left on a minority. The two differ by two servers, their majorities need not
  meet, and the old leader can come back and win with the other one. Committing an entry of the new term first
  makes every server that holds the sibling unelectable (its log is behind a majority's).

**A new server is caught up first** (thesis 4.2.1), as a non-voting member: the leader replicates to it in
rounds, each bringing it up to the leader's last index at the round's start, and appends the configuration that
makes it a voter only after a round shorter than an election timeout (the log it still lacks is then too short to
leave the cluster unavailable for long). After ``MAX_ROUNDS`` rounds without such a round, or when the catch-up
lasts longer than ``MAX_ROUNDS`` maximum election timeouts (the server is down or too slow), the change is
abandoned with ``TIMEOUT``.

A leader that removes itself keeps leading (without counting itself in majorities) until the change commits, then
steps down (thesis 4.2.2). Removed servers do not disrupt the cluster (4.2.3): a RequestVote from outside a server's
configuration is ignored within the minimum election timeout of hearing from a leader, and a server that knows its
removal is committed (the leader sends it a last heartbeat with the commit index) or knows no configuration at all
(a new server before the leader reaches it) never campaigns (``sim.raft.node``). A server whose configuration
excludes it but is not known to be committed still may: it can hold the log the others need to elect anyone.

Joint consensus (the paper's Section 6) is not implemented: single-server changes are what the thesis recommends
and every scenario event here changes one server. ``sim.raft.quorum`` already decides for joint configurations,
should it come.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .messages import Entry
from .quorum import Configuration

ADD = "add"
REMOVE = "remove"
OPS = (ADD, REMOVE)

# MembershipReply statuses.
OK = "ok"
NOT_LEADER = "not_leader"
BUSY = "busy"
TIMEOUT = "timeout"
INVALID = "invalid"
STATUSES = (OK, NOT_LEADER, BUSY, TIMEOUT, INVALID)

# Thesis 4.2.1: "The algorithm waits a fixed number of rounds (such as 10)."
MAX_ROUNDS = 10


def changed(config: Configuration, op: str, server: int) -> Configuration:
    """``config`` with ``server`` added (at the end: the order of voters is the order a leader sends in) or
    removed. The same value when there is nothing to change."""
    if op == ADD:
        return config if server in config.voters else Configuration((*config.voters, server))
    if op == REMOVE:
        if server not in config.voters:
            return config
        return Configuration(tuple(v for v in config.voters if v != server))
    raise ValueError(f"unknown membership change {op!r}")


def share_quorum(a: Configuration, b: Configuration) -> bool:
    """Whether every majority of ``a`` meets every majority of ``b`` (for majority configurations, not joint ones).

    Two disjoint majorities exist exactly when both fit into the servers the configurations share once each has
    taken what it can from the servers only it has: ``a`` needs ``max(0, q_a - |a - b|)`` of the shared servers and
    ``b`` needs ``max(0, q_b - |b - a|)``. An empty configuration decides nothing: it shares no quorum."""
    if a.joint or b.joint:
        raise ValueError("share_quorum decides for majority configurations only")
    va, vb = set(a.voters), set(b.voters)
    if not va or not vb:
        return False
    both = len(va & vb)
    need_a = max(0, len(va) // 2 + 1 - (len(va) - both))
    need_b = max(0, len(vb) // 2 + 1 - (len(vb) - both))
    return need_a + need_b > both


class ConfigurationLog:
    """The configurations a server's log holds, and its base: the one it started with (or a snapshot holds).

    ``entries[k]`` is (index, configuration) of the k-th configuration entry, ``entries[0]`` the base at its
    index (0 for the configuration the server was started with). A log rarely holds more than a few."""

    __slots__ = ("entries",)

    def __init__(self, base: Configuration, base_index: int = 0) -> None:
        self.entries: list[tuple[int, Configuration]] = [(base_index, base)]

    def __repr__(self) -> str:
        return f"ConfigurationLog({self.entries!r})"

    @property
    def current(self) -> Configuration:
        """The configuration in force: the latest in the log."""
        return self.entries[-1][1]

    @property
    def index(self) -> int:
        """The log index of the configuration in force (the base's index when the log holds none)."""
        return self.entries[-1][0]

    def previous(self) -> Configuration | None:
        """The configuration before the one in force, if the log holds one."""
        return self.entries[-2][1] if len(self.entries) > 1 else None

    def committed(self, commit: int) -> tuple[int, Configuration]:
        """The latest configuration at or below ``commit``, with its index (the base if none is)."""
        for index, config in reversed(self.entries):
            if index <= commit:
                return index, config
        return self.entries[0]

    def scan(self, first_index: int, entries: Sequence[Entry]) -> bool:
        """``entries`` were appended from ``first_index`` on: note their configurations. Whether the configuration
        in force changed."""
        found = False
        for k, entry in enumerate(entries):
            config = entry.config
            if config is not None:
                self.entries.append((first_index + k, config))
                found = True
        return found

    def truncated(self, from_index: int) -> bool:
        """The log lost its entries from ``from_index`` on: forget their configurations, falling back to the one
        before. Whether the configuration in force changed. The base is never lost (a log cannot be truncated
        into its snapshot)."""
        entries = self.entries
        n = len(entries)
        while len(entries) > 1 and entries[-1][0] >= from_index:
            entries.pop()
        return len(entries) != n

    def rebase(self, through: int, config: Configuration, index: int | None = None) -> None:
        """The log now starts after ``through`` (a snapshot, thesis Chapter 5), whose configuration is ``config``:
        it becomes the base, at ``index`` (the entry it came from, when known; else ``through``), and the
        configuration entries up to ``through`` are forgotten."""
        base = (through if index is None else index, config)
        self.entries = [base, *(e for e in self.entries if e[0] > through)]


class CatchUp:
    """Thesis 4.2.1: bringing a new server's log up to the leader's, in rounds, before it becomes a voter.

    A round ends when the server's log matches the leader's up to ``target`` (the leader's last index when the round
    began); a round shorter than ``timeout`` (an election timeout) ends the catch-up."""

    __slots__ = ("limit", "round_start", "rounds", "started", "target", "timeout")

    def __init__(self, now: int, last_index: int, timeout: int, limit: int) -> None:
        self.started = now
        self.round_start = now
        self.target = last_index
        self.rounds = 1
        self.timeout = timeout  # a round shorter than this ends the catch-up
        self.limit = limit  # the catch-up is abandoned after this long

    def __repr__(self) -> str:
        return f"CatchUp(round {self.rounds}, to {self.target}, since {self.round_start})"

    def step(self, match: int, last_index: int, now: int) -> bool | None:
        """The server's log matches up to ``match``: True when it has caught up, False when the catch-up is to be
        abandoned, None while it goes on (a new round begins when one ends too slowly)."""
        if match >= self.target:
            if now - self.round_start < self.timeout:
                return True
            if self.rounds >= MAX_ROUNDS:
                return False
            self.rounds += 1
            self.round_start = now
            self.target = last_index
            if match >= last_index:
                return True  # nothing was appended during the round: the next is over as it begins
        if now - self.started > self.limit:
            return False
        return None


@dataclass(slots=True)
class Change:
    """A membership change a leader is carrying out: asked for by ``admin`` (its request ``seq``), to ``op`` the
    ``server``. ``catch_up`` while a server to be added is being brought up to date, then None."""

    op: str
    server: int
    admin: str
    seq: int
    catch_up: CatchUp | None = None
