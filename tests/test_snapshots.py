"""Snapshots in the simulated world: stable storage, crashes during a snapshot write, restarts, the trace, scenario
keys, the library scenario and memory. (The protocol itself: tests/test_core_snapshot.py; the checker:
tests/test_checker.py and tests/test_checker_crosscheck.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.fuzz.campaign import Options, case_for_seed
from sim.fuzz.draw import FAMILIES
from sim.raft import Configuration, Entry, RaftConfig, Snapshot
from sim.raft.node import Output
from sim.raft.snapshot import encode_state
from sim.scenario import ScenarioError, load, loads, run_scenario, to_toml
from sim.trace import read_jsonl, rebuild_logs, snapshot_points
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.storage import Storage

ROOT = Path(__file__).resolve().parent.parent
MS = 1_000


def compacting(every: int = 5, chunk: int = 64, **cluster: object) -> ClusterConfig:
    return ClusterConfig(nodes=3, raft=RaftConfig(snapshot_every=every, snapshot_chunk=chunk), **cluster)  # type: ignore[arg-type]


def snapshot(index: int, term: int = 1) -> Snapshot:
    return Snapshot(index, term, Configuration((1, 2, 3)), encode_state({"x": str(index)}, {}))


def output(log_from: int | None = None, entries: tuple[Entry, ...] = (), snap: Snapshot | None = None) -> Output:
    out = Output()
    out.log_from, out.log_entries, out.snapshot = log_from, entries, snap
    return out


# ------------------------------------------------------------------------------------------------- storage


def test_storage_keeps_the_snapshot_and_the_log_after_it() -> None:
    st = Storage()
    st.write(output(1, tuple(Entry(1) for _ in range(6))))
    st.write(output(snap=snapshot(4)))  # taken: entries 1..4 go
    assert st.snapshot_index == 4 and len(st.entries) == 2 and st.term_at(4) == 1 and st.term_at(3) == -1
    st.write(output(7, (Entry(2),), snapshot(6, 1)))  # a log write, then a snapshot in the same Output
    assert st.snapshot_index == 6 and [e.term for e in st.entries] == [2] and st.term_at(7) == 2
    st.write(output(11, (), snapshot(10, 2)))  # installed beyond the log's end: the log after it goes (none)
    assert st.snapshot_index == 10 and st.entries == [] and st.term_at(10) == 2
    state = st.state()
    assert state.snapshot == snapshot(10, 2) and state.entries == ()


def test_a_crash_during_a_snapshot_write_loses_it_and_keeps_the_previous_one() -> None:
    sim = Simulation(
        compacting(every=4, disk_latency=5 * MS),
        workload=WorkloadConfig(clients=2, rate=100, keys=2, stop=1_500 * MS),
        seed=3,
    )
    seen: list[tuple[int, int | None, int]] = []

    class Caught(Exception):
        pass

    def during_a_second_snapshot_write(s: Simulation) -> None:
        for i, server in s.servers.items():
            w = server._being_written
            if w is not None and w.snapshot is not None and server.storage.snapshot is not None:
                seen.append((i, server.storage.snapshot_index, w.snapshot.index))
                raise Caught

    with pytest.raises(Caught):
        sim.run(5_000_000, after_event=during_a_second_snapshot_write)
    node, before, writing = seen[0]
    server = sim.servers[node]
    entries = list(server.storage.entries)
    assert before is not None and writing > before
    sim.crash(node)
    assert server.storage.snapshot_index == before and server.storage.entries == entries  # nothing of it durable
    sim.restart(node)
    assert sim.run(sim.now) is None  # its first Output
    assert server.state.commit == before  # back as of the previous snapshot ...
    assert sim.run(3_000_000) is None
    assert server.state.commit > writing and sim.state_machines_agree()  # ... and caught up


def test_a_restart_loads_the_snapshot_and_applies_only_what_follows_it() -> None:
    sim = Simulation(compacting(every=10), workload=WorkloadConfig(clients=2, rate=100, keys=2, stop=900 * MS), seed=1)
    assert sim.run(1_000_000) is None
    server = sim.servers[2]
    point = server.storage.snapshot_index
    assert point >= 10 and sim.committed > point
    sim.restart(2)
    mark = len(sim.trace.records)
    assert sim.run(2_000_000) is None
    applied = [r[3][0] for r in sim.trace.records[mark:] if r[1] == "apply" and r[2] == 2]
    assert applied and min(applied) == point + 1  # nothing of what the snapshot covers is applied again
    boot = next(r for r in sim.trace.records[mark - 5 :] if r[1] == "boot" and r[2] == 2)
    assert boot[3]["snapshot"] == point


# --------------------------------------------------------------------------------------------------- trace


def test_the_trace_records_snapshots_and_rebuilds_the_logs_after_them(tmp_path: Path) -> None:
    s = load(ROOT / "scenarios" / "snapshot-catch-up.toml")
    path = tmp_path / "t.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        result = run_scenario(s, trace_out=f)
    assert result.passed
    records = read_jsonl(path)
    snaps = [d for d in records if d["ev"] == "snapshot"]
    assert {d["installed"] for d in snaps} == {False, True}
    assert all(set(d) == {"t", "ev", "node", "index", "term", "size", "installed"} for d in snaps)
    chunks = [d for d in records if d["ev"] == "send" and d["msg"]["type"] == "InstallSnapshot"]
    assert chunks and all({"n", "offset", "done", "configuration", "last_index"} <= set(d["msg"]) for d in chunks)
    logs = rebuild_logs(records)
    points = snapshot_points(records)
    sim = result.sim
    for i, server in sim.servers.items():
        assert points.get(i, 0) == server.storage.snapshot_index
        assert logs.get(i, []) == [[e.term, e.command and e.command.client, e.command and e.command.seq]
                                   for e in server.storage.entries]  # fmt: skip


# ------------------------------------------------------------------------------------------------ scenarios


BASE = 'duration = "1s"\n[cluster]\nnodes = 3\n'


def test_scenario_keys_round_trip() -> None:
    s = loads(BASE + "snapshot_every = 20\nsnapshot_chunk = 100\n")
    assert (s.cluster.raft.snapshot_every, s.cluster.raft.snapshot_chunk) == (20, 100)
    assert loads(to_toml(s)) == s
    off = loads(BASE)
    assert off.cluster.raft.snapshot_every == 0 and "snapshot" not in to_toml(off)  # files without it unchanged
    e = loads(BASE + "[[expect]]\nsnapshots_installed_at_least = 2\n")
    assert e.expectations[0].kind == "snapshots_installed_at_least" and loads(to_toml(e)) == e


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("snapshot_every = -1\n", "cluster.snapshot_every: expected an integer from 0 to"),
        ('snapshot_every = "10"\n', "cluster.snapshot_every: expected an integer"),
        ("snapshot_every = 1.5\n", "cluster.snapshot_every: expected an integer"),
        ("snapshot_every = 5\nsnapshot_chunk = 0\n", "cluster.snapshot_chunk: expected an integer from 1 to"),
        ("snapshot_chunk = 64\n", "cluster.snapshot_chunk: expected no chunk size while snapshot_every is 0"),
        ("snapshot_evry = 5\n", "unknown key (did you mean 'snapshot_every'?)"),
    ],
)
def test_bad_snapshot_keys_are_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loads(BASE + text, "x.toml")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("x.toml:")


def test_bad_expectation_value() -> None:
    with pytest.raises(ScenarioError, match=r"expect\[1\].snapshots_installed_at_least: expected an integer >= 0"):
        loads(BASE + "[[expect]]\nsnapshots_installed_at_least = -1\n")


def test_the_library_scenario_catches_a_follower_up_by_snapshot_under_20_seeds() -> None:
    s = load(ROOT / "scenarios" / "snapshot-catch-up.toml")
    for seed in range(20):
        result = run_scenario(s, seed=seed, trace=False)
        assert result.passed, (seed, result.summary())
        assert result.sim.snapshots_installed >= 1


def test_the_summary_names_the_snapshots() -> None:
    result = run_scenario(load(ROOT / "scenarios" / "snapshot-catch-up.toml"), trace=False)
    text = result.summary()
    assert "  snapshots:   " in text and "taken" in text and "installed from a leader" in text
    assert "10 properties checked" in text
    plain = run_scenario(load(ROOT / "scenarios" / "first-election.toml"), trace=False).summary()
    assert "snapshots:" not in plain and "9 properties checked" in plain


# -------------------------------------------------------------------------------------------------- fuzzing


def test_the_compaction_family_is_drawn_last_and_keeps_other_seeds_cases() -> None:
    assert "compaction" in FAMILIES
    on = [s for s in range(60) if case_for_seed(s, Options()).cluster.raft.snapshot_every]
    assert 10 < len(on) < 40
    case = case_for_seed(on[0], Options())
    assert case.cluster.raft.snapshot_chunk in (16, 64, 256, 1024, 65536)
    # Restricting the families to those without compaction gives the same case with compaction off.
    others = tuple(f for f in FAMILIES if f != "compaction")
    plain = case_for_seed(on[0], Options(families=others))
    restricted = case_for_seed(on[0], Options(families=(*others, "compaction")))
    assert plain.cluster.raft.snapshot_every == 0 and restricted.cluster.raft.snapshot_every
    assert plain.faults == restricted.faults and plain.workload == restricted.workload


def test_checker_memory_stays_flat_while_servers_compact() -> None:
    sim = Simulation(
        ClusterConfig(nodes=3, raft=RaftConfig(snapshot_every=50)),
        NetworkConfig(),
        WorkloadConfig(clients=8, rate=800, keys=20),
        seed=2,
        trace=False,
    )
    sim.checker.REBASE_MIN = 100
    sizes = []
    for k in range(1, 9):
        assert sim.run(k * 2_000_000) is None
        sizes.append(len(sim.checker._committed))
    assert sim.committed > 2_500 and sim.checker._base > 2_000
    assert max(sizes) < 300  # what every server compacted is forgotten
    assert max(len(s.storage.entries) for s in sim.servers.values()) < 200
