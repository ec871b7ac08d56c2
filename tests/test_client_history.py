"""What clients see: the workload's operations and their history, and the run-level properties judged on it
(Linearizability, Convergence) or on the run (Exception, Livelock). Each property has a run that violates it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sim.check.history import parse_edn
from sim.check.linearizability import check
from sim.check.models import KV
from sim.fuzz.case import liveness_problem
from sim.nodes import bugs
from sim.raft.node import Node
from sim.scenario import load, loads, run_scenario, to_toml
from sim.scenario.library import library_dir
from sim.world.clients import operations
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, WorkloadConfig

S = 1_000_000


def _run(workload: WorkloadConfig, seconds: float = 3, seed: int = 1, **cluster: object) -> Simulation:
    sim = Simulation(ClusterConfig(**cluster), workload=workload, seed=seed)  # type: ignore[arg-type]
    assert sim.run(int(seconds * S)) is None
    return sim


def test_every_operation_is_recorded_with_its_invocation_and_completion() -> None:
    sim = _run(WorkloadConfig(clients=3, rate=80, ops=("get", "put", "append", "cas")))
    history = sim.history
    assert len(history) == sum(c.seq for c in sim.clients.values()) > 100
    assert {r.f for r in history} == {"get", "put", "append", "cas"}
    for r in history:
        assert r.status in ("ok", "fail", None)
        assert r.status is None or r.invoke <= r.complete  # type: ignore[operator]
    # A cas that found another value failed (definitely no effect); one that found its expected value succeeded.
    assert {r.status for r in history if r.f == "cas"} >= {"ok", "fail"}
    ops = operations(history)
    assert check(ops, KV).verdict == "ok"


def test_the_history_round_trips_through_jepsen_edn(tmp_path: Path) -> None:
    sim = _run(WorkloadConfig(clients=2, rate=40))
    from sim.check.history import write_edn

    ops = operations(sim.history)
    write_edn(ops, tmp_path / "h.edn")
    assert parse_edn((tmp_path / "h.edn").read_text(), "h.edn") == ops


def test_closed_loop_clients_wait_for_each_completion() -> None:
    sim = _run(WorkloadConfig(clients=3, mode="closed", think=2_000), seconds=2)
    by_client: dict[str, list[tuple[int, int]]] = {}
    for r in sim.history:
        if r.complete is not None:
            by_client.setdefault(r.client, []).append((r.invoke, r.complete))
    for intervals in by_client.values():
        assert len(intervals) > 20
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(intervals))  # one at a time


def test_a_client_that_gives_up_records_an_unknown_outcome() -> None:
    # Three of five servers down: nothing commits, so every operation is given up and its outcome is unknown.
    sim = Simulation(workload=WorkloadConfig(clients=2, rate=20, give_up=400_000, timeout=100_000), seed=2)
    sim.run(S)
    for n in (1, 2, 3):
        sim.crash(n)
    start = len(sim.history)
    sim.run(4 * S)
    later = sim.history[start:]
    assert later and any(r.status == "info" for r in later)
    assert all(r.status != "ok" for r in later if r.invoke > 1_500_000)
    assert sim.judge_history() is None  # unknown outcomes can be ordered any way: still linearizable


def test_a_stale_read_is_a_linearizability_violation() -> None:
    result = run_scenario(load(library_dir() / "bug-follower-read.toml"))
    assert result.violation is not None and result.violation.property == "Linearizability"
    assert "cannot be linearized" in result.violation.detail and result.passed  # the scenario expects it


def test_a_history_made_non_linearizable_by_hand_is_caught() -> None:
    sim = _run(WorkloadConfig(clients=3, rate=60, ops=("get", "put")))
    reads = [r for r in sim.history if r.f == "get" and r.status == "ok"]
    reads[-1].result = "a value nobody wrote"
    v = sim.judge_history()
    assert v is not None and v.property == "Linearizability" and v.nodes == (reads[-1].key,)


def test_state_machines_that_differ_are_a_convergence_failure() -> None:
    sim = _run(WorkloadConfig(clients=2, rate=40, stop=2 * S))
    assert sim.state_machines_agree() and liveness_problem(sim) is None
    follower = next(s for s in sim.servers.values() if s.alive and s.id != sim.leader())
    # A follower that reports it has applied less than the others (as one that stopped applying would).
    follower.state = follower.state._replace(last_applied=follower.state.last_applied - 1)
    assert not sim.state_machines_agree()
    problem = liveness_problem(sim)
    assert problem is not None and problem[0] == "Convergence"


class _Raises(Node):
    """Indexes past its log on the third AppendEntries it handles (each incarnation counts afresh)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seen = 0

    def _on_append_entries(self, m: object) -> None:
        self.seen += 1
        if self.seen == 3:
            self.log.entries()[10_000]
        super()._on_append_entries(m)  # type: ignore[arg-type]


