"""Leadership transfer and reads without a log entry in the simulated world: the scenario keys and event, the
simulation's transfer_leader, what the clients' history records, and the fuzzer's families for them."""

from __future__ import annotations

from dataclasses import replace

import pytest

import sim.fuzz.draw as draw
from sim.fuzz import Options, case_for_seed
from sim.fuzz.case import run_case
from sim.raft import RaftConfig
from sim.raft.messages import TimeoutNow
from sim.rng import stream
from sim.scenario import Expectation, ScenarioError, loads, run_scenario, to_toml
from sim.scenario.library import library_dir
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, WorkloadConfig
from sim.world.faults import Fault, schedule

MS = 1_000

SCENARIO = """
duration = "3s"
[cluster]
nodes = 5
read = "lease"
lease_drift = 0.25
[[events]]
at = "1s"
do = "transfer_leader"
node = "follower"
[[events]]
at = "2s"
do = "transfer_leader"
node = 4
[[expect]]
leader_at_end = 4
"""


# ------------------------------------------------------------------------------------------- scenario files


def test_the_keys_parse_and_round_trip() -> None:
    s = loads(SCENARIO)
    assert (s.cluster.raft.read, s.cluster.raft.lease_drift) == ("lease", 0.25)
    transfers = (Fault(1_000_000, "transfer_leader", node="follower"), Fault(2_000_000, "transfer_leader", node=4))
    assert s.faults == transfers
    assert s.expectations == (Expectation("leader_at_end", 4),)
    text = to_toml(s)
    assert 'read = "lease"' in text and "lease_drift = 0.25" in text
    assert loads(text) == s
    readindex = loads('duration = "1s"\n[cluster]\nread = "readindex"\n')
    assert readindex.cluster.raft.read == "readindex" and "lease_drift" not in to_toml(readindex)
    assert "read =" not in to_toml(loads('duration = "1s"'))  # the default is not written: old files stay as they were


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("[cluster]\nread = 3", 'cluster.read: expected one of "log", "readindex", "lease", got 3'),
        ("[cluster]\nlease_drift = 0.5", "cluster.lease_drift: expected no lease_drift unless read"),
        ('[cluster]\nread = "lease"\nlease_drift = "10%"', "cluster.lease_drift: expected a number from 0 to 100"),
        ('[[events]]\nat = "1s"\ndo = "transfer_leader"\nnode = [1, 2]', "events[1].node: expected one server"),
        ('[[events]]\nat = "1s"\ndo = "transfer_leader"\nnode = 9', "expected a node id from 1 to 5"),
        ('[[events]]\nat = "1s"\ndo = "transfer_leader"\nnode = 2\nrate = 1', "events[1].rate: unknown key"),
        ("[[expect]]\nleader_at_end = true", "expect[1].leader_at_end: expected a node id"),
    ],
)
def test_bad_values_are_one_line(snippet: str, message: str) -> None:
    with pytest.raises(ScenarioError) as e:
        loads('duration = "2s"\n' + snippet, "x.toml")
    assert message in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------------ transfer


def loaded(read: str = "log", nodes: int = 5, seed: int = 1, **raft: object) -> Simulation:
    cluster = ClusterConfig(nodes=nodes, raft=RaftConfig(read=read, **raft))  # type: ignore[arg-type]
    workload = WorkloadConfig(clients=3, rate=60, keys=2, timeout=300 * MS)
    return Simulation(cluster, workload=workload, seed=seed)


def test_a_transfer_hands_leadership_to_the_target() -> None:
    sim = loaded()
    sim.run(1_000_000)
    leader = sim.leader()
    target = next(n for n in sim.servers if n != leader)
    sim.transfer_leader(target)
    sim.run(1_300_000)
    assert sim.established_leader() == (target, 2)
    assert len(sim.elections) == 2 and sim.violation is None
    records = list(sim.trace)
    (fault,) = [r for r in records if r[1] == "fault" and r[3]["action"] == "transfer_leader"]
    assert fault[3] == {"action": "transfer_leader", "nodes": [target], "leader": leader}
    assert any(r[1] == "send" and type(r[3]) is TimeoutNow and r[3].dst == target for r in records)
    assert sim.judge_history() is None


def test_a_transfer_to_a_crashed_server_is_given_up() -> None:
    sim = loaded()
    sim.run(1_000_000)
    leader = sim.leader()
    target = next(n for n in sim.servers if n != leader)
    sim.crash(target)
    sim.transfer_leader(target)
    acked = sim.acked()
    sim.run(1_100_000)
    refused = sim.acked() - acked
    sim.run(2_000_000)
    assert sim.leader() == leader and len(sim.elections) == 1  # still leading, in its term
    assert sim.acked() - acked > refused + 20  # accepting clients again after an election timeout
    assert sim.judge_history() is None


def test_transfers_without_a_leader_or_to_the_leader_do_nothing() -> None:
    sim = loaded()
    sim.transfer_leader(2)  # at time 0: nobody leads yet
    sim.run(1_000_000)
    sim.transfer_leader(sim.leader())
    sim.transfer_leader(None)  # a role word that named nobody ("follower" with every follower down)
    sim.run(1_500_000)
    assert len(sim.elections) == 1
    assert [f[2]["leader"] for f in sim.faults] == [None, sim.leader(), sim.leader()]


