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
while the message was in flight drops it, as does a destination that crashed meanwhile). Clients are outside
the partitions (their links are never cut, but they see the same delays, loss and duplication) unless placed
beside a server (``place``): then a client's messages pass where that server's would, and always to and from it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from simpy import Environment
from simpy.events import NORMAL, Event

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


class _InFlight(Event):
    """A message in flight: a SimPy event, already triggered, that the environment processes at the message's
    arrival. What ``Timeout(env, delay, value).callbacks.append(callback)`` makes, with one call and the
    argument check fewer: one is made per message."""

    def __init__(
        self, env: Environment, delay: int, message: Message, stamp: tuple[int, int] | None, arrive: Any
    ) -> None:
        self.env = env
        self.callbacks = [arrive]
        self.message = message
        self.stamp = stamp
        self._value = None
        self._ok = True
        env.schedule(self, NORMAL, delay)


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
        self._cuts: set[tuple[int, int]] = set()
        self._off: set[int] = set()  # disconnected servers
        self._host: dict[Address, int] = {}  # a placed client -> the server it sits beside
        # How many times each link has been blocked, and each endpoint restarted: a message in flight is lost
        # when either count changed between its sending and its arrival.
        self._cut_count: dict[tuple[Address, Address], int] = {}
        self._epoch: dict[Address, int] = {}
        # Fast-path flags: whether any link is blocked now, and whether any link was ever cut or endpoint restarted.
        self._split = False
        self._faulted = False
        self._record = trace.records.append
        self._arrive_callback = self._arrive
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
        delay for every link, and no cut or restart yet whose in-flight losses ``_arrive`` would have to check."""
        d = self._delay
        self._by_kind = self._sent is not None or bool(self._kind_drop) or bool(self._kind_delay)
        self._plain = d.__class__ is Uniform and not (
            self._split or self._drop or self._duplicate or self._link_delay or self._faulted or self._fifo
        ) and not self._by_kind
        if d.__class__ is Uniform:
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
        now = self.env._now
        src = m.src
        record = self._record
        record((now, "send", src, m))
        if self._plain:
            # The same draws, in the same order, as the general path below makes in this case.
            _InFlight(self.env, self._low + int(self.rng.random() * self._span), m, None, self._arrive_callback)
            return
        if self._by_kind:
            self._send_by_kind(m, now)
            return
        dst = m.dst
        if self._split and self.blocked(src, dst):
            record((now, "drop", src, (m, "partition")))
            return
        rng = self.rng
        if self._drop and rng.random() < self._drop:
            record((now, "drop", src, (m, "random")))
            return
        delay = self._link_delay.get((src, dst), self._delay) if self._link_delay else self._delay
        # Until the first cut or restart, every link's counts are 0: no stamp needed (see _lost_in_flight).
        stamp = (self._cut_count.get((src, dst), 0), self._epoch.get(dst, 0)) if self._faulted else None
        d = delay.sample(rng)
        _InFlight(self.env, self._in_order(src, dst, d) if self._fifo else d, m, stamp, self._arrive_callback)
        if self._duplicate and rng.random() < self._duplicate:
            record((now, "duplicate", src, m))
            d = delay.sample(rng)
            _InFlight(self.env, self._in_order(src, dst, d) if self._fifo else d, m, stamp, self._arrive_callback)

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
            record((now, "drop", src, (m, "partition")))
            return
        rng = self.rng
        drop = self._kind_drop.get(cls, self._drop)
        if drop and rng.random() < drop:
            record((now, "drop", src, (m, "random")))
            return
        # The delay of the message's link if it has one, else of its kind if that has one, else the network's.
        delay = self._link_delay.get((src, dst)) or self._kind_delay.get(cls, self._delay)
        stamp = (self._cut_count.get((src, dst), 0), self._epoch.get(dst, 0)) if self._faulted else None
        d = delay.sample(rng)
        _InFlight(self.env, self._in_order(src, dst, d) if self._fifo else d, m, stamp, self._arrive_callback)
        if self._duplicate and rng.random() < self._duplicate:
            record((now, "duplicate", src, m))
            d = delay.sample(rng)
            _InFlight(self.env, self._in_order(src, dst, d) if self._fifo else d, m, stamp, self._arrive_callback)

    def _in_order(self, src: Address, dst: Address, delay: int) -> int:
        """With ``fifo``: the delay of a message about to be sent, held back so as not to overtake its link's last
        message (arriving at the same time as it is enough: SimPy processes same-time events in order)."""
        now = self.env._now
        arrival = max(now + delay, self._last_arrival.get((src, dst), 0))
        self._last_arrival[(src, dst)] = arrival
        return arrival - now

    def _arrive(self, ev: _InFlight) -> None:
        m = ev.message
        if self._faulted and self._lost_in_flight(m, ev.stamp):
            return
        self.delivered += 1
        self._record((self.env._now, "deliver", m.dst, m))
        self._receivers[m.dst](m)

    def _lost_in_flight(self, m: Message, stamp: tuple[int, int] | None) -> bool:
        """Whether the link was cut, or the destination restarted, while ``m`` was in flight."""
        src = m.src
        dst = m.dst
        cuts, epoch = stamp or (0, 0)
        if cuts != self._cut_count.get((src, dst), 0) or self.blocked(src, dst):
            self._record((self.env.now, "drop", dst, (m, "partition")))
            return True
        if epoch != self._epoch.get(dst, 0):
            self._record((self.env.now, "drop", dst, (m, "crashed")))
            return True
        return False

    def blocked(self, src: Address, dst: Address) -> bool:
        group = self._group
        g1 = group.get(src)  # type: ignore[arg-type]
        g2 = group.get(dst)  # type: ignore[arg-type]
        if g1 is None or g2 is None:
            # A client: outside the partitions, unless placed beside a server (never cut off from that one).
            if not self._host:
                return False
            a, b = self._host.get(src, src), self._host.get(dst, dst)
            return a != b and a in group and b in group and self.blocked(a, b)
        return g1 != g2 or (src, dst) in self._cuts

    def place(self, client: Address, server: int) -> None:
        """From now on ``client``'s messages to a server pass only where ``server``'s would, and so do the replies
        (as if the client ran on that server's machine): a client on one side of a partition."""
        self._host[client] = server

    def endpoint_restarted(self, node: Address) -> None:
        """Messages in flight to ``node`` are lost (its connections died with it)."""
        self._epoch[node] = self._epoch.get(node, 0) + 1
        self._faulted = True
        self._refresh()

    # ------------------------------------------------------------------------------------- partitions

    def _reconfigure(self, change: Callable[[], None]) -> None:
        before = {(a, b) for a in self.servers for b in self.servers if a != b and self.blocked(a, b)}
        change()
        self._group = {**self._parts, **{n: -n for n in self._off}}  # the disconnected alone: no group is negative
        self._split = bool(self._cuts) or len(set(self._group.values())) > 1
        for a in self.servers:
            for b in self.servers:
                if a != b and (a, b) not in before and self.blocked(a, b):
                    self._cut_count[(a, b)] = self._cut_count.get((a, b), 0) + 1
                    self._faulted = True
        self._refresh()

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Split the servers into groups that cannot reach each other; servers not named form one more group.
        Replaces any earlier partition; one-way cuts stay."""
        groups = [tuple(g) for g in groups]

        def change() -> None:
            self._parts = {s: len(groups) for s in self.servers}
            for i, g in enumerate(groups):
                for s in g:
                    self._parts[s] = i

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
        self._cuts = set()
        self._off = set()
        self._split = False
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
