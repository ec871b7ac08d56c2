"""Fault schedules: the shared vocabulary of scenario files, the fuzzer and scripted tests.

A ``Fault`` is one timed action. Targets that name a role (``"leader"``, ``"follower"``, ...) are resolved when
the fault fires, from the simulation's state at that moment and its seeded ``faults`` random stream, so a
schedule means the same thing under every seed while its concrete victims vary with the seed.

Actions and the fields they use:

=========  ==========================================================================
crash      ``node``: target
restart    ``node``: target (typically ``"all-crashed"``)
partition  ``groups``: tuple of groups, each a tuple of targets; unnamed servers form one more group
isolate    ``node``: target (each resolved node is cut off from all others)
cut        ``src``, ``dst`` (targets): messages from src to dst are lost (one way)
repair     ``src``, ``dst`` (targets): undo a cut
heal       (none): undo every partition, cut and disconnection
drop       ``value``: probability that a message is lost (of the message ``kinds`` only, if set)
duplicate  ``value``: probability that a message is delivered twice
delay      ``delay``: the delay distribution (for the link ``src`` -> ``dst`` if both set, or ``kinds`` only)
drift      ``node``: target, ``value``: clock rate (1.1 = timers fire 10% early)
disconnect ``node``: target (each resolved node is cut off from every other server until reconnected; composes)
reconnect  ``node``: target (undo a disconnect)
submit     ``node``: target, ``submit``: ``Submit`` (client operations sent to each resolved server)
add_server ``node``: a server id; a new one (no such server yet) boots empty first; the operator asks for it
remove_*   ``remove_server``, ``node``: target (each resolved server is asked to be removed; it keeps running)
transfer_* ``transfer_leader``, ``node``: one server (an id, ``"follower"``, ``"random"`` or ``"@name"``) to which
           the leader of the moment is told to hand over (thesis 3.10); nothing happens when there is no leader
=========  ==========================================================================

Targets: a node id, a tuple of ids, ``"leader"`` (the current leader, if any), ``"follower"`` (one live
non-leader, a seeded pick), ``"random"`` (one live server), ``"all"``, ``"all-crashed"``, ``"majority"`` (a
seeded majority of live servers), ``"crashed"`` (every crashed server, as ``"all-crashed"``), ``"connected"``
(every live server not disconnected), ``"disconnected"`` (every disconnected server), or ``"@name"``: the servers
an earlier fault's target resolved to, bound by its ``bind`` (a scenario's ``as``; ``Names`` keeps them).
Partition groups and the ends of a cut may be targets too: a group is the servers its items name (a server named
by an earlier group stays there; a group that names none is left out), and a cut or repair between targets is one
between every pair of their servers. ``pick`` narrows a target to that many distinct servers, a seeded pick
among those it names (``"random"`` with ``pick = 2``: two live servers).

A fault with a ``Guard`` is one occurrence (or several, at random gaps) of a scenario event that may not happen:
it happens only if its condition holds then and its probability (a draw from the ``faults`` stream, made only
when it is below 1 and the condition holds) says so; the faults of its ``then`` (an undo, such as a crash's
restart) follow it only if it happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from sim.world.conditions import Condition, ConditionError, State, kinds_of
from sim.world.names import Names
from sim.world.network import Delay

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


Target = int | tuple[int, ...] | str | None  # str: a target word or "@name"

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
    "disconnect",
    "reconnect",
    "submit",
    "add_server",
    "remove_server",
    "transfer_leader",
)
TARGET_WORDS = (
    "leader",
    "follower",
    "random",
    "all",
    "all-crashed",
    "majority",
    "crashed",
    "connected",
    "disconnected",
)


@dataclass(frozen=True, init=False)
class Fault:
    at: int  # simulated microseconds
    do: str
    node: Target = None
    groups: tuple[tuple[int | str, ...], ...] = ()
    src: Target = None
    dst: Target = None
    value: float | None = None
    delay: Delay | None = None
    bind: str | None = None  # the name under which the servers ``node`` resolved to are kept (``as``)
    pick: int | None = None  # ``node`` narrowed to this many distinct servers (a seeded pick)
    guard: Guard | None = None  # whether (and how often) it happens, and what follows it
    submit: Submit | None = None  # what ``submit`` sends
    kinds: tuple[str, ...] = ()  # drop, delay: only messages of these kinds or groups (sim.world.network)

    def __init__(
        self,
        at: int,
        do: str,
        node: Target = None,
        groups: tuple[tuple[int | str, ...], ...] = (),
        src: Target = None,
        dst: Target = None,
        value: float | None = None,
        delay: Delay | None = None,
        bind: str | None = None,
        pick: int | None = None,
        guard: Guard | None = None,
        submit: Submit | None = None,
        kinds: tuple[str, ...] = (),
    ) -> None:
        """The generated ``__init__`` of a frozen dataclass, in one step: it would set the 13 fields one by one,
        each through a call of ``object.__setattr__``, and the fuzzer draws dozens of faults per seed (a storm
        of crashes, a leader isolated every 10 ms), a third of drawing a case. The fields and their defaults are the
        ones declared above (tests/test_world_events.py holds the two to the same)."""
        object.__setattr__(
            self,
            "__dict__",
            {
                "at": at, "do": do, "node": node, "groups": groups, "src": src, "dst": dst, "value": value,
                "delay": delay, "bind": bind, "pick": pick, "guard": guard, "submit": submit, "kinds": kinds,
            },
        )  # fmt: skip


@dataclass(frozen=True)
class Submit:
    """Client operations a ``submit`` sends to each server its target names, each from a client of its own
    (``Simulation.submit``): ``ops`` of them, of kind ``op``, on ``key`` (None: the workload's keys in turn);
    ``follow``: the clients find the leader and retry, else each makes one attempt; ``beside``: a target naming
    the server the clients sit beside (its first server), None for outside the partitions."""

    ops: int = 1
    op: str = "put"
    key: str | None = None
    follow: bool = True
    beside: Target = None


@dataclass(frozen=True)
class Guard:
    """What decides whether an occurrence happens, how many follow it, and the faults that go with each."""

    probability: float = 1.0
    when: Condition | None = None
    every: tuple[int, int] | None = None  # occurrences ``count`` in all, at gaps drawn uniformly from this range
    count: int = 1
    then: tuple[Fault, ...] = ()  # after an occurrence that happened, each at ``at`` microseconds after it


def resolve(sim: Simulation, target: Target, names: Names | None = None, pick: int | None = None) -> list[int]:
    """The concrete servers a target names right now (possibly none; an unbound name names none), or with
    ``pick``, that many of them (all if there are fewer), picked with the faults stream."""
    if pick is not None:
        if target == "random":
            among = sim.alive()
        elif target == "follower":
            leader = sim.leader()
            among = [n for n in sim.alive() if n != leader]
        else:
            among = resolve(sim, target, names)
        return sorted(sim.fault_rng.sample(among, min(pick, len(among))))
    if target is None:
        return []
    if isinstance(target, int):
        return [target]
    if isinstance(target, tuple):
        return list(target)
    if target[0] == "@":
        bound = names.nodes(target[1:]) if names is not None else None
        return list(bound or ())
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
    if target == "crashed":
        return [n for n in sorted(sim.servers) if not sim.servers[n].alive]
    if target == "connected":
        return sim.connected()
    if target == "disconnected":
        return sim.network.disconnected()
    if target == "majority":
        k = len(sim.servers) // 2 + 1
        return sorted(rng.sample(alive, min(k, len(alive))))
    raise ValueError(f"unknown target {target!r}")


def apply(sim: Simulation, fault: Fault, names: Names | None = None) -> None:
    """Carry out one fault now (``names``: what earlier faults bound, and where this one binds)."""
    do = fault.do
    nodes: list[int] = []
    if fault.node is not None:
        nodes = resolve(sim, fault.node, names, fault.pick)
        if do != "add_server":
            nodes = [n for n in nodes if n in sim.servers]  # a server an add_server left out (shrinking) is none
    if fault.bind is not None and names is not None:
        names.bind(fault.bind, nodes, sim.now, State.of(sim))
    if do == "crash":
        for n in nodes:
            sim.crash(n)
    elif do == "restart":
        for n in nodes:
            sim.restart(n)
    elif do == "partition":
        sim.partition(_groups(sim, fault.groups, names))
    elif do == "isolate":
        if nodes:
            sim.partition([[n] for n in nodes])
    elif do in ("cut", "repair"):
        change = sim.cut if do == "cut" else sim.repair
        if isinstance(fault.src, int) and isinstance(fault.dst, int):
            change(fault.src, fault.dst)
        else:
            destinations = resolve(sim, fault.dst, names)
            for src in resolve(sim, fault.src, names):
                for dst in destinations:
                    if src != dst:
                        change(src, dst)
    elif do == "heal":
        sim.heal()
    elif do == "disconnect":
        for n in nodes:
            sim.disconnect(n)
    elif do == "reconnect":
        for n in nodes:
            sim.reconnect(n)
    elif do == "submit":
        spec = fault.submit or Submit()
        beside = resolve(sim, spec.beside, names)[:1] if spec.beside is not None else []
        for n in nodes:
            for _ in range(spec.ops):
                sim.submit(n, spec.op, spec.key, spec.follow, beside[0] if beside else None)
    elif do == "drop":
        sim.set_drop(float(fault.value or 0.0), _kinds(fault.kinds))
    elif do == "duplicate":
        sim.set_duplicate(float(fault.value or 0.0))
    elif do == "delay":
        assert fault.delay is not None
        if fault.kinds:
            sim.set_delay(fault.delay, kinds=_kinds(fault.kinds))
        else:
            sim.set_delay(fault.delay, fault.src, fault.dst)  # type: ignore[arg-type]
    elif do == "drift":
        for n in nodes:
            sim.set_drift(n, float(fault.value if fault.value is not None else 1.0))
    elif do == "add_server":
        for n in nodes:
            sim.add_server(n)
    elif do == "remove_server":
        for n in nodes:
            sim.remove_server(n)
    elif do == "transfer_leader":
        sim.transfer_leader(nodes[0] if nodes else None)
    else:
        raise ValueError(f"unknown fault action {do!r}")


def _kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Message kind names, groups spelt out."""
    return tuple(k for kind in kinds for k in kinds_of(kind))


def _groups(sim: Simulation, groups: tuple[tuple[int | str, ...], ...], names: Names | None) -> list[list[int]]:
    """Partition groups as servers: each item resolved now; a server stays in the first group that names it, and
    a group left with no server is left out."""
    placed: set[int] = set()
    out = []
    for group in groups:
        members = []
        for item in group:
            for n in [item] if isinstance(item, int) else resolve(sim, item, names):
                if n not in placed:
                    placed.add(n)
                    members.append(n)
        if members:
            out.append(members)
    return out


def occur(sim: Simulation, fault: Fault, names: Names | None = None, left: int | None = None) -> None:
    """A fault's time has come: carry it out, or with a guard, decide whether this occurrence happens (and then
    carry out its ``then`` in turn), and schedule the next occurrence (``left``: how many remain, this one
    included)."""
    guard = fault.guard
    if guard is None:
        apply(sim, fault, names)
        return
    if _happens(sim, guard, names):
        apply(sim, fault, names)
        for then in guard.then:
            sim.at(sim.now + then.at, lambda f=then: apply(sim, f, names))
    left = guard.count if left is None else left
    if left > 1 and guard.every is not None:
        low, high = guard.every
        gap = low + int(sim.fault_rng.random() * (high - low + 1))
        sim.at(sim.now + gap, lambda: occur(sim, fault, names, left - 1))


def _happens(sim: Simulation, guard: Guard, names: Names | None) -> bool:
    if guard.when is not None:
        try:
            if not guard.when.holds(State.of(sim), names):
                return False
        except ConditionError:
            return False  # it reads a moment that has not happened: it does not hold yet
    return guard.probability >= 1.0 or sim.fault_rng.random() < guard.probability


def schedule(sim: Simulation, faults: Iterable[Fault], names: Names | None = None) -> Names:
    """Arrange for each fault to fire at its time (faults at the same time fire in the order given). Returns the
    names the faults bind as they fire (``names``, or new ones)."""
    names = Names() if names is None else names
    sim.at_each([(fault.at, partial(occur, sim, fault, names)) for fault in sorted(faults, key=lambda f: f.at)])
    return names
