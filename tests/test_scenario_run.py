"""Running scenarios: every library file passes, expectations judge real behaviour, and the `raftsim run` CLI."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import load, loads, run_scenario
from sim.scenario.library import DEFAULT_SCENARIO, library_dir

SCENARIO_DIR = library_dir()

REPO = Path(__file__).resolve().parent.parent
LIBRARY = sorted(SCENARIO_DIR.glob("*.toml"))


def run_cli(argv: list[str]) -> int:
    """``raftsim <argv>`` in-process: the real entry point, exit code returned."""
    return main(argv)


def test_library_is_complete() -> None:
    assert len(LIBRARY) >= 12
    for path in LIBRARY:
        s = load(path)
        assert s.description, path
        assert s.expectations, path
    assert (SCENARIO_DIR / DEFAULT_SCENARIO).exists()


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_library_scenario_passes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "result:      PASS" in out
    assert "FAIL" not in out


def test_issue_example_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["run", str(SCENARIO_DIR / "leader-crash.toml")]) == 0
    out = capsys.readouterr().out
    for part in ("leaders:", "faults:", "1000ms crash", "commits:", "p50", "p99", "invariants:  hold"):
        assert part in out
    assert out.count("expect:      PASS") == 3


def test_several_files_one_line_each_and_total(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(SCENARIO_DIR / "first-election.toml"), str(SCENARIO_DIR / "follower-crash.toml")]
    assert run_cli(["run", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("PASS ") and files[0] in lines[0]
    assert lines[1].startswith("PASS ") and files[1] in lines[1]
    assert lines[2] == "total: 2 scenarios, 2 passed, 0 failed"


FAILING = """
name = "impossible"
duration = "1s"
[cluster]
nodes = 3
[[expect]]
committed_at_least = 1000
[[expect]]
max_elections = 1
"""


def test_failing_expectation_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "impossible.toml"
    p.write_text(FAILING)
    assert run_cli(["run", str(p), "--seed", "4"]) == 1
    out = capsys.readouterr().out
    assert "FAIL committed_at_least 1000: commit index reached" in out
    assert "PASS max_elections 1" in out
    assert f"replay:      raftsim run {p} --seed 4" in out
    # Several files: the failure is one line (plus its reasons), and the total counts it.
    assert run_cli(["run", str(p), str(SCENARIO_DIR / "first-election.toml")]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("FAIL ")
    assert "total: 2 scenarios, 1 passed, 1 failed" in out


def test_seed_override_changes_the_run(tmp_path: Path) -> None:
    s = load(SCENARIO_DIR / "leader-crash.toml")
    own = run_scenario(s)
    same = run_scenario(s, seed=s.seed)
    other = run_scenario(s, seed=s.seed + 1)
    assert own.seed == 7 and other.seed == 8
    assert own.sim.trace.digest() == same.sim.trace.digest()
    assert own.sim.trace.digest() != other.sim.trace.digest()


def test_trace_is_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.jsonl"
    assert run_cli(["run", str(SCENARIO_DIR / "first-election.toml"), "--trace", str(out), "--quiet"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records
    assert {"t", "ev", "node"} <= set(records[0])
    kinds = {r["ev"] for r in records}
    assert {"send", "deliver", "state", "commit"} <= kinds
    assert all(a["t"] <= b["t"] for a, b in itertools.pairwise(records))
    assert len(capsys.readouterr().out.splitlines()) == 1  # --quiet: one line


def test_expected_violation_passes_and_without_the_bug_fails() -> None:
    path = SCENARIO_DIR / "bug-vote-without-log-check.toml"
    s = load(path)
    r = run_scenario(s)
    assert r.violation is not None and r.violation.property == "LeaderCompleteness"
    assert r.passed
    assert "replay:" in r.summary()
    # The correct protocol on the same schedule: the expected violation does not happen, so the run fails.
    text = path.read_text().replace('bug = "vote-without-log-check"\n', "")
    r = run_scenario(loads(text, "no-bug.toml"))
    assert r.violation is None
    assert not r.passed
    assert r.expectations[0][2].startswith("no invariant was violated")


def test_the_2015_bug_scenario_breaks_only_with_the_bug() -> None:
    path = SCENARIO_DIR / "bug-config-before-term-commit.toml"
    r = run_scenario(load(path))
    assert r.violation is not None and r.violation.property == "ConfigurationOverlap" and r.passed
    # With the fix, the new leader waits until an entry of its term is on a majority: no seed breaks anything.
    text = path.read_text().replace('bug = "config-before-term-commit"\n', "")
    for seed in range(1, 6):
        r = run_scenario(loads(text, "fixed.toml"), seed=seed)
        assert r.violation is None, (seed, r.violation)


def test_members_at_end_judges_the_committed_configuration() -> None:
    text = (SCENARIO_DIR / "membership-grow-shrink.toml").read_text()
    r = run_scenario(loads(text.replace("members_at_end = [1, 2, 3]", "members_at_end = [1, 2, 3, 4]"), "x.toml"))
    ((_, passed, why),) = [(e, p, w) for e, p, w in r.expectations if e.kind == "members_at_end"]
    assert not passed and why.startswith("members 1, 2, 3 (the configuration committed at index")
    assert "members:     1, 2, 3 (committed at index" in r.summary()
    assert "add 4 ok, add 5 ok, remove 4 ok, remove 5 ok" in r.summary()


def test_unexpected_violation_fails_with_report() -> None:
    text = (
        (SCENARIO_DIR / "bug-vote-without-log-check.toml")
        .read_text()
        .replace('violation = "LeaderCompleteness"', "committed_at_least = 0")
    )
    r = run_scenario(loads(text, "x.toml"))
    assert r.violation is not None and not r.passed
    summary = r.summary()
    assert "invariant violated: LeaderCompleteness" in summary
    assert "last events:" in summary
    assert "replay:      raftsim run x.toml --seed 1" in summary


def test_interval_expectations_can_fail() -> None:
    """no_leader / no_commit are judged on real state: over an interval with a working cluster both fail."""
    s = loads(
        """
        duration = "2s"
        [workload]
        clients = 1
        rate = 50
        [[expect]]
        no_leader = ["1s", "1.5s"]
        [[expect]]
        no_commit = ["1s", "1.5s"]
        [[expect]]
        leader_within = "100ms"
        """
    )
    r = run_scenario(s, seed=3)
    (_, ok1, why1), (_, ok2, why2), (_, ok3, why3) = r.expectations
    assert not ok1 and "was leader" in why1
    assert not ok2 and "commit index rose" in why2
    assert not ok3 and "no leader followed by a majority within 100ms" in why3


def test_leader_within_ignores_an_isolated_stale_leader() -> None:
    """Right after the leader is isolated its old followers still follow it; that must not count."""
    s = loads(
        """
        duration = "3s"
        [[events]]
        at = "1s"
        do = "isolate"
        node = "leader"
        [[expect]]
        leader_within = "1s"
        """
    )
    r = run_scenario(s, seed=2)
    ok, why = r.expectations[0][1:]
    assert ok, why
    old = r.sim.elections[0][1]
    assert f"leader {old} " not in why  # the new leader, not the isolated one


def test_subprocess_raftsim_run(tmp_path: Path) -> None:
    """The real command line in a child process: a good file, a bad file, and no arguments (default scenario)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]
    good = subprocess.run(
        [*cmd, "run", "scenarios/first-election.toml", "--quiet"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("PASS scenarios/first-election.toml seed=1")
    bad = subprocess.run(
        [*cmd, "run", "tests/data/scenarios_bad/probability.toml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "network.drop" in bad.stderr
    default = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert default.returncode == 0, default.stderr
    assert "leader crash under load" in default.stdout


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "timeline.png"
    assert run_cli(["run", str(SCENARIO_DIR / "partitioned-leader.toml"), "--plot", str(out), "--quiet"]) == 0
    assert out.exists() and out.stat().st_size > 1000
