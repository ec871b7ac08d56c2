"""The trace as users read it (``scenarios/TRACE.md``): header and end records, AppendEntries entries and
``append`` records from which every server's log rebuilds exactly, streaming to a file in bounded memory with the
digest unchanged, exact latency percentiles in bounded memory, ``raftsim run``'s progress line and ``raftsim bench
--memory``."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.raft.messages import AppendEntries, Command, Entry
from sim.scenario import load, run_scenario
from sim.scenario.cli import _Progress
from sim.scenario.library import library_dir
from sim.scenario.monitors import percentile
from sim.trace import CHUNK, message_to_dict, read_jsonl, rebuild_logs, record_to_dict
from sim.world.clients import Latencies, LatencySummary
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.network import LogNormal, describe_delay

MS = 1_000
S = 1_000_000
SCENARIOS = library_dir()
HEADER_KEYS = {"t", "ev", "node", "format", "raftsim", "scenario", "source", "seed", "config"}
END_KEYS = {"t", "ev", "node", "events", "verdict"}


def _streamed(path: Path, name: str) -> tuple[Any, list[dict[str, Any]]]:
    """Run a library scenario with its trace streamed to ``path``; the result and the file's records."""
    with open(path, "w", encoding="utf-8") as out:
        result = run_scenario(load(SCENARIOS / name), trace=False, trace_out=out)
    return result, read_jsonl(path)


# ----------------------------------------------------------------------------------------- header and end


def test_a_streamed_trace_starts_with_the_header_and_ends_with_the_end_record(tmp_path: Path) -> None:
    result, records = _streamed(tmp_path / "t.jsonl", "leader-crash.toml")
    s = result.scenario
    header, end = records[0], records[-1]
    assert set(header) == HEADER_KEYS and set(end) == END_KEYS
    assert header["t"] == 0 and header["ev"] == "header" and header["node"] is None and header["format"] == 1
    assert header["raftsim"] == sim.__version__
    assert (header["scenario"], header["source"], header["seed"]) == (s.name, s.source, s.seed)
    config = header["config"]
    assert set(config) == {"cluster", "network", "workload", "duration_us"}
    assert config["duration_us"] == s.duration
    assert config["cluster"]["nodes"] == s.cluster.nodes and config["cluster"]["bug"] is None
    assert config["cluster"]["raft"] == dataclasses.asdict(s.cluster.raft)
    assert config["network"] == {
        "delay": describe_delay(s.network.delay),
        "drop": s.network.drop,
        "duplicate": s.network.duplicate,
        "fifo": s.network.fifo,
    }
    assert config["workload"] == json.loads(json.dumps(dataclasses.asdict(s.workload)))  # tuples as lists
    assert end == {"t": s.duration, "ev": "end", "node": None, "events": result.sim.events, "verdict": "ok"}
    assert not any(r["ev"] in ("header", "end") for r in records[1:-1])
    assert len(records) == len(result.sim.trace) + 2


def test_the_end_record_names_the_violated_property(tmp_path: Path) -> None:
    result, records = _streamed(tmp_path / "t.jsonl", "bug-vote-without-log-check.toml")
    v = result.violation
    assert v is not None
    assert records[0]["config"]["cluster"]["bug"] == "vote-without-log-check"
    assert records[-2]["ev"] == "violation" and records[-2]["property"] == v.property
    assert records[-1] == {"t": v.time, "ev": "end", "node": None, "events": v.event, "verdict": v.property}
    # The violation report's tail comes from the records already written out.
    in_memory = run_scenario(load(SCENARIOS / "bug-vote-without-log-check.toml"))
    assert in_memory.violation is not None and v.trace_tail == in_memory.violation.trace_tail


