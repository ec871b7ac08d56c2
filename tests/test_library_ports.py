"""The ported test suites in the scenario library (scenarios/mit-6.5840/, scenarios/etcd/): each passes on the
correct protocol, catches the catalog bugs its README says it catches, and is run by folder from the CLI.

The full claims (every port over seeds 0-19, every bug's count of failing seeds) take minutes; they run with
``RAFTSIM_SLOW=1 .venv/bin/python -m pytest tests/test_library_ports.py``, or as a table with
``.venv/bin/python tests/test_library_ports.py [SEEDS]``."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from sim.cli import main
from sim.nodes.bugs import BUGS
from sim.scenario import Scenario, load, loads, run_scenario, to_toml
from sim.scenario.library import library_dir, scenario_files

LIBRARY = library_dir()
SUITES = ("mit-6.5840", "etcd")
PORTS = [p for suite in SUITES for p in scenario_files(LIBRARY / suite)]
SLOW = pytest.mark.skipif(not os.environ.get("RAFTSIM_SLOW"), reason="minutes of runs: set RAFTSIM_SLOW=1")
SEEDS = 20

# (port, bug) -> how many of the seeds 0-19 fail with the bug switched on (the READMEs' tables say the same).
CAUGHT: dict[tuple[str, str], int] = {
    ("etcd/async-storage-writes.toml", "ack-before-commit"): 20,
    ("etcd/async-storage-writes.toml", "ack-before-persist"): 8,
    ("etcd/async-storage-writes.toml", "truncate-on-match"): 20,
    ("etcd/async-storage-writes.toml", "volatile-term"): 20,
    ("etcd/checkquorum.toml", "vote-without-log-check"): 2,
    ("etcd/lagging-commit.toml", "ack-before-commit"): 20,
    ("etcd/lagging-commit.toml", "truncate-on-match"): 19,
    ("etcd/prevote.toml", "ack-before-commit"): 20,
    ("etcd/prevote.toml", "truncate-on-match"): 20,
    ("etcd/prevote.toml", "volatile-term"): 20,
    ("etcd/prevote.toml", "vote-without-log-check"): 10,
    ("etcd/probe-and-replicate.toml", "ack-before-commit"): 20,
    ("etcd/probe-and-replicate.toml", "commit-beyond-match"): 20,
    ("etcd/probe-and-replicate.toml", "truncate-on-match"): 20,
    ("etcd/probe-and-replicate.toml", "volatile-term"): 20,
    ("etcd/probe-and-replicate.toml", "vote-without-log-check"): 1,
    ("etcd/replicate-pause.toml", "ack-before-commit"): 20,
    ("etcd/replicate-pause.toml", "truncate-on-match"): 20,
    ("etcd/vote.toml", "ack-before-commit"): 20,
    ("etcd/vote.toml", "truncate-on-match"): 20,
    ("etcd/vote.toml", "vote-without-log-check"): 19,
    ("mit-6.5840/3a-many-elections.toml", "vote-without-log-check"): 16,
    ("mit-6.5840/3b-backup.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-backup.toml", "commit-beyond-match"): 20,
    ("mit-6.5840/3b-backup.toml", "truncate-on-match"): 18,
    ("mit-6.5840/3b-backup.toml", "vote-without-log-check"): 19,
    ("mit-6.5840/3b-basic-agree.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-concurrent-starts.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-concurrent-starts.toml", "truncate-on-match"): 3,
    ("mit-6.5840/3b-count.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-count.toml", "truncate-on-match"): 4,
    ("mit-6.5840/3b-fail-agree.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-fail-agree.toml", "vote-without-log-check"): 20,
    ("mit-6.5840/3b-fail-no-agree.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-follower-failure.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-leader-failure.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-rejoin.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-rejoin.toml", "commit-beyond-match"): 20,
    ("mit-6.5840/3b-rejoin.toml", "truncate-on-match"): 1,
    ("mit-6.5840/3b-rejoin.toml", "vote-without-log-check"): 9,
    ("mit-6.5840/3b-rpc-bytes.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3b-rpc-bytes.toml", "truncate-on-match"): 9,
    ("mit-6.5840/3c-figure8-unreliable.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-figure8-unreliable.toml", "commit-beyond-match"): 20,
    ("mit-6.5840/3c-figure8-unreliable.toml", "duplicate-apply"): 1,
    ("mit-6.5840/3c-figure8-unreliable.toml", "truncate-on-match"): 19,
    ("mit-6.5840/3c-figure8-unreliable.toml", "vote-without-log-check"): 19,
    ("mit-6.5840/3c-figure8.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-figure8.toml", "commit-beyond-match"): 9,
    ("mit-6.5840/3c-figure8.toml", "truncate-on-match"): 6,
    ("mit-6.5840/3c-figure8.toml", "volatile-term"): 20,
    ("mit-6.5840/3c-figure8.toml", "vote-without-log-check"): 20,
    ("mit-6.5840/3c-persist1.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-persist1.toml", "truncate-on-match"): 1,
    ("mit-6.5840/3c-persist1.toml", "volatile-term"): 20,
    ("mit-6.5840/3c-persist2.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-persist2.toml", "truncate-on-match"): 5,
    ("mit-6.5840/3c-persist2.toml", "volatile-term"): 20,
    ("mit-6.5840/3c-persist2.toml", "vote-without-log-check"): 20,
    ("mit-6.5840/3c-persist3.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-persist3.toml", "truncate-on-match"): 1,
    ("mit-6.5840/3c-persist3.toml", "volatile-term"): 20,
    ("mit-6.5840/3c-persist3.toml", "vote-without-log-check"): 13,
    ("mit-6.5840/3c-reliable-churn.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-reliable-churn.toml", "commit-beyond-match"): 2,
    ("mit-6.5840/3c-reliable-churn.toml", "truncate-on-match"): 18,
    ("mit-6.5840/3c-reliable-churn.toml", "volatile-term"): 20,
    ("mit-6.5840/3c-reliable-churn.toml", "vote-without-log-check"): 11,
    ("mit-6.5840/3c-unreliable-agree.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-unreliable-agree.toml", "truncate-on-match"): 20,
    ("mit-6.5840/3c-unreliable-churn.toml", "ack-before-commit"): 20,
    ("mit-6.5840/3c-unreliable-churn.toml", "commit-beyond-match"): 2,
    ("mit-6.5840/3c-unreliable-churn.toml", "truncate-on-match"): 15,
    ("mit-6.5840/3c-unreliable-churn.toml", "volatile-term"): 20,
    ("mit-6.5840/3c-unreliable-churn.toml", "vote-without-log-check"): 12,
}


def _id(path: Path) -> str:
    return str(path.relative_to(LIBRARY))


# A bug that makes messages multiply would otherwise run to its deadline at a crawl; with an event
# budget (at most 20 events per simulated ms on average, where these ports need at most 4) it stops at once, with
# the property Livelock.
BUG_EVENT_BUDGET = 20


def _with_bug(s: Scenario, bug: str) -> Scenario:
    return replace(s, cluster=replace(s.cluster, bug=bug, max_events_per_ms=BUG_EVENT_BUDGET))


def how_it_failed(s: Scenario, seed: int) -> str | None:
    """None if the run passes; else the violated property, the step that failed (``step steps[3]``), or the first
    expectation that failed."""
    r = run_scenario(s, seed=seed, trace=False)
    if r.passed:
        return None
    if r.violation is not None:
        return r.violation.property
    if r.steps is not None and not r.steps[0]:
        return "step " + r.steps[1].split()[0]
    return next(e.kind for e, ok, _ in r.expectations if not ok)


def test_every_suite_has_ports_and_a_readme() -> None:
    for suite in SUITES:
        assert (LIBRARY / suite / "README.md").is_file()
    assert len(PORTS) >= 25
    for path in PORTS:
        s = load(path)
        assert s.description and (s.expectations or s.steps), path
        # Each port is named in its README's table.
        assert f"`{path.name}`" in (path.parent / "README.md").read_text(encoding="utf-8"), path


@pytest.mark.parametrize("path", PORTS, ids=_id)
def test_port_round_trips(path: Path) -> None:
    """Written back as TOML (as ``--out`` does), a port reads as the same scenario."""
    s = load(path)
    assert loads(to_toml(s), str(path)) == s


@pytest.mark.parametrize("path", PORTS, ids=_id)
def test_port_passes(path: Path) -> None:
    """Each port passes under its own seed and two others (seeds 0-19 in the slow test)."""
    s = load(path)
    for seed in sorted({s.seed, 0, 2}):
        assert how_it_failed(s, seed) is None, f"{_id(path)} --seed {seed}"


@SLOW
@pytest.mark.parametrize("path", PORTS, ids=_id)
def test_port_passes_twenty_seeds(path: Path) -> None:
    s = load(path)
    failed = {seed: why for seed in range(SEEDS) if (why := how_it_failed(s, seed)) is not None}
    assert not failed, f"{_id(path)}: {failed}"


# ----------------------------------------------------------------------------------------------- the CLI


def test_a_folder_runs_every_file_in_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sub").mkdir()
    one = 'duration = "300ms"\n[cluster]\nnodes = 1\n[[expect]]\ncommitted_at_least = 1\n'
    (tmp_path / "b.toml").write_text(one)
    (tmp_path / "sub" / "a.toml").write_text(one)
    (tmp_path / "notes.md").write_text("not a scenario")
    assert main(["run", str(tmp_path), "--quiet"]) == 0
    *lines, total = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [str(tmp_path / "b.toml"), str(tmp_path / "sub" / "a.toml")]
    assert total == "total: 2 scenarios, 2 passed, 0 failed"


def test_a_folder_without_scenarios_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"raftsim run: {tmp_path}: expected a scenario file or a folder of them (.toml), got a folder of none"


def test_library_paths_run_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "etcd/single-node.toml", "--quiet"]) == 0
    assert str(LIBRARY / "etcd" / "single-node.toml") in capsys.readouterr().out
    assert main(["run", "etcd/no-such.toml"]) == 2
    assert "etcd/no-such.toml: expected a scenario file, got no such file" in capsys.readouterr().err


def test_list_shows_the_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"scenario library: {LIBRARY} (")
    for path in PORTS:
        assert f"  {_id(path)}  " in out
    assert "leader-crash.toml" in out


# ------------------------------------------------------------------------------------------------ bugs


@pytest.mark.parametrize(("port", "bug"), [k for k, n in CAUGHT.items() if n == SEEDS], ids="/".join)
def test_port_catches_bug(port: str, bug: str) -> None:
    """A bug that a port catches under every seed is caught under its own."""
    s = load(LIBRARY / port)
    assert how_it_failed(_with_bug(s, bug), s.seed) is not None


def bug_table(seeds: int) -> dict[tuple[str, str], Counter[str]]:
    """(port, bug) -> how the failing seeds among 0..seeds-1 failed, for every bug a port catches at all."""
    table: dict[tuple[str, str], Counter[str]] = {}
    for path in PORTS:
        s = load(path)
        for bug in BUGS:
            why = Counter(w for seed in range(seeds) if (w := how_it_failed(_with_bug(s, bug), seed)) is not None)
            if why:
                table[(_id(path), bug)] = why
    return table


@SLOW
def test_bug_counts_are_as_the_readmes_say() -> None:
    counts = {k: sum(v.values()) for k, v in bug_table(SEEDS).items()}
    assert counts == CAUGHT


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else SEEDS
    for path in PORTS:
        s = load(path)
        failed = [seed for seed in range(n) if how_it_failed(s, seed) is not None]
        print(f"{_id(path)}: correct protocol passes {n - len(failed)}/{n}{'; fails ' + str(failed) if failed else ''}")
    for (port, bug), why in bug_table(n).items():
        print(f"{port} {bug}: {sum(why.values())}/{n} ({', '.join(f'{k} {v}' for k, v in why.most_common())})")
