"""The simulator's own event machinery (sim.world.events, the network's losses in flight, fault schedules): the
plain calls and processes behave exactly as the SimPy events and processes they stand in for, so a run is the same
run (the trace digests elsewhere pin that for whole runs; these pin the pieces)."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from simpy.events import Timeout

from sim.raft import RequestVote
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig
from sim.world.events import PlainProcess
from sim.world.faults import Fault, apply, schedule
from sim.world.network import Delay, Fixed, Uniform

MS = 1_000


def _fates(sim: Simulation, probe: RequestVote) -> list[str]:
    """What the trace says became of ``probe``: "deliver", or the reason it was dropped."""
    out = []
    for _t, kind, _node, data in sim.trace.records:
        if kind == "deliver" and data is probe:
            out.append("deliver")
        elif kind == "drop" and type(data) is tuple and data[0] is probe:
            out.append(data[1])
    return out


# Uniform(10 ms, 10 ms) takes the network's fast path until a link is cut; Fixed always the general one.
DELAYS: list[Delay] = [Uniform(10 * MS, 10 * MS), Fixed(10 * MS)]


@pytest.mark.parametrize("delay", DELAYS, ids=["fast-path", "general-path"])
def test_a_message_in_flight_is_lost_when_its_link_is_cut_even_if_repaired_before_it_arrives(delay: Delay) -> None:
    sim = Simulation(ClusterConfig(nodes=3), NetworkConfig(delay=delay), seed=1)
    early, late, other = RequestVote(99, 1, 2, 0, 0), RequestVote(99, 1, 2, 0, 0), RequestVote(99, 1, 3, 0, 0)
    sim.network.send(early)  # arrives at 10 ms
    sim.network.send(other)  # another link: unaffected
    sim.at(4 * MS, lambda: sim.cut(1, 2))
    sim.at(6 * MS, lambda: sim.repair(1, 2))
    sim.at(7 * MS, lambda: sim.network.send(late))  # sent after the repair: arrives
    assert sim.run(30 * MS) is None
    assert _fates(sim, early) == ["partition"]
    assert _fates(sim, late) == ["deliver"] and _fates(sim, other) == ["deliver"]


@pytest.mark.parametrize("delay", DELAYS, ids=["fast-path", "general-path"])
def test_a_message_in_flight_is_lost_when_its_destination_restarts(delay: Delay) -> None:
    sim = Simulation(ClusterConfig(nodes=3), NetworkConfig(delay=delay), seed=1)
    before, after = RequestVote(99, 1, 2, 0, 0), RequestVote(99, 1, 2, 0, 0)
    sim.network.send(before)
    sim.at(5 * MS, lambda: sim.restart(2))
    sim.at(6 * MS, lambda: sim.network.send(after))
    assert sim.run(30 * MS) is None
    assert _fates(sim, before) == ["crashed"] and _fates(sim, after) == ["deliver"]


def test_a_link_blocked_at_sending_drops_at_once_and_a_partition_change_keeps_blocked_links_lost() -> None:
    sim = Simulation(ClusterConfig(nodes=3), NetworkConfig(delay=Fixed(10 * MS)), seed=1)
    sim.partition([[1], [2, 3]])
    at_once, in_flight = RequestVote(99, 1, 2, 0, 0), RequestVote(99, 2, 3, 0, 0)
    sim.network.send(at_once)
    sim.network.send(in_flight)  # 2 -> 3 is open now; the next partition blocks it
    sim.at(5 * MS, lambda: sim.partition([[1, 2], [3]]))
    assert sim.run(30 * MS) is None
    assert _fates(sim, at_once) == ["partition"] and _fates(sim, in_flight) == ["partition"]
    assert sim.network.blocked(1, 3) and sim.network.blocked(3, 2) and not sim.network.blocked(1, 2)
    assert not sim.network.blocked("c1", 3)  # clients are outside partitions


FAULTS = (
    Fault(300 * MS, "crash", node="leader"),
    Fault(300 * MS, "partition", groups=((1, 2), (3, 4, 5))),
    Fault(500 * MS, "drop", value=0.2),
    Fault(700 * MS, "heal"),
    Fault(700 * MS, "restart", node="all-crashed"),
    Fault(900 * MS, "cut", src=1, dst=2),
    Fault(1_100 * MS, "repair", src=1, dst=2),
)


def test_a_fault_schedule_queued_one_at_a_time_runs_as_faults_queued_all_at_once() -> None:
    """``schedule`` keeps one fault in the event queue at a time (Simulation.at_each); ``at`` for each fault, all
    queued at once, must give the same run, event for event."""
    lazy = Simulation(ClusterConfig(nodes=5), seed=3)
    schedule(lazy, FAULTS)
    eager = Simulation(ClusterConfig(nodes=5), seed=3)
    for fault in FAULTS:
        eager.at(fault.at, lambda f=fault: apply(eager, f))
    # Something due at the same time as faults, arranged after them, comes after them (it would come before a
    # fault that took its place in the order of events only when queued).
    seen = {}
    for sim in (lazy, eager):
        sim.at(700 * MS, lambda sim=sim: seen.setdefault(id(sim), len(sim.faults)))
    assert lazy.run(2_000 * MS) is None and eager.run(2_000 * MS) is None
    assert lazy.events == eager.events and lazy.trace.digest() == eager.trace.digest()
    assert [f[1] for f in lazy.faults] == ["crash", "partition", "drop", "heal", "restart", "cut", "repair"]
    assert seen == {id(lazy): 5, id(eager): 5}


def test_a_fault_is_the_frozen_dataclass_its_fields_declare() -> None:
    """``Fault`` writes its ``__init__`` out (one step instead of a call per field): its parameters are the declared
    fields with their defaults, in order, and it behaves as the generated one would (immutable, equal by value,
    hashable, its repr, ``replace`` and pickling)."""
    params = list(inspect.signature(Fault.__init__).parameters.values())[1:]
    assert [(p.name, p.default) for p in params] == [
        (f.name, inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(Fault)
    ]
    f = Fault(5, "cut", src=1, dst=2)
    assert f == Fault(5, "cut", None, (), 1, 2) and f != Fault(5, "cut", src=1, dst=3)
    assert hash(f) == hash(Fault(5, "cut", src=1, dst=2)) and len({f, Fault(5, "cut", src=1, dst=2)}) == 1
    assert repr(f) == (
        "Fault(at=5, do='cut', node=None, groups=(), src=1, dst=2, value=None, delay=None, bind=None, pick=None, "
        "guard=None, submit=None, kinds=())"
    )
    assert dataclasses.replace(f, dst=3) == Fault(5, "cut", src=1, dst=3)
    assert pickle.loads(pickle.dumps(f)) == f and dataclasses.asdict(f)["src"] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.at = 6  # type: ignore[misc]


# --------------------------------------------------------------------------------------------- PlainProcess


def _steps_of(make: Callable[[Simulation, list[tuple[int, str]]], None]) -> tuple[list[tuple[int, str]], int]:
    """The (time, step) log of processes ``make`` starts on a one-server simulation, and the events it took."""
    sim = Simulation(ClusterConfig(nodes=1), seed=1)
    base = Simulation(ClusterConfig(nodes=1), seed=1)
    log: list[tuple[int, str]] = []
    make(sim, log)
    assert sim.run(100 * MS) is None and base.run(100 * MS) is None
    return log, sim.events - base.events


def _sleeper(env: Any, log: list[tuple[int, str]], name: str, sleeps: list[int], simpy: bool) -> Iterator[Any]:
    log.append((env.now, f"{name} starts"))
    for d in sleeps:
        yield Timeout(env, d) if simpy else d
        log.append((env.now, f"{name} woke"))


def test_a_plain_process_makes_the_events_a_simpy_process_makes_in_the_same_order() -> None:
    """Two processes whose steps fall at the same times: their order, and the number of events, are SimPy's."""

    def with_simpy(sim: Simulation, log: list[tuple[int, str]]) -> None:
        sim.env.process(_sleeper(sim.env, log, "a", [5 * MS, 0, 5 * MS], True))
        sim.env.process(_sleeper(sim.env, log, "b", [5 * MS, 5 * MS], True))

    def with_plain(sim: Simulation, log: list[tuple[int, str]]) -> None:
        PlainProcess(sim.env, _sleeper(sim.env, log, "a", [5 * MS, 0, 5 * MS], False))
        PlainProcess(sim.env, _sleeper(sim.env, log, "b", [5 * MS, 5 * MS], False))

    simpy_log, simpy_events = _steps_of(with_simpy)
    plain_log, plain_events = _steps_of(with_plain)
    assert plain_log == simpy_log and len(plain_log) == 7
    assert plain_events == simpy_events == 2 + 5 + 2  # two starts, five sleeps, two ends


def test_a_plain_process_waits_until_resumed_and_a_negative_sleep_or_a_raise_is_a_finding() -> None:
    sim = Simulation(ClusterConfig(nodes=1), seed=1)
    got: list[Any] = []

    def waiter() -> Iterator[int | None]:
        got.append((yield None))  # waits until resumed
        yield -1  # a negative sleep: raised into the generator, as a Timeout would have raised it

    p = PlainProcess(sim.env, waiter())
    sim.at(10 * MS, lambda: p.resume("hello") if p.waiting else None)
    v = sim.run(100 * MS)
    assert got == ["hello"]
    assert v is not None and v.property == "Exception" and v.time == 10 * MS
    assert "ValueError: Negative delay -1" in v.detail and "in waiter" in v.detail
