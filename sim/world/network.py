"""The simulated network: per-message delay, loss, duplication, partitions and one-way cuts.

Reordering is not a separate knob: it follows from independent per-message delays, unless ``fifo`` makes each
directed link deliver in send order (as a TCP connection does). This module alone knows how partitions are
represented (a group number per server plus a set of cut directed links); everyone else says ``partition``,
``cut``, ``repair``, ``heal``.

A message is checked twice: when it is sent (a blocked link drops it at once) and when it arrives (a link cut
while the message was in flight drops it, as does a destination that crashed meanwhile). Clients are outside
the partitions: their links are never cut, but they see the same delays, loss and duplication.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from simpy import Environment
from simpy.events import NORMAL, Event

from sim.raft.messages import Address, Message
from sim.trace import Trace

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
        # With ``fifo``, when the last message sent on each directed link arrives: none may arrive before it.
        self._fifo = fifo
        self._last_arrival: dict[tuple[Address, Address], int] = {}
        # Partition groups (server -> group number) and one-way cuts (src, dst).
        self._group: dict[int, int] = {s: 0 for s in self.servers}
        self._rest = 0  # the group of the servers a partition did not name (where a new server joins)
        self._cuts: set[tuple[int, int]] = set()
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
        self._plain = d.__class__ is Uniform and not (
            self._split or self._drop or self._duplicate or self._link_delay or self._faulted or self._fifo
        )
        if d.__class__ is Uniform:
            self._low = d.low
            self._span = d.high - d.low + 1

    # ------------------------------------------------------------------------- sending and delivery
    # ``send`` and ``_arrive`` run for every message: they read the clock as ``env._now`` (SimPy 4, pinned),
    # because the public ``env.now`` is a property and costs a Python call each time.

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
            return False  # a client
        return g1 != g2 or (src, dst) in self._cuts

    def endpoint_restarted(self, node: Address) -> None:
        """Messages in flight to ``node`` are lost (its connections died with it)."""
        self._epoch[node] = self._epoch.get(node, 0) + 1
        self._faulted = True
        self._refresh()

    # ------------------------------------------------------------------------------------- partitions

    def _reconfigure(self, change: Callable[[], None]) -> None:
        before = {(a, b) for a in self.servers for b in self.servers if a != b and self.blocked(a, b)}
        change()
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
            self._rest = len(groups)
            self._group = {s: len(groups) for s in self.servers}
            for i, g in enumerate(groups):
                for s in g:
                    self._group[s] = i

        self._reconfigure(change)

    def join(self, node: int) -> None:
        """A new server is on the network, with the servers the current partition (if any) did not name."""
        self.servers = (*self.servers, node)
        self._group[node] = self._rest

    def isolate(self, node: int) -> None:
        self.partition([[node]])

    def cut(self, src: int, dst: int) -> None:
        """Messages from ``src`` to ``dst`` are lost; the other direction still works."""
        self._reconfigure(lambda: self._cuts.add((src, dst)))

    def repair(self, src: int, dst: int) -> None:
        self._reconfigure(lambda: self._cuts.discard((src, dst)))

    def heal(self) -> None:
        """Undo every partition and cut."""
        self._group = {s: 0 for s in self.servers}
        self._rest = 0
        self._cuts = set()
        self._split = False
        self._refresh()

    def set_link_delay(self, src: int, dst: int, delay: Delay | None) -> None:
        if delay is None:
            self._link_delay.pop((src, dst), None)
        else:
            self._link_delay[(src, dst)] = delay
        self._refresh()
