"""The simulated network: per-message delay, loss, duplication, partitions and one-way cuts.

Reordering is not a separate knob: it follows from independent per-message delays. This module alone knows how
partitions are represented (a group number per server plus a set of cut directed links); everyone else says
``partition``, ``cut``, ``repair``, ``heal``.

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
from simpy.events import Timeout

from .raft.messages import Address, Message
from .trace import Trace

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


Delay = Fixed | Uniform | Exponential | LogNormal


def describe_delay(d: Delay) -> dict[str, Any]:
    """A JSON-able description of a delay distribution (milliseconds), for traces and scenario files."""
    if isinstance(d, Fixed):
        return {"dist": "fixed", "value": d.value / 1000}
    if isinstance(d, Uniform):
        return {"dist": "uniform", "min": d.low / 1000, "max": d.high / 1000}
    if isinstance(d, Exponential):
        return {"dist": "exponential", "mean": d.mean / 1000, "min": d.minimum / 1000}
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
    ) -> None:
        self.env = env
        self.rng = rng
        self.servers = tuple(servers)
        # Who takes a message that arrives for an address (see ``attach``).
        self._receivers: dict[Address, Callable[[Message], None]] = {}
        self.delay: Delay = delay
        self.drop = drop
        self.duplicate = duplicate
        self.link_delay: dict[tuple[int, int], Delay] = {}
        # Partition groups (server -> group number) and one-way cuts (src, dst).
        self._group: dict[int, int] = {s: 0 for s in self.servers}
        self._cuts: set[tuple[int, int]] = set()
        # How many times each link has been blocked, and each endpoint restarted: a message in flight is lost
        # when either count changed between its sending and its arrival.
        self._cut_count: dict[tuple[Address, Address], int] = {}
        self._epoch: dict[Address, int] = {}
        # Fast-path flags: whether any link is blocked now, and whether any link was ever cut or endpoint restarted.
        self._split = False
        self._faulted = False
        self._record = trace.records.append
        self.delivered = 0

    # ------------------------------------------------------------------------- sending and delivery
    # ``send`` and ``_arrive`` run for every message: they read the clock as ``env._now`` (SimPy 4, pinned),
    # because the public ``env.now`` is a property and costs a Python call each time.

    def attach(self, address: Address, receive: Callable[[Message], None]) -> None:
        """From now on, messages that arrive for ``address`` go to ``receive`` (replacing any earlier one)."""
        self._receivers[address] = receive

    def send(self, m: Message) -> None:
        now = self.env._now
        src = m.src
        dst = m.dst
        record = self._record
        record((now, "send", src, m))
        if self._split and self.blocked(src, dst):
            record((now, "drop", src, (m, "partition")))
            return
        rng = self.rng
        if self.drop and rng.random() < self.drop:
            record((now, "drop", src, (m, "random")))
            return
        delay = self.link_delay.get((src, dst), self.delay) if self.link_delay else self.delay
        # Until the first cut or restart, every link's counts are 0: no stamp needed (see _lost_in_flight).
        stamp = (self._cut_count.get((src, dst), 0), self._epoch.get(dst, 0)) if self._faulted else None
        if delay.__class__ is Uniform:  # the common case, drawn inline: this runs for every message
            d = delay.low + int(rng.random() * (delay.high - delay.low + 1))
        else:
            d = delay.sample(rng)
        Timeout(self.env, d, (m, stamp)).callbacks.append(self._arrive)
        if self.duplicate and rng.random() < self.duplicate:
            record((now, "duplicate", src, m))
            Timeout(self.env, delay.sample(rng), (m, stamp)).callbacks.append(self._arrive)

    def _arrive(self, ev: Timeout) -> None:
        m, stamp = ev._value
        if self._faulted and self._lost_in_flight(m, stamp):
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

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Split the servers into groups that cannot reach each other; servers not named form one more group.
        Replaces any earlier partition; one-way cuts stay."""
        groups = [tuple(g) for g in groups]

        def change() -> None:
            self._group = {s: len(groups) for s in self.servers}
            for i, g in enumerate(groups):
                for s in g:
                    self._group[s] = i

        self._reconfigure(change)

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
        self._cuts = set()
        self._split = False

    def set_link_delay(self, src: int, dst: int, delay: Delay | None) -> None:
        if delay is None:
            self.link_delay.pop((src, dst), None)
        else:
            self.link_delay[(src, dst)] = delay
