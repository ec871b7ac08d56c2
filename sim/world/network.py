"""The simulated network: per-message delay, loss, duplication, partitions and one-way cuts.

Delay and loss may differ per link (a delay) and per kind of message (``set_kind``: requests only, replies only,
one RPC), the link's delay first.

Reordering is not a separate knob: it follows from independent per-message delays, unless ``fifo`` makes each
directed link deliver in send order (as a TCP connection does). This module alone knows how partitions are
represented (a group number per server, a set of cut directed links and a set of disconnected servers); everyone
else says ``partition``, ``cut``, ``repair``, ``disconnect``, ``reconnect``, ``heal``. The three layers compose: a
partition replaces the groups only, a cut or repair touches one directed link, and disconnecting a server cuts it
off from every other server until it is reconnected, whatever the groups and cuts do meanwhile.

A message is checked twice: when it is sent (a blocked link drops it at once) and when it arrives (a link cut
while the message was in flight drops it, as does a destination that crashed meanwhile). For the second check a
message carries the network's *generation* when it left, a number bumped by every change that can lose messages
in flight (a link between servers becoming blocked, an endpoint restarting): a message that arrives in the
generation it left in (nearly all of them) needs no other look. Clients are outside the partitions (their links
are never cut, but they see the same delays, loss and duplication) unless placed beside a server (``place``):
then a client's messages pass where that server's would, and always to and from it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from heapq import heappush
from typing import Any

from simpy import Environment
from simpy.events import NORMAL

from sim.raft.messages import (
    Address,
    AppendEntries,
    AppendEntriesReply,
    ClientReply,
    ClientRequest,
    InstallSnapshot,
    InstallSnapshotReply,
    Message,
    RequestVote,
    RequestVoteReply,
)
from sim.trace import Trace

# Message kinds by name, and the names of groups of them: "requests" and "replies" are the Raft RPCs between servers
# (a PreVote is a RequestVote), "client" the clients' traffic.
MESSAGE_KINDS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        RequestVote,
        RequestVoteReply,
        AppendEntries,
        AppendEntriesReply,
        InstallSnapshot,
        InstallSnapshotReply,
        ClientRequest,
        ClientReply,
    )
}
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "all": tuple(MESSAGE_KINDS),
    "requests": ("RequestVote", "AppendEntries", "InstallSnapshot"),
    "replies": ("RequestVoteReply", "AppendEntriesReply", "InstallSnapshotReply"),
    "client": ("ClientRequest", "ClientReply"),
}

# --------------------------------------------------------------------------------------- delay distributions


@dataclass(frozen=True, slots=True)
class Fixed:
    value: int  # microseconds

    def sample(self, rng: random.Random) -> int:
        return self.value


@dataclass(frozen=True, slots=True)
class Uniform:
    low: int
    high: int

    def sample(self, rng: random.Random) -> int:
        return self.low + int(rng.random() * (self.high - self.low + 1))


@dataclass(frozen=True, slots=True)
class Exponential:
    """``minimum`` plus an exponential tail of the given mean."""

    mean: int
    minimum: int = 0

    def sample(self, rng: random.Random) -> int:
        return self.minimum + int(rng.expovariate(1.0 / self.mean)) if self.mean > 0 else self.minimum


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal with the given median (microseconds) and sigma (of the underlying normal)."""

    median: int
    sigma: float
    minimum: int = 0

    def sample(self, rng: random.Random) -> int:
        return self.minimum + int(rng.lognormvariate(math.log(self.median), self.sigma))


@dataclass(frozen=True, slots=True)
class Mixture:
    """A share of messages delayed by ``long``, the rest by ``short``: a long tail, as the MIT 6.5840 labs'
    "long reordering" network delays some replies by 200-2200 ms."""

    share: float  # the probability that a message takes the long delay
    long: Delay
    short: Delay

    def sample(self, rng: random.Random) -> int:
        return (self.long if rng.random() < self.share else self.short).sample(rng)


Delay = Fixed | Uniform | Exponential | LogNormal | Mixture


def describe_delay(d: Delay) -> dict[str, Any]:
    """A JSON-able description of a delay distribution (milliseconds), for traces and scenario files."""
    if isinstance(d, Fixed):
        return {"dist": "fixed", "value": d.value / 1000}
    if isinstance(d, Uniform):
        return {"dist": "uniform", "min": d.low / 1000, "max": d.high / 1000}
    if isinstance(d, Exponential):
        return {"dist": "exponential", "mean": d.mean / 1000, "min": d.minimum / 1000}
    if isinstance(d, Mixture):
        return {"dist": "mixture", "share": d.share, "long": describe_delay(d.long), "short": describe_delay(d.short)}
    return {"dist": "lognormal", "median": d.median / 1000, "sigma": d.sigma, "min": d.minimum / 1000}


