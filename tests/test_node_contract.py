"""The node contract (examples/CONTRACT.md): one suite that every implementation passes (the built-in node, the
Python example through --node, the JavaScript example through --node-cmd), the process adapter's findings (a
process that crashes, hangs or writes garbage is a NodeFailure with a seed and a shrunk scenario, never a crash of
the simulator), no process left behind, determinism of a --node-cmd run, Convergence through digests, the planted
bugs of the examples found, and every bad flag and scenario key refused in one line."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sim.cli import main
from sim.experiments.node_bench import EXAMPLES
from sim.fuzz import Options, case_for_seed, run_campaign
from sim.fuzz.case import run_case
from sim.fuzz.export import write_failure
from sim.fuzz.shrink import shrink
from sim.nodes import process
from sim.nodes.contract import NodeFailure
from sim.nodes.implementations import implementation
from sim.raft.messages import Command, Entry
from sim.raft.node import RaftConfig
from sim.raft.output import PersistentState
from sim.scenario import loads, run_scenario
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, WorkloadConfig

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
JS = f"node {ROOT / 'examples' / 'raft.js'}"
MISBEHAVE = ROOT / "tests" / "nodes" / "misbehave.py"


def _need_node() -> None:
    """Node.js is on every machine of this project's kind; without it the JavaScript tests are skipped (saying
    why), except in CI, which must run them."""
    if NODE is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI must run the Node.js example's tests, but node is not on PATH")
        pytest.skip("node (Node.js) is not on PATH")


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # examples.figure2 is imported from the working directory, as a user's module is
    monkeypatch.syspath_prepend(str(ROOT))


# ------------------------------------------------------------------------------- the suite for any implementation

# (how to name it: --node spec, --node-cmd command); None, None is the built-in node.
IMPLEMENTATIONS = {
    "builtin": (None, None),
    "figure2.py": ("examples.figure2:Figure2Node", None),
    "raft.js": (None, JS),
}
# Your own, the same way: RAFTSIM_TEST_NODE=module:Class or RAFTSIM_TEST_NODE_CMD="COMMAND" pytest -k yours
if os.environ.get("RAFTSIM_TEST_NODE") or os.environ.get("RAFTSIM_TEST_NODE_CMD"):
    IMPLEMENTATIONS["yours"] = (os.environ.get("RAFTSIM_TEST_NODE") or None, os.environ.get("RAFTSIM_TEST_NODE_CMD"))


@pytest.fixture(params=list(IMPLEMENTATIONS))
def impl(request: pytest.FixtureRequest) -> tuple[str | None, str | None]:
    spec, command = IMPLEMENTATIONS[request.param]
    if command is not None:
        _need_node()
    return spec, command


def _cluster(impl: tuple[str | None, str | None], **kw: object) -> ClusterConfig:
    spec, command = impl
    return ClusterConfig(implementation=spec, implementation_cmd=command, **kw)  # type: ignore[arg-type]


def _factory(impl: tuple[str | None, str | None]) -> object:
    return implementation(*impl).factory


def test_boots_as_a_follower_in_its_durable_term_and_arms_a_timer(impl: tuple[str | None, str | None]) -> None:
    cmd = Command("c1", 1, "put", "k", "v")
    state = PersistentState(5, 2, (Entry(1), Entry(3, cmd)))
    node = _factory(impl)(2, (1, 2, 3), RaftConfig(), random.Random(1), state)  # type: ignore[operator]
    try:
        out = node.start(1_000)
        assert out.soft_state is not None and out.soft_state.role == "follower" and out.soft_state.term == 5
        assert out.soft_state.commit == 0 and out.soft_state.last_applied == 0
        assert [name for name, delay in out.timers if delay is not None], "no timer armed at boot"
        lo, hi = RaftConfig().election_timeout_min, RaftConfig().election_timeout_max
        assert all(lo <= d <= hi for _, d in out.timers if d is not None)
        assert not out.messages and out.log_from is None
    finally:
        getattr(node, "close", lambda: None)()


def test_elects_one_leader_and_serves_clients_linearizably(impl: tuple[str | None, str | None]) -> None:
    sim = Simulation(_cluster(impl, nodes=3), workload=WorkloadConfig(clients=2, rate=40, stop=1_500_000), seed=3)
    try:
        assert sim.run(2_500_000) is None
        assert sim.established_leader() is not None
        assert sim.acked() > 20 and not sim.pending_commands()
        assert sim.state_machines_agree()
        assert sim.judge_history() is None and sim.linearizability is not None
    finally:
        sim.close()


def test_survives_a_leader_crash_and_restart_from_its_durable_state(impl: tuple[str | None, str | None]) -> None:
    text = """
        name = "crash"
        duration = "4s"
        [cluster]
        nodes = 3
        disk_latency = "2ms"
        [workload]
        clients = 2
        rate = 40
        stop = "3s"
        [[events]]
        at = "1s"
        do = "crash"
        node = "leader"
        [[events]]
        at = "2s"
        do = "restart"
        node = "all-crashed"
        [[expect]]
        leader_within = "1s"
        after = "1s"
        [[expect]]
        clients_complete = true
        [[expect]]
        state_machines_agree = true
    """
    s = loads(text)
    s = replace(s, cluster=_cluster(impl, nodes=3, disk_latency=2_000))
    result = run_scenario(s, trace=False)
    assert result.passed, result.summary()


def test_a_short_campaign(impl: tuple[str | None, str | None]) -> None:
    spec, command = impl
    seeds = 3 if command else 40
    camp = run_campaign(range(seeds), Options(node=spec, node_cmd=command), workers=1)
    assert not camp.failures, [(o.seed, o.property, o.detail) for o in camp.failures]


def test_what_each_implementation_declares() -> None:
    assert implementation().capabilities == {"state", "digest", "prevote", "check_quorum", "early_vote_requests"}
    assert implementation("examples.figure2:Figure2Node").capabilities == {"state", "digest"}
    if NODE is not None:
        assert implementation(None, JS).capabilities == {"state", "digest"}
        assert implementation(None, JS + " --black-box").capabilities == {"digest"}


def test_the_fuzzer_draws_no_family_an_implementation_cannot_do() -> None:
    drawn = [case_for_seed(s, Options(node="examples.figure2:Figure2Node")) for s in range(300)]
    assert not any(c.cluster.raft.prevote or c.cluster.raft.check_quorum for c in drawn)
    builtin = [case_for_seed(s) for s in range(300)]
    assert any(c.cluster.raft.prevote for c in builtin)
    # Every other choice is the same as the built-in node's cases: the same faults, the same workload, where the
    # built-in case has none of the built-in node's own families (membership, transfers, read modes).
    own = ("add_server", "remove_server", "transfer_leader")
    plain = [
        (a, b)
        for a, b in zip(drawn, builtin, strict=True)
        if b.cluster.raft.read == "log" and not any(f.do in own for f in b.faults)
    ]
    assert len(plain) > 60
    assert all(a.faults == b.faults and a.workload == b.workload for a, b in plain)
    assert all(a.cluster.nodes == b.cluster.nodes for a, b in zip(drawn, builtin, strict=True))


# ------------------------------------------------------------------------------------ the process adapter's findings


def _misbehaving(mode: str, after: int) -> str:
    return f"{sys.executable} {MISBEHAVE} {mode} {after} {JS}"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("crash", "exited with code 3"),
        ("hang", "hung: no answer within 3s"),
        ("garbage", "malformed output (not JSON"),
        ("bad-field", "send[].dst: expected another server's id"),
        ("two-lines", "more than one line for one input"),
    ],
)
def test_a_broken_process_is_a_finding(mode: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_node()
    monkeypatch.setattr(process, "hang_limit", 3.0)
    case = case_for_seed(1, Options(node="examples.figure2:Figure2Node"))  # what a node of the contract can run
    cluster = replace(case.cluster, implementation=None, implementation_cmd=_misbehaving(mode, 40))
    case = replace(case, cluster=cluster)
    out, sim = run_case(case)
    assert out.property == "NodeFailure", out
    assert expected in out.detail and "after input" in out.detail, out.detail
    assert f"misbehaving now ({mode})" in out.detail or mode == "bad-field"  # its stderr's last words
    assert all(s.node is None for s in sim.servers.values())  # every process ended


def test_a_crashing_process_is_shrunk_to_a_scenario_that_fails_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_node()
    # A process's input 40: a shrunk case must still give one process that many. Seed 42 on three servers is a
    # small case (2 fault events, no clients), so that shrinking takes few runs.
    command = _misbehaving("crash", 40)
    argv = ["fuzz", "--seeds", "1", "--start-seed", "42", "--nodes", "3", "--node-cmd", command]
    argv += ["--out", str(tmp_path), "--workers", "1", "--no-shrink"]
    rc = main(argv)
    out = capsys.readouterr().out
    assert rc == 1 and "FAIL seed 42: NodeFailure" in out, out
    assert f"replay:   raftsim replay 42 --nodes 3 --node-cmd '{command}'" in out
    # Shrunk as the fuzzer does (its Hypothesis pass cut short: every run of it starts processes).
    options = Options(nodes=3, node_cmd=command)
    case = case_for_seed(42, options)
    res = shrink(case, "NodeFailure", hypothesis_examples=3)
    assert res.outcome.property == "NodeFailure" and res.case.size() < case.size()
    scenario = write_failure(res.case, res.outcome, options, tmp_path / "shrunk", original=case)
    assert "implementation_cmd" in scenario.read_text()
    assert main(["run", str(scenario)]) == 1
    assert "NodeFailure" in capsys.readouterr().out


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = (Path("/proc") / pid / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(pid))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for processes in /proc")
def test_no_process_outlives_the_simulator(tmp_path: Path) -> None:
    """At the end of a run, after a finding, and after Ctrl-C: no node process (nor its children) is left."""
    _need_node()
    marker = str(tmp_path / "marker-node.js")
    shutil.copy(ROOT / "examples" / "raft.js", marker)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    raftsim = [sys.executable, "-m", "sim"]
    # A run that passes, one that ends in a finding.
    subprocess.run([*raftsim, "replay", "0", "--node-cmd", f"node {marker}"], env=env, capture_output=True, timeout=300)
    bad = f"{sys.executable} {MISBEHAVE} crash 30 node {marker}"
    r = subprocess.run([*raftsim, "replay", "1", "--node-cmd", bad], env=env, capture_output=True, timeout=300, text=1)
    assert r.returncode == 1 and "NodeFailure" in r.stdout
    time.sleep(0.5)
    assert not _processes_with(marker)
    # Ctrl-C in the middle of a campaign on two workers.
    p = subprocess.Popen(
        [*raftsim, "fuzz", "--seeds", "500", "--workers", "2", "--node-cmd", f"node {marker}", "--out", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert _processes_with(marker), "the campaign never started a node"
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole foreground group
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 130, out
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(marker)


def test_a_node_cmd_run_is_deterministic() -> None:
    """The same seed through the process adapter twice: the same trace, byte for byte."""
    _need_node()
    case = case_for_seed(7, Options(node_cmd=JS))
    first, _ = run_case(case, digest=True)
    second, _ = run_case(case, digest=True)
    assert first.digest and first.digest == second.digest and first.property == second.property is None


def test_a_black_box_is_judged_by_its_clients() -> None:
    _need_node()
    camp = run_campaign(range(2), Options(node_cmd=JS + " --black-box"), workers=1)
    assert not camp.failures, [(o.seed, o.property, o.detail) for o in camp.failures]
    sim = Simulation(
        ClusterConfig(nodes=3, implementation_cmd=JS + " --black-box"), workload=WorkloadConfig(clients=1, rate=20)
    )
    try:
        sim.run(1_500_000)
        assert not sim.white_box and sim.established_leader() is None  # it reports no roles
        assert sim.acked() > 5 and sim.judge_history() is None
        assert all(s.state.term >= 1 for s in sim.servers.values())  # terms from its durable writes
    finally:
        sim.close()


# -------------------------------------------------------------------------------------------------- Convergence


def test_state_machines_that_differ_at_the_same_applied_index_are_caught() -> None:
    sim = Simulation(ClusterConfig(nodes=3), workload=WorkloadConfig(clients=2, rate=40, stop=1_000_000), seed=2)
    sim.run(2_000_000)
    assert sim.state_machines_agree()
    applied = {s.state.last_applied for s in sim.servers.values()}
    assert len(applied) == 1 and applied.pop() > 10
    node = sim.servers[2].node
    assert node is not None
    key = next(iter(node.kv.data))
    node.kv.data[key] += "x"  # same applied index, another state machine
    assert not sim.state_machines_agree()
    assert "digest" in sim.state_text()


def test_a_planted_bug_in_each_example_is_found() -> None:
    camp = run_campaign(range(10), Options(node="examples.figure2:NoLogCheck"), workers=1, stop_after_failures=1)
    assert camp.failures and camp.failures[0].property in ("LeaderCompleteness", "StateMachineSafety")
    _need_node()
    camp = run_campaign(range(40), Options(node_cmd=JS + " --bug=duplicate-apply"), workers=1, stop_after_failures=1)
    assert camp.failures and camp.failures[0].property == "Linearizability", camp.failures


# -------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--node", "nosuchmodule:Node"], "--node: cannot import 'nosuchmodule': ModuleNotFoundError"),
        (["--node", "sim.raft.node"], "--node: expected module:Class, got 'sim.raft.node'"),
        (["--node", "sim.raft.node:Nope"], "--node: module 'sim.raft.node' has no 'Nope'"),
        (["--node", "sim.raft.node:RaftConfig"], "is not a node: it has no start, step, tick method"),
        (["--node-cmd", "/nonexistent/raft"], "--node-cmd: cannot start /nonexistent/raft: No such file"),
        (["--node-cmd", "'unterminated"], "--node-cmd: expected a command line"),
        (["--node-cmd", "true"], "--node-cmd: 'true' did not boot: node 1's process, after input boot"),
        (["--node", "a:B", "--node-cmd", "x"], "--node-cmd: expected either --node or --node-cmd, got both"),
        (["--node", "examples.figure2:Figure2Node", "--bug", "volatile-vote"], "--bug: a known bug is a variant"),
        (["--node-timeout", "0"], "--node-timeout: expected a positive number of seconds, got '0'"),
        (["--node-timeout", "soon"], "--node-timeout: expected a positive number of seconds, got 'soon'"),
    ],
)
def test_bad_flags_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--seeds", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def _scenario(tmp_path: Path, cluster: str, expect: str = "") -> str:
    path = tmp_path / "s.toml"
    path.write_text(f'name = "s"\nduration = "1s"\n[cluster]\nnodes = 3\n{cluster}\n{expect}', encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("cluster", "expect", "message"),
    [
        ("implementation = 3", "", "cluster.implementation: expected a string, got 3"),
        ('implementation = "nocolon"', "", 'cluster.implementation: expected a Python node class as "module:Class"'),
        ('implementation = "nosuch:Node"', "", "cannot import 'nosuch'"),
        ('implementation_cmd = ""', "", "cluster.implementation_cmd: expected a command line"),
        (
            'implementation = "a:B"\nimplementation_cmd = "x"',
            "",
            "cluster.implementation_cmd: expected either implementation or implementation_cmd",
        ),
        ('implementation = "examples.figure2:Figure2Node"\nbug = "volatile-vote"', "", "cluster.bug: expected no bug"),
        (
            'implementation = "examples.figure2:Figure2Node"\nprevote = true',
            "",
            "cluster.prevote: examples.figure2:Figure2Node does not declare the capability 'prevote'",
        ),
        (
            f'implementation_cmd = "{JS} --black-box"',
            '[[expect]]\nleader_within = "1s"',
            "expect.leader_within: node",
        ),
    ],
)
def test_bad_scenario_keys_are_one_line(
    cluster: str, expect: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "raft.js" in cluster:
        _need_node()
    path = _scenario(tmp_path, cluster, expect)
    assert main(["run", path]) == 2
    err = capsys.readouterr().err
    assert message in err and path in err and len(err.strip().splitlines()) == 1, err


def test_run_with_node_refuses_a_switch_the_implementation_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "scenarios/prevote-rejoin.toml", "--node", "examples.figure2:Figure2Node"])
    err = capsys.readouterr().err
    assert rc == 2 and "(with --node examples.figure2:Figure2Node): cluster.prevote" in err, err


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("scenarios/leader-transfer.toml", "events: transfer_leader: leadership transfer runs on the built-in node"),
        ("scenarios/lease-reads.toml", "cluster.read: 'lease' runs on the built-in node only"),
        ("scenarios/membership-grow-shrink.toml", "membership changes run on the built-in node only"),
    ],
)
def test_run_with_node_refuses_what_the_contract_has_no_messages_for(
    scenario: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["run", scenario, "--node", "examples.figure2:Figure2Node"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_the_fuzzer_never_draws_the_built_in_nodes_own_families_for_another_node() -> None:
    from sim.fuzz.campaign import Options, case_for_seed

    built_in_only = ("add_server", "remove_server", "transfer_leader")
    drawn = [case_for_seed(s) for s in range(60)]
    assert any(c.cluster.raft.read != "log" for c in drawn)
    assert any(f.do in built_in_only for c in drawn for f in c.faults)
    for s in range(60):
        case = case_for_seed(s, Options(node="examples.figure2:Figure2Node"))
        assert case.cluster.raft.read == "log" and not any(f.do in built_in_only for f in case.faults), s


def test_node_failure_during_the_digest_query_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_node()
    sim = Simulation(ClusterConfig(nodes=3, implementation_cmd=JS), seed=1)
    try:
        sim.run(1_000_000)
        node = sim.servers[1].node
        assert node is not None

        def broken(what: str) -> str:
            raise NodeFailure("hung: no answer")

        monkeypatch.setattr(node, "query", broken)
        assert not sim.state_machines_agree()
        assert sim.violation is not None and sim.violation.property == "NodeFailure"
    finally:
        sim.close()


def test_figure16_with_another_implementation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiment", "figure16", "--trials", "4", "--lines", "150-200", "--workers", "1", "--no-plot"]
    argv += ["--out", str(tmp_path), "--node", "examples.figure2:Figure2Node"]
    assert main(argv) == 0
    assert "150-200      4      0" in capsys.readouterr().out
    assert main([*argv, "--broadcast", "disk-early"]) == 2
    assert "disk-early needs the capability early_vote_requests" in capsys.readouterr().err


def test_bench_nodes_measures_each_implementation(capsys: pytest.CaptureFixture[str]) -> None:
    _need_node()
    assert main(["bench", "--node-seeds", "1", "--node", "examples.figure2:NoLogCheck", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["nodes"]
    names = [row["implementation"] for row in r["rows"]]
    assert names[:3] == [name for name, _, _ in EXAMPLES]
    assert names[3] == "examples.figure2:NoLogCheck"
    assert all(row["seeds_per_s"] > 0 for row in r["rows"]) and r["echo_js_us"] > 0 and r["echo_py_us"] > 0


def test_the_skeleton_keeps_the_contract() -> None:
    """examples/skeleton.py never leads: safe, and not live (the liveness phase says so)."""
    case = case_for_seed(0, Options(node_cmd=f"{sys.executable} {ROOT / 'examples' / 'skeleton.py'}"))
    out, _ = run_case(replace(case, liveness=1_000_000))
    assert out.property == "Liveness", out
