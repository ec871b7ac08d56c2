"""The interactive timeline's data and file, without a browser: the page's tables say what the trace says (every
message copy from its send to its end, the client history the checker sees, the linearizability evidence), the
file is self-contained and the same for the same trace, and bad input is one line. The page itself, drawn in
Chromium, is tested in test_html_browser.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main as raftsim
from sim.errors import UsageError
from sim.scenario.parse import load
from sim.scenario.run import run_scenario
from sim.trace import read_jsonl, rebuild_logs
from sim.viz.html import ASSETS, render, write_html
from sim.viz.page_data import build, history
from sim.viz.timeline import read_lines
from sim.world.clients import operations
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault, schedule

ROOT = Path(__file__).resolve().parents[1]


def _faulty_run(path: Path) -> Simulation:
    """Loss, duplication, reordering, a crash while messages are in flight to it, a partition and a cut, and
    clients using every operation, some giving up: every way a message copy can end, every outcome."""
    sim = Simulation(
        ClusterConfig(nodes=5),
        NetworkConfig(drop=0.05, duplicate=0.05),
        WorkloadConfig(clients=4, rate=80, give_up=150_000, timeout=60_000),
        seed=4,
        trace=True,
    )
    with open(path, "w", encoding="utf-8") as out:
        sim.stream_trace(out, "faulty", "test", 4_000_000)
        schedule(
            sim,
            [
                Fault(at=800_000, do="crash", node="leader"),
                Fault(at=1_300_000, do="restart", node="all-crashed"),
                Fault(at=1_800_000, do="isolate", node="leader"),
                Fault(at=2_400_000, do="heal"),
                Fault(at=2_600_000, do="cut", src=1, dst=2),
                Fault(at=3_200_000, do="repair", src=1, dst=2),
            ],
        )
        assert sim.run(4_000_000) is None
        sim.end_trace("ok")
    return sim


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, list[dict[str, Any]], dict[str, Any]]:
    path = tmp_path_factory.mktemp("html") / "trace.jsonl"
    sim = _faulty_run(path)
    return sim, read_jsonl(path), build(read_lines(path), str(path))


def _times(deltas: list[int]) -> list[int]:
    out, acc = [], 0
    for d in deltas:
        acc += d
        out.append(acc)
    return out


def test_every_message_copy_runs_from_its_send_to_its_end(faulty: Any) -> None:
    _, records, tables = faulty
    c = tables["copies"]
    ts = _times(c["ts_dt"])
    kinds = Counter(d["ev"] for d in records)
    assert len(ts) == kinds["send"] + kinds["duplicate"]
    assert kinds["drop"] > 0 and kinds["duplicate"] > 0
    outcomes = tables["outcomes"]
    starts: Counter[int] = Counter()
    for i in range(len(ts)):
        start = records[c["ps"][i]]
        assert start["ev"] in ("send", "duplicate") and start["t"] == ts[i]
        assert bool(c["dup"][i]) == (start["ev"] == "duplicate")
        starts[c["ps"][i]] += 1
        if c["pe"][i] < 0:
            assert outcomes[c["outcome"][i]] == "in flight"
            assert ts[i] + c["flight"][i] == tables["end"]
            continue
        end = records[c["pe"][i]]
        assert end["msg"] == start["msg"]  # the same message
        assert end["t"] == ts[i] + c["flight"][i] and end["t"] >= start["t"]
        if end["ev"] == "deliver":
            assert outcomes[c["outcome"][i]] == "delivered"
        else:
            assert outcomes[c["outcome"][i]] == {"random": "lost"}.get(end["reason"], end["reason"])
    assert all(n == 1 for n in starts.values()) and len(starts) == len(ts)
    ends = Counter(c["pe"])
    del ends[-1]
    assert all(n == 1 for n in ends.values())
    # Every drop ends a copy; a deliver does unless a drop of the same copy follows it (arrived at a server
    # that is down: the copy is dropped, not delivered).
    assert {p for p, d in enumerate(records) if d["ev"] == "drop"} <= set(ends)
    delivered_to_the_down = sum(
        1 for p, d in enumerate(records) if d["ev"] == "deliver" and p not in ends and records[p + 1]["ev"] == "drop"
    )
    assert delivered_to_the_down > 0
    assert kinds["deliver"] - delivered_to_the_down == sum(1 for o in c["outcome"] if outcomes[o] == "delivered")


def test_append_entries_entries_come_from_the_senders_log_at_that_moment(faulty: Any) -> None:
    _, records, tables = faulty
    c = tables["copies"]
    types = tables["types"]
    checked = 0
    for i, fields in enumerate(c["fields"]):
        ty = types[c["type"][i]]
        if ty["name"] != "AppendEntries":
            continue
        entries = fields[ty["fields"].index("entries")]
        start = records[c["ps"][i]]
        msg = start["msg"]
        if entries is not None:
            assert entries == msg["entries"]
            continue
        log = rebuild_logs(records[: c["ps"][i] + 1])[msg["src"]]
        assert [list(e) for e in log[msg["prev_index"] : msg["prev_index"] + msg["n"]]] == msg["entries"]
        checked += 1
    assert checked > 100


def test_server_tables_hold_every_server_record(faulty: Any) -> None:
    _, records, tables = faulty
    for row, n in enumerate(tables["servers"]):
        t = tables["server_tables"][row]
        mine = [(p, d) for p, d in enumerate(records) if d.get("node") == n]
        for kind in ("boot", "crash", "state", "vote", "commit", "apply", "append"):
            assert t[kind]["pos"] == [p for p, d in mine if d["ev"] == kind], kind
        assert [tables["roles"][r] for r in t["state"]["role"]] == [d["role"] for _, d in mine if d["ev"] == "state"]
        written = [e for _, d in mine if d["ev"] == "append" for e in d["entries"]]
        clients = tables["clients"]
        assert [
            [term, None if c < 0 else clients[c], None if s < 0 else s]
            for term, c, s in zip(t["entries"]["term"], t["entries"]["client"], t["entries"]["seq"], strict=True)
        ] == written


def test_the_client_history_is_the_one_the_checker_judged(faulty: Any) -> None:
    sim, _, tables = faulty
    ops = history(tables["ops"], tables["clients"])
    assert sorted(ops, key=lambda o: (o.process, o.invoke)) == sorted(
        operations(sim.history), key=lambda o: (o.process, o.invoke)
    )
    statuses = Counter(o.status for o in ops)
    assert statuses["ok"] and statuses["info"] and {o.f for o in ops} == {"get", "put", "append", "cas"}
    assert tables["lin"]["verdict"] == "ok"


def test_a_linearizability_violation_brings_its_prefix_and_the_operations_that_cannot_follow(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    s = load(str(ROOT / "scenarios" / "bug-follower-read.toml"))
    with open(path, "w", encoding="utf-8") as out:
        result = run_scenario(s, trace=False, trace_out=out)
    lin = result.sim.linearizability
    assert lin is not None and lin.verdict == "violation"
    tables = build(read_lines(path), str(path))
    page = tables["lin"]
    assert page["verdict"] == "violation" and page["key"] == lin.key
    ops = tables["ops"]

    def described(i: int) -> tuple[str, int, str, Any]:
        return (tables["clients"][ops["client"][i]], ops["ti"][i] * 1000, ops["f"][i], ops["key"][i])

    def of(op: Any) -> tuple[str, int, str, Any]:
        return (f"c{op.process}", op.invoke, op.f, op.key)

    assert [described(i) for i in page["prefix"]] == [of(op) for op in lin.prefix]
    assert [described(i) for i in page["stuck"]] == [of(op) for op in lin.stuck]
    assert described(page["blocking"]) == of(lin.blocking)
    assert page["states"][-1] == lin.state and len(page["states"]) == len(lin.prefix)


def test_the_page_is_one_file_that_asks_nothing_of_any_server(tmp_path: Path, faulty: Any) -> None:
    _, _, tables = faulty
    page = render({**tables, "title": 'a </script><script>alert(1)</script> "name" & more'})
    assert page.count("</script>") == 2  # the data's and the scripts' own ends: the title cannot end either
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "src=" not in page and "href=" not in page
    assert "http://" not in page and "https://" not in page
    assert "fetch(" not in page and "XMLHttpRequest" not in page
    data = page.split('<script type="application/json" id="raftsim-data">')[1].split("</script>")[0]
    assert json.loads(data)["title"] == 'a </script><script>alert(1)</script> "name" & more'
    assert "<h1>a &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;name&quot; &amp; more</h1>" in page


def test_the_same_trace_gives_the_same_file(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert raftsim(["run", str(ROOT / "scenarios" / "first-election.toml"), "--trace", str(trace), "--quiet"]) == 0
    write_html(trace, tmp_path / "a.html")
    write_html(trace, tmp_path / "b.html")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_the_assets_are_package_data() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["sim.viz"]
    for name in ASSETS:
        assert (ROOT / "sim" / "viz" / "assets" / name).is_file()
        assert any(Path("assets", name).match(pattern) for pattern in data), name


def test_view_run_and_replay_write_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.jsonl"
    scenario = str(ROOT / "scenarios" / "first-election.toml")
    assert raftsim(["run", scenario, "--trace", str(trace), "--html", str(tmp_path / "run.html")]) == 0
    assert f"wrote:       {trace}, {tmp_path / 'run.html'}" in capsys.readouterr().out
    assert raftsim(["view", str(trace), "-o", str(tmp_path / "view.html")]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote {tmp_path / 'view.html'}: 5 servers,") and "1 leader bands" in line
    assert "history linearizable" in line
    # The run's page and the trace's agree but for the title (the run names its seed).
    run_page = (tmp_path / "run.html").read_text()
    assert "<title>first election (seed 1) · raftsim timeline</title>" in run_page
    assert raftsim(["replay", "3", "--bug", "volatile-term", "--html", str(tmp_path / "replay.html")]) == 1
    assert f"interactive timeline written to {tmp_path / 'replay.html'}" in capsys.readouterr().out
    assert "fuzz seed 3: TermMonotonic" in (tmp_path / "replay.html").read_text()
    # Several scenarios: one page each, named after them.
    other = str(ROOT / "scenarios" / "follower-crash.toml")
    assert raftsim(["run", scenario, other, "--html", str(tmp_path / "p.html"), "--quiet"]) == 0
    assert (tmp_path / "p.first-election.html").is_file() and (tmp_path / "p.follower-crash.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["view", "{tmp}/missing.jsonl", "-o", "{tmp}/x.html"], "missing.jsonl: cannot read trace"),
        (["view", "{tmp}/empty.jsonl", "-o", "{tmp}/x.html"], "empty.jsonl: expected a trace, got an empty file"),
        (["view", "{tmp}/bad.jsonl", "-o", "{tmp}/x.html"], "bad.jsonl:2: expected a JSON trace record"),
        (["view", "{tmp}/odd.jsonl", "-o", "{tmp}/x.html"], "odd.jsonl:1: expected a trace record with 't' and 'ev'"),
        (["view", "{tmp}/broken.jsonl", "-o", "{tmp}/x.html"], "broken.jsonl:1: expected a well-formed 'state'"),
        (["view", "{tmp}/empty.jsonl", "-o", "{tmp}/x.png"], "-o: expected a file name ending in .html"),
        (["view", "{tmp}/empty.jsonl", "-o", "{tmp}/nope/x.html"], "-o: expected an existing folder"),
        (["run", "{scenario}", "--html", "{tmp}/x.htm"], "--html: expected a file name ending in .html"),
        (["run", "{scenario}", "--html", "{tmp}"], "--html: expected a file name ending in .html, got the folder"),
        (["replay", "1", "--html", "{tmp}/nope/x.html"], "--html: expected an existing folder"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.jsonl").write_text('{"t":0,"ev":"header","node":null}\n{"t": 1, oops\n')
    (tmp_path / "odd.jsonl").write_text('{"hello": 1}\n')
    (tmp_path / "broken.jsonl").write_text('{"t":0,"ev":"state","node":1}\n')
    scenario = str(ROOT / "scenarios" / "first-election.toml")
    argv = [a.format(tmp=tmp_path, scenario=scenario) for a in args]
    assert raftsim(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "x.html").exists()


def test_a_trace_without_header_or_end_still_makes_a_page(tmp_path: Path) -> None:
    """``Trace.write_jsonl`` writes only the event records (and an interrupted run leaves no end record)."""
    sim = Simulation(ClusterConfig(nodes=3), NetworkConfig(), WorkloadConfig(clients=1, rate=20), seed=2)
    sim.run(1_000_000)
    sim.trace.write_jsonl(tmp_path / "t.jsonl")
    tables = build(read_lines(tmp_path / "t.jsonl"), "t.jsonl")
    assert tables["verdict"] is None and tables["title"] == "t.jsonl" and tables["servers"] == [1, 2, 3]
    with pytest.raises(UsageError, match="expected a trace record"):
        build(iter([(1, "[1, 2]")]), "x.jsonl")


@pytest.mark.parametrize("value", ["0", "x", "60,", "-5", "90000"])
def test_bench_html_durations_must_be_whole_seconds(capsys: pytest.CaptureFixture[str], value: str) -> None:
    assert raftsim(["bench", "--html", "--html-durations", value]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"raftsim bench: --html-durations: expected whole seconds from 1 to 86400, comma-separated, got {value!r}"
    )
