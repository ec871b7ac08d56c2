"""Hypothesis strategies for your own property tests of the simulator: fault schedules, cluster configurations,
whole fuzz cases.

They drive the fuzzer's own generator (``sim.fuzz.draw.draw_case``) from Hypothesis instead of a seeded Random, so a
failing example shrinks: towards fewer fault events, a shorter run, fewer fault families, lighter load.

Usage, in a test file of your own::

    from hypothesis import given, settings
    from sim.world.cluster import Simulation
    from sim.world.faults import schedule
    from sim.fuzz.case import run_case
    from sim.fuzz.strategies import cases, cluster_configs, fault_schedules

    # 1. Whole fuzz cases (configuration, workload, faults, liveness phase): the checker must find nothing.
    @settings(max_examples=20, deadline=None)
    @given(cases(nodes=3, max_duration_ms=1_000))
    def test_no_violation(case):
        outcome, sim = run_case(case)
        assert outcome.property is None, outcome.detail

    # 2. Your own property over a schedule of your choice of fault families.
    @settings(max_examples=20, deadline=None)
    @given(cluster_configs(nodes=5), fault_schedules(nodes=5, duration_ms=2_000, families=["crash", "partition"]))
    def test_a_leader_after_healing(cluster, faults):
        sim = Simulation(cluster, seed=1)
        schedule(sim, faults)
        sim.run(2_000_000)          # the faults (times are microseconds)
        sim.heal()
        for n in sim.servers:
            if not sim.servers[n].alive:
                sim.restart(n)
        # A leader comes with probability 1, not in a fixed time (narrow timeouts and slow disks split votes for
        # seconds): wait for one followed by a majority, up to a generous bound.
        healed = sim.now
        while sim.violation is None and sim.established_leader() is None and sim.now < healed + 20_000_000:
            sim.run(sim.now + 10_000)
        assert sim.violation is None
        assert sim.established_leader() is not None

Fault families (``sim.fuzz.draw.FAMILIES``): crash, partition, cut, drop, duplicate, delay, drift, disk, prevote,
check_quorum, small_batch, narrow_timeouts, long_delay, compaction. Use ``deadline=None``: a simulation takes
milliseconds to seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from sim.fuzz.case import Case
from sim.fuzz.draw import FAMILIES, draw_case
from sim.world.config import ClusterConfig
from sim.world.faults import Fault

__all__ = ["FAMILIES", "HypothesisDraw", "cases", "cluster_configs", "fault_schedules"]


class HypothesisDraw:
    """The ``sim.fuzz.Draw`` interface answered by Hypothesis: every choice shrinks towards its simplest value
    (low integers, the first option, False)."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def chance(self, p: float) -> bool:
        # Shrinks towards False (a family off, an event left out); drawn True with about probability p.
        if p <= 0:
            return False
        if p >= 1:
            return True
        return int(self.draw(st.integers(0, 99))) >= 100 - round(p * 100)

    def pick(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))


def _families(families: Iterable[str] | None) -> tuple[str, ...] | None:
    if families is None:
        return None
    fams = tuple(families)
    unknown = [f for f in fams if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown fault families {unknown}; known: {', '.join(FAMILIES)}")
    return fams


@st.composite
def cases(
    draw: Any,
    nodes: int = 5,
    bug: str | None = None,
    families: Iterable[str] | None = None,
    max_duration_ms: int = 3_000,
    seed: int | None = None,
) -> Case:
    """Whole fuzz cases, as ``raftsim fuzz`` runs them (``sim.fuzz.run_case`` runs one). ``seed`` fixes the
    simulation's own random streams (network delays, election timeouts); by default it is drawn too."""
    s = draw(st.integers(0, 2**32 - 1)) if seed is None else seed
    return draw_case(HypothesisDraw(draw), s, nodes, bug, _families(families), max_duration_ms)


@st.composite
def fault_schedules(
    draw: Any,
    nodes: int = 5,
    duration_ms: int = 3_000,
    families: Iterable[str] | None = None,
) -> tuple[Fault, ...]:
    """Explicit fault lists (``sim.world.faults.Fault``, times in microseconds, sorted) within ``duration_ms``, from the
    given fault families (all by default). Pass them to ``sim.world.faults.schedule(sim, faults)``."""
    case = draw_case(HypothesisDraw(draw), 0, nodes, None, _families(families), max(duration_ms, 200))
    return tuple(f for f in case.faults if f.at < duration_ms * 1_000)


@st.composite
def cluster_configs(draw: Any, nodes: int | Sequence[int] = 5, bug: str | None = None) -> ClusterConfig:
    """Cluster configurations: election timeouts (wide or narrow), AppendEntries batch size, PreVote,
    CheckQuorum, disk latency. ``nodes`` is a count or a list of counts to choose from."""
    n = nodes if isinstance(nodes, int) else draw(st.sampled_from(list(nodes)))
    case = draw_case(
        HypothesisDraw(draw), 0, n, bug, ("disk", "prevote", "check_quorum", "small_batch", "narrow_timeouts")
    )
    return case.cluster
