"""The exported Hypothesis strategies, used as the README shows."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.fuzz import FAMILIES, Case, run_case
from sim.fuzz.strategies import cases, cluster_configs, fault_schedules
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig
from sim.world.faults import ACTIONS, Fault, schedule


@settings(max_examples=6, deadline=None, database=None)
@given(cases(nodes=3, max_duration_ms=800))
def test_no_violation(case: Case) -> None:
    outcome, _ = run_case(case)
    assert outcome.property is None, outcome.detail


@settings(max_examples=6, deadline=None, database=None)
@given(cluster_configs(nodes=5), fault_schedules(nodes=5, duration_ms=1_000, families=["crash", "partition"]))
def test_a_leader_after_healing(cluster: ClusterConfig, faults: tuple[Fault, ...]) -> None:
    sim = Simulation(cluster, seed=1)
    schedule(sim, faults)
    sim.run(1_000_000)
    sim.heal()
    for n in sim.servers:
        if not sim.servers[n].alive:
            sim.restart(n)
    sim.run(sim.now + 3_000_000)
    assert sim.violation is None
    assert sim.leader() is not None


@settings(max_examples=25, deadline=None, database=None)
@given(st.data())
def test_schedules_stay_within_their_families_and_duration(data: st.DataObject) -> None:
    fams = data.draw(st.lists(st.sampled_from(["crash", "partition", "cut", "drop", "delay"]), unique=True))
    faults = data.draw(fault_schedules(nodes=3, duration_ms=1_000, families=fams))
    allowed = {
        "crash": {"crash", "restart", "isolate"},
        "partition": {"partition", "isolate", "heal"},
    }
    actions = {f.do for f in faults}
    assert actions <= set(ACTIONS)
    permitted = set().union(*(allowed.get(f, {f, "repair"}) for f in fams)) if fams else set()
    assert actions <= permitted
    assert all(0 <= f.at < 1_000_000 for f in faults)
    assert [f.at for f in faults] == sorted(f.at for f in faults)
    assert set(FAMILIES) >= set(fams)


def test_a_failing_case_shrinks_to_few_events() -> None:
    # Hypothesis shrinks whole cases too: the simplest case that breaks a buggy cluster has few fault events.
    found: list[Case] = []

    @settings(max_examples=30, deadline=None, database=None, derandomize=True)
    @given(cases(nodes=3, bug="volatile-term", families=["crash"], max_duration_ms=1_000))
    def prop(case: Case) -> None:
        outcome, _ = run_case(case)
        if outcome.property is not None:
            found.append(case)
        assert outcome.property is None

    with contextlib.suppress(AssertionError):
        prop()
    assert found, "Hypothesis found no failing case"
    assert min(len(c.faults) for c in found) <= 4  # the smallest failing case Hypothesis reached