def test_replay_streams_its_trace_with_the_outcome_as_verdict(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "r.jsonl"
    assert main(["replay", "2", "--nodes", "5", "--bug", "vote-without-log-check", "--trace", str(path)]) == 1
    capsys.readouterr()
    records = read_jsonl(path)
    assert records[0]["source"] == "fuzz seed 2" and records[0]["seed"] == 2
    assert records[0]["scenario"] == "fuzz seed 2 (bug vote-without-log-check)"
    assert records[-1]["ev"] == "end" and records[-1]["verdict"] == "LeaderCompleteness"


# --------------------------------------------------------------------------------------------- the digest


def test_streaming_and_progress_change_neither_the_run_nor_the_digest(tmp_path: Path) -> None:
    s = load(SCENARIOS / "churn.toml")
    in_memory = run_scenario(s)
    with open(tmp_path / "t.jsonl", "w", encoding="utf-8") as out:
        streamed = run_scenario(s, trace=False, trace_out=out, progress=lambda _sim: None)
    assert streamed.sim.trace.digest() == in_memory.sim.trace.digest()
    assert (streamed.sim.events, streamed.sim.committed) == (in_memory.sim.events, in_memory.sim.committed)
    assert [line for line in in_memory.sim.trace.lines()] == (tmp_path / "t.jsonl").read_text().splitlines()[1:-1]


def test_a_trace_that_keeps_nothing_changes_nothing_but_the_records() -> None:
    """A fuzz campaign's runs keep no trace at all (``tail=0``: no record is even built); the run itself, with its
    checker and its client history, is the one a full trace records."""
    s = load(SCENARIOS / "churn.toml")
    kept = Simulation(s.cluster, s.network, s.workload, seed=3)
    bare = Simulation(s.cluster, s.network, s.workload, seed=3, trace=False, tail=0)
    for run in (kept, bare):
        run.run(2_000_000)
    assert bare.trace.recorder is None and len(bare.trace) == 0 and len(kept.trace) > 1_000
    assert (bare.events, bare.committed, bare.elections) == (kept.events, kept.committed, kept.elections)
    assert [repr(op) for op in bare.history] == [repr(op) for op in kept.history]


def test_the_digest_covers_the_event_records_in_their_format_0_form(tmp_path: Path) -> None:
    """What format 1 added (header, end, AppendEntries' entries, append records) is left out of the digest, so a
    run keeps the digest it had before: the digest is the SHA-256 of the file with those taken out."""
    result, records = _streamed(tmp_path / "t.jsonl", "leader-crash.toml")
    h = hashlib.sha256()
    for d in records:
        if d["ev"] in ("header", "end", "append"):
            continue
        if d.get("msg", {}).get("type") == "AppendEntries":
            del d["msg"]["entries"]
        h.update(json.dumps(d, separators=(",", ":"), sort_keys=True).encode() + b"\n")
    assert h.hexdigest() == result.sim.trace.digest()
    assert sum(1 for d in records if d["ev"] == "append") > 500


# ------------------------------------------------------------------------------------- messages and logs


def test_append_entries_list_their_entries() -> None:
    entries = (Entry(3), Entry(3, Command("c1", 7, "put", "k1", "v")))
    m = AppendEntries(3, 1, 2, 4, 2, entries, 4)
    d = message_to_dict(m)
    assert d["entries"] == [[3, None, None], [3, "c1", 7]]
    assert (d["n"], d["first_term"]) == (2, 3)
    assert "entries" not in message_to_dict(m, entries=False)
    assert message_to_dict(AppendEntries(3, 1, 2, 4, 2, (), 4))["entries"] == []
    rec = record_to_dict((5, "append", 2, (5, entries)))
    assert rec == {"t": 5, "ev": "append", "node": 2, "index": 5, "entries": [[3, None, None], [3, "c1", 7]]}


def _faulty_run(path: Path) -> Simulation:
    """Crashes (losing writes in progress: disk latency), partitions, loss, duplication and client load."""
    s = Simulation(
        ClusterConfig(nodes=5, disk_latency=8 * MS),
        NetworkConfig(delay=LogNormal(median=5 * MS, sigma=0.6, minimum=1 * MS), drop=0.03, duplicate=0.03),
        WorkloadConfig(clients=20, rate=800, keys=16),
        seed=3,
    )
    for k in range(5):
        base = 400 * MS + k * 900 * MS
        s.at(base, lambda: s.crash(s.leader() or 1))
        s.at(base + 150 * MS, lambda: s.partition([[2, 3]]))
        s.at(base + 300 * MS, lambda: s.crash(4))
        s.at(base + 500 * MS, s.heal)
        s.at(base + 600 * MS, lambda: [s.restart(i) for i in s.servers if not s.servers[i].alive])
    with open(path, "w", encoding="utf-8") as out:
        s.stream_trace(out, "faulty", "tests/test_trace.py", 5 * S)
        s.run(5 * S)
        s.end_trace()
    assert s.violation is None
    return s


def _as_lists(entries: Any) -> list[list[Any]]:
    return [[e.term, e.command and e.command.client, e.command and e.command.seq] for e in entries]


def test_every_log_rebuilds_exactly_from_the_trace_of_a_faulty_run(tmp_path: Path) -> None:
    s = _faulty_run(tmp_path / "t.jsonl")
    records = read_jsonl(tmp_path / "t.jsonl")
    assert sum(1 for r in records if r["ev"] == "crash" and r["lost_writes"]) > 0  # some writes were lost
    logs = rebuild_logs(records)
    assert sorted(logs) == sorted(s.servers)
    for i, server in s.servers.items():
        assert logs[i] == _as_lists(server.storage.entries), i  # the durable log
        if server.node is not None and not server.writing:
            assert logs[i] == _as_lists(server.node.log.entries()), i
    assert min(len(log) for log in logs.values()) > 100


def test_append_entries_carry_the_senders_log(tmp_path: Path) -> None:
    """Replaying the trace in order, every AppendEntries a server sends holds what its log (as rebuilt from
    the ``append`` records so far) holds at those indexes: a reader can follow replication entry by entry."""
    _faulty_run(tmp_path / "t.jsonl")
    logs: dict[int, list[list[Any]]] = {}
    checked = 0
    for d in read_jsonl(tmp_path / "t.jsonl"):
        if d["ev"] == "append":
            log = logs.setdefault(d["node"], [])
            del log[d["index"] - 1 :]
            log.extend(d["entries"])
        elif d["ev"] == "send" and d["msg"]["type"] == "AppendEntries":
            m = d["msg"]
            log = logs.get(m["src"], [])
            prev = m["prev_index"]
            assert prev == 0 or log[prev - 1][0] == m["prev_term"]
            assert log[prev : prev + m["n"]] == m["entries"]
            checked += bool(m["entries"])
    assert checked > 300


# ------------------------------------------------------------------------------------------------ memory


def test_a_streamed_trace_stays_small_in_memory(tmp_path: Path) -> None:
    s = Simulation(workload=WorkloadConfig(clients=10, rate=500, keys=32), seed=3)
    most = 0

    def watch(sim_: Simulation) -> None:
        nonlocal most
        most = max(most, len(sim_.trace.records))

    with open(tmp_path / "t.jsonl", "w", encoding="utf-8") as out:
        s.stream_trace(out, "load", "tests/test_trace.py", 4 * S)
        s.run(2 * S, after_event=watch)
        s.run(4 * S)  # without a hook too
        assert len(s.trace.records) < CHUNK
        s.end_trace()
    written = len(read_jsonl(tmp_path / "t.jsonl"))
    assert most < CHUNK and written == len(s.trace) + 2 > 5 * CHUNK


class _SmallBuffer(Latencies):
    BUFFER = 5  # merges every few latencies


@settings(derandomize=True, deadline=None)
@given(st.lists(st.lists(st.integers(0, 300), max_size=60), max_size=4))
def test_latency_summary_is_the_sorted_list(per_client: list[list[int]]) -> None:
    clients = []
    for values in per_client:
        clients.append(lat := _SmallBuffer())
        for v in values:
            lat.add(v)
    summary = LatencySummary(clients)
    everything = sorted(v for values in per_client for v in values)
    assert len(summary) == len(everything) and list(summary) == everything
    assert summary[1:-1:2] == everything[1:-1:2]
    if everything:
        assert summary[-1] == everything[-1] and summary[0] == everything[0]
        for p in (1, 50, 90, 99, 100):
            assert percentile(summary, p) == percentile(everything, p)
    with pytest.raises(IndexError):
        summary[len(everything)]
    assert all(len(lat._values) <= len(set(values)) for lat, values in zip(clients, per_client, strict=True))


def test_client_latencies_are_exact() -> None:
    """The summary of the clients' latencies is exactly the sorted list of those the trace's ack records carry."""
    s = Simulation(workload=WorkloadConfig(clients=4, rate=400, keys=8), seed=5)
    s.run(3 * S)
    acked = sorted(r[3]["latency_us"] for r in s.trace.records if r[1] == "ack")
    assert len(acked) == s.acked() > 200
    assert list(s.latencies()) == acked
    keys = {id(e.command.key) for e in s.servers[1].storage.entries if e.command is not None}
    assert len(keys) <= 8 * len(s.clients)  # key names shared, not one string per command


# ---------------------------------------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_after_a_delay_and_is_cleared() -> None:
    clock = iter([0.0, 1.0, 2.5, 2.6, 3.0])
    term = _Terminal()
    p = _Progress("churn", 60 * S, stream=term, clock=lambda: next(clock), delay=2.0)
    p(SimpleNamespace(now=5 * S, events=1_000))  # 1.0 s: too early
    assert term.getvalue() == ""
    p(SimpleNamespace(now=30 * S, events=5_000))  # 2.5 s: shown
    shown = term.getvalue()
    assert shown.startswith("\r") and "churn: 30.0s of 60.0s simulated (50%)" in shown and "events/s" in shown
    p(SimpleNamespace(now=31 * S, events=5_100))  # 2.6 s: too soon after the last
    assert term.getvalue() == shown
    p(SimpleNamespace(now=45 * S, events=9_000))  # 3.0 s
    assert "45.0s of 60.0s" in term.getvalue()
    width = p.width
    p.clear()
    assert width > 0 and term.getvalue().endswith("\r" + " " * width + "\r")


def test_progress_writes_nothing_when_stderr_is_not_a_terminal() -> None:
    plain = io.StringIO()
    p = _Progress("x", S, stream=plain, clock=lambda: 100.0, delay=0.0)
    p(SimpleNamespace(now=S // 2, events=10))
    p.clear()
    assert plain.getvalue() == ""


def test_run_writes_nothing_to_a_stderr_that_is_not_a_terminal(tmp_path: Path, capsys: Any) -> None:
    plot = tmp_path / "t.png"
    assert main(["run", str(SCENARIOS / "first-election.toml"), "--plot", str(plot), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert plot.stat().st_size > 0 and list(tmp_path.iterdir()) == [plot]  # the trace it drew from is gone


def test_an_unwritable_trace_path_is_one_line(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "missing" / "t.jsonl"
    assert main(["run", str(SCENARIOS / "first-election.toml"), "--trace", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--trace" in err


def test_bench_memory_prints_a_row_per_simulated_minute(capsys: Any) -> None:
    assert main(["bench", "--memory", "--minutes", "2", "--rate", "5", "--json"]) == 0
    loaded, idle = json.loads(capsys.readouterr().out)["memory"]
    assert (loaded["minute"], idle["minute"]) == (1, 2)
    assert loaded["entries"] > 100 and loaded["bytes_per_entry"] > 0  # clients write in the first half
    assert idle["entries"] - loaded["entries"] < 20 and idle["bytes_per_entry"] == 0
    for row in (loaded, idle):
        assert row["trace_in_memory"] < CHUNK < row["trace_records"]
        assert 0 < row["heap_mb"] <= row["heap_peak_mb"] and row["rss_peak_mb"] > 0