def test_an_exception_in_a_node_is_a_finding_naming_the_server_and_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(bugs.BUGS, "raises", _Raises)
    sim = Simulation(ClusterConfig(nodes=3, bug="raises"), seed=1)
    v = sim.run(2 * S)
    assert v is not None and v.property == "Exception"
    assert "IndexError" in v.detail and "test_client_history.py" in v.detail and "_on_append_entries" in v.detail
    assert len(v.nodes) == 1 and v.nodes[0] in sim.servers


def test_an_exception_found_by_the_fuzzer_shrinks_to_a_scenario_that_raises_it_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sim.fuzz import Options, case_for_seed, run_case, shrink, write_failure
    from sim.fuzz.export import scenario_property

    monkeypatch.setitem(bugs.BUGS, "raises", _Raises)
    options = Options(nodes=3, bug="raises")
    case = case_for_seed(1, options)
    out, _ = run_case(case)
    assert out.property == "Exception" and "IndexError" in out.detail  # a finding, not a crash of the campaign
    res = shrink(case, "Exception", max_runs=40, hypothesis_examples=0)
    assert res.outcome.property == "Exception" and len(res.case.faults) <= len(case.faults)
    path = write_failure(res.case, res.outcome, options, tmp_path)
    assert scenario_property(path) == "Exception"


def test_a_message_storm_is_livelock_in_a_scenario_file_too() -> None:
    text = 'duration = "60s"\n[cluster]\nmax_events_per_ms = 1\n[workload]\nclients = 8\nrate = 800\n'
    scenario = loads(text)
    assert loads(to_toml(scenario)).cluster.max_events_per_ms == 1
    result = run_scenario(scenario)
    assert result.violation is not None and result.violation.property == "Livelock"
    ok = run_scenario(loads(text.replace("max_events_per_ms = 1", "max_events_per_ms = 500")))
    assert ok.violation is None


@pytest.mark.parametrize(
    ("ops", "weights", "keys"),
    [(("put", "append", "get", "cas"), None, 8), (("get", "put", "cas"), (4.0, 1.0, 1.0), 1), (("get",), None, 3)],
)
def test_client_draws_are_the_random_module_s(
    ops: tuple[str, ...], weights: tuple[float, ...] | None, keys: int
) -> None:
    """A client draws its commands without ``random``'s Python functions (``_next_command``): the same draws, from
    the same stream, as ``choices``, ``choice`` and ``randrange`` make; and ``_other``'s draw after them."""
    import random

    sim = Simulation(
        ClusterConfig(nodes=5), workload=WorkloadConfig(clients=1, rate=10, ops=ops, weights=weights, keys=keys)
    )
    client = sim.clients["c1"]
    client.rng = random.Random(7)
    reference = random.Random(7)
    cum = list(itertools.accumulate(weights)) if weights else None
    servers = [1, 2, 3, 4, 5]
    for _ in range(500):
        command = client._next_command()
        op = reference.choices(ops, cum_weights=cum)[0] if cum else reference.choice(ops)
        assert (command.op, command.key) == (op, f"k{reference.randrange(keys)}")
        current = reference.choice(servers)
        assert client.rng.choice(servers) == current
        assert client._other(servers, current) == reference.choice([s for s in servers if s != current])
    assert client._other([3], 3) == 3 and reference.choice([3]) == 3
    assert client.rng.random() == reference.random()
