"""Fault schedules: the shared vocabulary of scenario files, the fuzzer and scripted tests.

A ``Fault`` is one timed action. Targets that name a role (``"leader"``, ``"follower"``, ...) are resolved when
the fault fires, from the simulation's state at that moment and its seeded ``faults`` random stream, so a
schedule means the same thing under every seed while its concrete victims vary with the seed.

Actions and the fields they use:

=========  ==========================================================================
crash      ``node``: target
restart    ``node``: target (typically ``"all-crashed"``)
partition  ``groups``: tuple of node-id tuples; unnamed servers form one more group
isolate    ``node``: target (each resolved node is cut off from all others)
cut        ``src``, ``dst``: messages from src to dst are lost (one way)
repair     ``src``, ``dst``: undo a cut
heal       (none): undo every partition and cut
drop       ``value``: probability that a message is lost
duplicate  ``value``: probability that a message is delivered twice
delay      ``delay``: the delay distribution (for the link ``src`` -> ``dst`` if both set)
drift      ``node``: target, ``value``: clock rate (1.1 = timers fire 10% early)
transfer_leader  ``node``: the target (one server: an id, ``"follower"`` or ``"random"``) to which the
           leader of the moment is told to hand over (thesis 3.10); nothing happens when there is no leader
=========  ==========================================================================

Targets: a node id, a tuple of ids, ``"leader"`` (the current leader, if any), ``"follower"`` (one live
non-leader, a seeded pick), ``"random"`` (one live server), ``"all"``, ``"all-crashed"``, ``"majority"`` (a
seeded majority of live servers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.world.network import Delay

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


Target = int | tuple[int, ...] | str | None

ACTIONS = (
    "crash",
    "restart",
    "partition",
    "isolate",
    "cut",
    "repair",
    "heal",
    "drop",
    "duplicate",
    "delay",
    "drift",
    "transfer_leader",
)
TARGET_WORDS = ("leader", "follower", "random", "all", "all-crashed", "majority")


@dataclass(frozen=True)
class Fault:
    at: int  # simulated microseconds
    do: str
    node: Target = None
    groups: tuple[tuple[int, ...], ...] = ()
    src: int | None = None
    dst: int | None = None
    value: float | None = None
    delay: Delay | None = None


def resolve(sim: Simulation, target: Target) -> list[int]:
    """The concrete servers a target names right now (possibly none)."""
    if target is None:
        return []
    if isinstance(target, int):
        return [target]
    if isinstance(target, tuple):
        return list(target)
    alive = sim.alive()
    rng = sim.fault_rng
    if target == "leader":
        leader = sim.leader()
        return [] if leader is None else [leader]
    if target == "follower":
        leader = sim.leader()
        followers = [n for n in alive if n != leader]
        return [rng.choice(followers)] if followers else []
    if target == "random":
        return [rng.choice(alive)] if alive else []
    if target == "all":
        return sorted(sim.servers)
    if target == "all-crashed":
        return [n for n in sorted(sim.servers) if not sim.servers[n].alive]
    if target == "majority":
        k = len(sim.servers) // 2 + 1
        return sorted(rng.sample(alive, min(k, len(alive))))
    raise ValueError(f"unknown target {target!r}")


def apply(sim: Simulation, fault: Fault) -> None:
    """Carry out one fault now."""
    do = fault.do
    if do == "crash":
        for n in resolve(sim, fault.node):
            sim.crash(n)
    elif do == "restart":
        for n in resolve(sim, fault.node):
            sim.restart(n)
    elif do == "partition":
        sim.partition([list(g) for g in fault.groups])
    elif do == "isolate":
        nodes = resolve(sim, fault.node)
        if nodes:
            sim.partition([[n] for n in nodes])
    elif do == "cut":
        assert fault.src is not None and fault.dst is not None
        sim.cut(fault.src, fault.dst)
    elif do == "repair":
        assert fault.src is not None and fault.dst is not None
        sim.repair(fault.src, fault.dst)
    elif do == "heal":
        sim.heal()
    elif do == "drop":
        sim.set_drop(float(fault.value or 0.0))
    elif do == "duplicate":
        sim.set_duplicate(float(fault.value or 0.0))
    elif do == "delay":
        assert fault.delay is not None
        sim.set_delay(fault.delay, fault.src, fault.dst)
    elif do == "drift":
        for n in resolve(sim, fault.node):
            sim.set_drift(n, float(fault.value if fault.value is not None else 1.0))
    elif do == "transfer_leader":
        targets = resolve(sim, fault.node)
        sim.transfer_leader(targets[0] if targets else None)
    else:
        raise ValueError(f"unknown fault action {do!r}")


def schedule(sim: Simulation, faults: Iterable[Fault]) -> None:
    """Arrange for each fault to fire at its time (faults at the same time fire in the order given)."""
    for fault in sorted(faults, key=lambda f: f.at):
        sim.at(fault.at, lambda f=fault: apply(sim, f))