# ---------------------------------------------------------------------------------------------- the network


class Network:
    def __init__(
        self,
        env: Environment,
        rng: random.Random,
        servers: Iterable[int],
        trace: Trace,
        delay: Delay = Uniform(5_000, 15_000),
        drop: float = 0.0,
        duplicate: float = 0.0,
        fifo: bool = False,
    ) -> None:
        self.env = env
        self.rng = rng
        self.servers = tuple(servers)
        # Who takes a message that arrives for an address (see ``attach``).
        self._receivers: dict[Address, Callable[[Message], None]] = {}
        self._delay: Delay = delay
        self._drop = drop
        self._duplicate = duplicate
        self._link_delay: dict[tuple[int, int], Delay] = {}
        # A loss probability and a delay of their own for some kinds of message (``set_kind``).
        self._kind_drop: dict[type, float] = {}
        self._kind_delay: dict[type, Delay] = {}
        # With ``fifo``, when the last message sent on each directed link arrives: none may arrive before it.
        self._fifo = fifo
        self._last_arrival: dict[tuple[Address, Address], int] = {}
        # Partition groups (server -> group number, ``_parts`` as the last partition made them, ``_group`` with
        # each disconnected server in a group of its own, -id) and one-way cuts (src, dst).
        self._parts: dict[int, int] = {s: 0 for s in self.servers}
        self._group: dict[int, int] = dict(self._parts)
        self._rest = 0  # the group of the servers the last partition did not name (where a new server joins)
        self._cuts: set[tuple[int, int]] = set()
        self._off: set[int] = set()  # disconnected servers
        self._host: dict[Address, int] = {}  # a placed client -> the server it sits beside
        # The generation: bumped by every change that loses the messages in flight on a link (it becomes blocked)
        # or to an endpoint (it restarts); each such link and endpoint keeps the generation of its last change. A
        # message sent in generation g is lost when its link or destination changed in a later one.
        self._generation = 0
        self._blocked_at: dict[tuple[Address, Address], int] = {}
        self._restarted_at: dict[Address, int] = {}
        # Fast-path flag: whether any link is blocked now; and which (src, dst) server links are.
        self._split = False
        self._blocked_links: frozenset[tuple[Address, Address]] = frozenset()
        self._trace = trace
        self._record = trace.recorder  # None: nothing is recorded (sim.trace.Trace)
        self._queue = env._queue  # type: ignore[attr-defined]
        self._arrival = self._arrive  # bound once: every message in flight holds it
        self._eid = env._eid  # type: ignore[attr-defined]
        self.delivered = 0
        self._sent: dict[type, int] | None = None  # messages sent per kind, once ``count_sent`` is called
        self._refresh()

    # The knobs are properties so that ``_refresh`` can precompute what ``send`` needs for the common case.

    @property
    def delay(self) -> Delay:
        return self._delay

    @delay.setter
    def delay(self, delay: Delay) -> None:
        self._delay = delay
        self._refresh()

    @property
    def drop(self) -> float:
        return self._drop

    @drop.setter
    def drop(self, p: float) -> None:
        self._drop = p
        self._refresh()

    @property
    def duplicate(self) -> float:
        return self._duplicate

    @duplicate.setter
    def duplicate(self, p: float) -> None:
        self._duplicate = p
        self._refresh()

    def _refresh(self) -> None:
        """Whether a message can take ``send``'s fast path: no link blocked, no loss, no duplication, one uniform
        delay for every link, no FIFO links."""
        d = self._delay
        self._by_kind = self._sent is not None or bool(self._kind_drop) or bool(self._kind_delay)
        self._plain = (
            d.__class__ is Uniform
            and not (self._split or self._drop or self._duplicate or self._link_delay or self._fifo)
            and not self._by_kind
        )
        self._uniform = d.__class__ is Uniform
        if self._uniform:
            self._low = d.low
            self._span = d.high - d.low + 1

    # ------------------------------------------------------------------------- sending and delivery
    # ``send`` and ``_arrive`` run for every message: they read the clock as ``env._now`` (SimPy 4, pinned),
    # because the public ``env.now`` is a property and costs a Python call each time.

    def count_sent(self) -> None:
        """From now on, count the messages sent, per kind (``sent``). Off by default: counting takes every message
        off the fast path (with the same draws: nothing else about the run changes)."""
        if self._sent is None:
            self._sent = {}
            self._refresh()

    def sent(self) -> dict[str, int]:
        """Messages sent so far per kind name (``MESSAGE_KINDS``), since ``count_sent`` (empty before)."""
        return {cls.__name__: n for cls, n in (self._sent or {}).items()}

    def attach(self, address: Address, receive: Callable[[Message], None]) -> None:
        """From now on, messages that arrive for ``address`` go to ``receive`` (replacing any earlier one)."""
        self._receivers[address] = receive

    def send(self, m: Message) -> None:
        # A message in flight is a call (sim.world.events) of ``_arrive(m, generation)`` at its arrival, pushed
        # here without the call to ``call_later``: this runs once per message.
        now = self.env._now
        src = m.src
        record = self._record
        if record is not None:
            record((now, "send", src, m))
        if self._plain:
            # The same draws, in the same order, as the general path below makes in this case.
            arrival = now + self._low + int(self.rng.random() * self._span)
            heappush(self._queue, (arrival, NORMAL, next(self._eid), (self._arrival, m, self._generation)))
            return
        if self._by_kind:
            self._send_by_kind(m, now)
            return
        dst = m.dst
        if self._split and ((src, dst) in self._blocked_links or (self._host and self.blocked(src, dst))):
            if record is not None:
                record((now, "drop", src, (m, "partition")))
            return
        rng = self.rng
        if self._drop and rng.random() < self._drop:
            if record is not None:
                record((now, "drop", src, (m, "random")))
            return
        delay = self._delay
        if self._link_delay:
            delay = self._link_delay.get((src, dst), delay)
            if delay.__class__ is Uniform:  # Uniform.sample written out: the most common distribution, the same draw
                d = delay.low + int(rng.random() * (delay.high - delay.low + 1))  # type: ignore[union-attr]
            else:
                d = delay.sample(rng)
        elif self._uniform:  # the network's delay, uniform: its sample written out (the same draw), bounds kept
            d = self._low + int(rng.random() * self._span)
        else:
            d = delay.sample(rng)
        call = (self._arrival, m, self._generation)
        heappush(self._queue, (now + (self._in_order(src, dst, d) if self._fifo else d), NORMAL, next(self._eid), call))
        if self._duplicate and rng.random() < self._duplicate:
            if record is not None:
                record((now, "duplicate", src, m))
            d = delay.sample(rng)
            arrival = now + (self._in_order(src, dst, d) if self._fifo else d)
            heappush(self._queue, (arrival, NORMAL, next(self._eid), call))

    def _send_by_kind(self, m: Message, now: int) -> None:
        """``send``'s general path when messages are counted or some kinds have a loss or delay of their own:
        the same steps and draws, with the message's kind looked up (kept apart so the common path pays nothing
        for it)."""
        src, dst, cls = m.src, m.dst, m.__class__
        record = self._record
        sent = self._sent
        if sent is not None:
            sent[cls] = sent.get(cls, 0) + 1
        if self._split and self.blocked(src, dst):
            if record is not None:
                record((now, "drop", src, (m, "partition")))
            return
        rng = self.rng
        drop = self._kind_drop.get(cls, self._drop)
        if drop and rng.random() < drop:
            if record is not None:
                record((now, "drop", src, (m, "random")))
            return
        # The delay of the message's link if it has one, else of its kind if that has one, else the network's.
        delay = self._link_delay.get((src, dst)) or self._kind_delay.get(cls, self._delay)
        call = (self._arrival, m, self._generation)
        d = delay.sample(rng)
        heappush(self._queue, (now + (self._in_order(src, dst, d) if self._fifo else d), NORMAL, next(self._eid), call))
        if self._duplicate and rng.random() < self._duplicate:
            if record is not None:
                record((now, "duplicate", src, m))
            d = delay.sample(rng)
            arrival = now + (self._in_order(src, dst, d) if self._fifo else d)
            heappush(self._queue, (arrival, NORMAL, next(self._eid), call))

    def _in_order(self, src: Address, dst: Address, delay: int) -> int:
        """With ``fifo``: the delay of a message about to be sent, held back so as not to overtake its link's last
        message (arriving at the same time as it is enough: SimPy processes same-time events in order)."""
        now = self.env._now
        arrival = max(now + delay, self._last_arrival.get((src, dst), 0))
        self._last_arrival[(src, dst)] = arrival
        return arrival - now

    def _arrive(self, m: Message, sent: int) -> None:
        """``m``, sent in generation ``sent``, arrives."""
        if sent != self._generation and self._lost_in_flight(m, sent):
            return
        self.delivered += 1
        record = self._record
        if record is not None:
            record((self.env._now, "deliver", m.dst, m))
        self._receivers[m.dst](m)

    def _lost_in_flight(self, m: Message, sent: int) -> bool:
        """Whether the link was blocked, or the destination restarted, since generation ``sent``. (A link blocked
        now but not when ``m`` left became blocked in between: ``_reconfigure`` bumps the generation of every
        link it blocks, so that is the one test needed for partitions.)"""
        src = m.src
        dst = m.dst
        if self._blocked_at.get((src, dst), 0) > sent or (self._host and self.blocked(src, dst)):
            # (A placed client's link is not stamped: its message is lost if the link is blocked when it arrives.)
            self._trace.add(self.env._now, "drop", dst, (m, "partition"))
            return True
        if self._restarted_at.get(dst, 0) > sent:
            self._trace.add(self.env._now, "drop", dst, (m, "crashed"))
            return True
        return False

    def blocked(self, src: Address, dst: Address) -> bool:
        """Whether messages from ``src`` to ``dst`` are lost now. A client is outside the partitions, unless placed
        beside a server: then never cut off from that one, and cut off from the others where that server is."""
        if (src, dst) in self._blocked_links:
            return True
        if not self._host:
            return False
        a, b = self._host.get(src, src), self._host.get(dst, dst)
        return (a, b) != (src, dst) and a != b and (a, b) in self._blocked_links

    def place(self, client: Address, server: int) -> None:
        """From now on ``client``'s messages to a server pass only where ``server``'s would, and so do the replies
        (as if the client ran on that server's machine): a client on one side of a partition."""
        self._host[client] = server

    def endpoint_restarted(self, node: Address) -> None:
        """Messages in flight to ``node`` are lost (its connections died with it)."""
        self._generation += 1
        self._restarted_at[node] = self._generation

    # ------------------------------------------------------------------------------------- partitions

    def _reconfigure(self, change: Callable[[], None]) -> None:
        before = self._blocked_links
        change()
        self._group = {**self._parts, **{n: -n for n in self._off}}  # the disconnected alone: no group is negative
        # A link between two servers is blocked when they are in different groups or it is cut.
        group, servers = self._group, self.servers
        on = set(servers)
        after = {(a, b) for a, b in self._cuts if a != b and a in on and b in on}
        for a in servers:  # (a server's group with itself is its own: no a != b test needed)
            ga = group[a]
            after.update([(a, b) for b in servers if group[b] != ga])
        for link in sorted(after - before):
            # Every link that becomes blocked, and only here: what ``_lost_in_flight`` relies on.
            self._generation += 1
            self._blocked_at[link] = self._generation
        self._blocked_links = frozenset(after)
        self._split = bool(after)
        self._refresh()

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Split the servers into groups that cannot reach each other; servers not named form one more group.
        Replaces any earlier partition; one-way cuts stay."""
        groups = [tuple(g) for g in groups]

        def change() -> None:
            self._rest = len(groups)
            self._parts = {s: len(groups) for s in self.servers}
            for i, g in enumerate(groups):
                for s in g:
                    self._parts[s] = i

        self._reconfigure(change)

    def join(self, node: int) -> None:
        """A new server is on the network, with the servers the current partition (if any) did not name."""

        def change() -> None:
            self.servers = (*self.servers, node)
            self._parts[node] = self._rest

        self._reconfigure(change)

    def isolate(self, node: int) -> None:
        self.partition([[node]])

    def cut(self, src: int, dst: int) -> None:
        """Messages from ``src`` to ``dst`` are lost; the other direction still works."""
        self._reconfigure(lambda: self._cuts.add((src, dst)))

    def repair(self, src: int, dst: int) -> None:
        self._reconfigure(lambda: self._cuts.discard((src, dst)))

    def disconnect(self, node: int) -> None:
        """Cut ``node`` off from every other server, in both directions, until ``reconnect`` (or ``heal``)."""
        self._reconfigure(lambda: self._off.add(node))

    def reconnect(self, node: int) -> None:
        """Undo ``disconnect``: ``node`` is back in whatever the partition and cuts make of the network."""
        self._reconfigure(lambda: self._off.discard(node))

    def disconnected(self) -> list[int]:
        """The disconnected servers, in order."""
        return sorted(self._off)

    def heal(self) -> None:
        """Undo every partition, cut and disconnection."""
        self._parts = {s: 0 for s in self.servers}
        self._group = dict(self._parts)
        self._rest = 0
        self._cuts = set()
        self._off = set()
        self._split = False
        self._blocked_links = frozenset()
        self._refresh()

    def set_kind(self, kinds: Iterable[str], drop: float | None = None, delay: Delay | None = None) -> None:
        """Messages of these kinds (``MESSAGE_KINDS`` names) are lost with probability ``drop`` and delayed by
        ``delay`` (each if given) instead of the network's; a link's own delay still comes first."""
        for kind in kinds:
            cls = MESSAGE_KINDS[kind]
            if drop is not None:
                self._kind_drop[cls] = drop
            if delay is not None:
                self._kind_delay[cls] = delay
        self._refresh()

    def set_link_delay(self, src: int, dst: int, delay: Delay | None) -> None:
        if delay is None:
            self._link_delay.pop((src, dst), None)
        else:
            self._link_delay[(src, dst)] = delay
        self._refresh()