def test_the_library_transfer_scenario_ends_with_its_target_leading() -> None:
    result = run_scenario(loads((library_dir() / "leader-transfer.toml").read_text()), seed=11)
    assert result.passed, result.summary()


# --------------------------------------------------------------------------------------------------- reads


@pytest.mark.parametrize("read", ["readindex", "lease"])
def test_reads_without_the_log_are_answered_with_index_0_and_checked(read: str) -> None:
    sim = loaded(read)
    schedule(sim, [Fault(1_000_000, "isolate", node="leader"), Fault(1_600_000, "heal")])
    sim.run(3_000_000)
    assert sim.violation is None and sim.judge_history() is None
    gets = [r for r in sim.history if r.f == "get" and r.status == "ok"]
    acks = [r[3] for r in sim.trace if r[1] == "ack"]
    assert len(gets) > 30 and sum(1 for a in acks if a["index"] == 0) == len(gets)
    # The log holds the writes and the leaders' no-ops only.
    writes = sum(1 for r in sim.history if r.f != "get" and r.status is not None)
    assert sim.committed <= writes + len(sim.elections) + 5


def test_reads_through_the_log_are_as_before() -> None:
    sim = loaded("log")
    sim.run(2_000_000)
    acks = [r[3] for r in sim.trace if r[1] == "ack"]
    assert acks and all(a["index"] > 0 for a in acks)


def test_readindex_saves_log_entries_and_leases_save_messages_too() -> None:
    """Under the same load: a ReadIndex read costs a heartbeat round instead of a log entry (about as many messages
    as replicating one), and a lease read costs nothing while the lease holds."""
    sent, committed = {}, {}
    for read in ("log", "readindex", "lease"):
        sim = loaded(read)
        sim.run(2_000_000)
        sent[read] = sum(1 for r in sim.trace if r[1] == "send")
        committed[read] = sim.committed
    assert committed["readindex"] < committed["log"] * 0.9 and committed["lease"] < committed["log"] * 0.9
    assert sent["lease"] < 0.9 * min(sent["log"], sent["readindex"])


def test_lease_reads_hold_under_drift_within_the_bound_and_break_beyond_it() -> None:
    lib = library_dir()
    within = loads((lib / "lease-reads.toml").read_text(), "lease-reads.toml")
    beyond = loads((lib / "stale-lease-read.toml").read_text(), "stale-lease-read.toml")
    assert all(run_scenario(within, seed=k, trace=False).passed for k in range(4))
    caught = [run_scenario(beyond, seed=k, trace=False).violation for k in range(5)]
    assert [v.property for v in caught if v is not None] == ["Linearizability"] * 4  # seeds 0, 1, 3 and 4


# -------------------------------------------------------------------------------------------------- fuzzing


def test_the_late_families_only_add_to_a_case() -> None:
    """A seed whose transfer, readindex and lease families are all off draws the case it drew before they existed
    (they are drawn after everything else); one with any of them on keeps every earlier draw and adds to it."""
    original = draw.draw_late
    try:
        draw.draw_late = lambda d, allowed, cluster, workload, faults, ids, duration: (  # type: ignore[assignment]
            cluster,
            workload,
            faults,
            duration,
        )
        before = [draw.draw_case(draw.RandomDraw(stream(s, "fuzz")), s) for s in range(60)]
    finally:
        draw.draw_late = original
    changed = 0
    for seed, old in enumerate(before):
        new = case_for_seed(seed)
        late = new.cluster.raft.read != "log" or any(f.do == "transfer_leader" for f in new.faults)
        if not late:
            assert new == old, seed
        else:
            changed += 1
            assert new.cluster.nodes == old.cluster.nodes
    assert 10 < changed < 50


def test_lease_cases_bound_the_drift_they_draw() -> None:
    seen = 0
    for seed in range(150):
        case = case_for_seed(seed, Options(nodes=3, families=("lease", "drift")))
        raft = case.cluster.raft
        if raft.read != "lease":
            continue
        seen += 1
        rates = [1.0, *(float(f.value) for f in case.faults if f.do == "drift" and f.value is not None)]
        assert max(rates) / min(rates) <= 1 + raft.lease_drift + 1e-9, seed
    assert seen > 20


def test_transfer_and_readindex_families_draw_their_events() -> None:
    cases = [case_for_seed(s, Options(families=("transfer", "readindex", "crash"))) for s in range(40)]
    assert any(any(f.do == "transfer_leader" for f in c.faults) for c in cases)
    assert any(c.cluster.raft.read == "readindex" for c in cases)
    assert all(c.cluster.raft.read != "lease" for c in cases)


def test_a_fuzz_case_with_transfers_and_lease_reads_passes() -> None:
    for seed in range(60):
        case = case_for_seed(seed, Options(families=("transfer", "lease", "readindex", "partition")))
        if case.cluster.raft.read != "log" and any(f.do == "transfer_leader" for f in case.faults):
            break
    else:
        pytest.fail("no case with both")
    outcome, sim = run_case(replace(case, liveness=case.liveness))
    assert outcome.property is None, outcome.detail
    assert any(f[1] == "transfer_leader" for f in sim.faults)
