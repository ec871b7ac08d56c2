"""Figure 16 of the Raft paper: a small run of the experiment, its files, determinism and plausibility."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from sim.experiments import figure16
from sim.experiments.figure16 import (
    LOG_LENGTHS,
    label,
    run_experiment,
    run_trial,
    summarize,
    trial_row,
    write_summary_csv,
)
from sim.rng import stream

ROOT = Path(__file__).resolve().parents[1]
LINES = ((150, 200), (12, 24))


@pytest.fixture(scope="module")
def small() -> list[figure16.Trial]:
    return run_experiment(LINES, trials=20, workers=1)


def test_trials_are_deterministic_across_worker_counts(small: list[figure16.Trial]) -> None:
    assert run_experiment(LINES, trials=20, workers=2, chunk=7) == small
    # And one trial alone reproduces its result from (line, index).
    assert run_trial(150, 200, 13) == small[13]


def test_downtimes_are_plausible(small: list[figure16.Trial]) -> None:
    assert [(r.timeouts, r.trial) for r in small] == [(f"{lo}-{hi}", i) for lo, hi in LINES for i in range(20)]
    for r in small:
        lo, hi = (int(x) * 1000 for x in r.timeouts.split("-"))
        assert r.downtime_us is not None, r
        assert 0 <= r.crash_us < lo // 2
        # Nobody can time out before the minimum timeout after the last heartbeat (sent at t=0, received at
        # least 4 ms later); the crash came within the heartbeat interval (lo/2) after it.
        assert r.downtime_us > lo - lo // 2
        assert r.downtime_us < 50 * hi
        # Only servers 2 and 3 have the longest log: only they can win.
        assert r.leader in (2, 3)
        assert r.term >= 2
    assert len({r.downtime_us for r in small}) > 30  # the trials differ


def test_summary_matches_trials(small: list[figure16.Trial]) -> None:
    summaries = {s.timeouts: s for s in summarize(small)}
    assert set(summaries) == {"150-200", "12-24"}
    for name, s in summaries.items():
        values = sorted(r.downtime_us / 1000 for r in small if r.timeouts == name)
        assert s.trials == 20 and s.capped == 0
        assert s.min_ms == values[0] and s.max_ms == values[-1]
        assert s.min_ms <= s.median_ms <= s.p90_ms <= s.p99_ms <= s.max_ms
        assert s.mean_ms == pytest.approx(sum(values) / 20)


def test_capped_trials_are_reported() -> None:
    # 150-150 has no randomness: with a 1 ms cap no trial can finish, and each says so.
    r = run_trial(150, 150, 0, cap_ms=1)
    assert r.downtime_us is None and r.leader is None
    s = summarize([r])[0]
    assert s.capped == 1 and s.max_ms == float("inf")


@pytest.mark.parametrize("testbed", tuple(figure16.TESTBEDS))
def test_every_testbed_elects_one_of_the_servers_that_can_win(testbed: str) -> None:
    for i in range(2):
        r = run_trial(150, 300, i, broadcast=testbed)
        assert r.downtime_us is not None and 75_000 < r.downtime_us < 3_000_000, r
        assert r.leader in (2, 3) and r.term >= 2


def test_setup_leaves_two_servers_unable_to_win() -> None:
    longest = max(LOG_LENGTHS.values())
    survivors = [n for n in LOG_LENGTHS if n != figure16.LEADER]
    assert sorted(n for n in survivors if LOG_LENGTHS[n] == longest) == [2, 3]


def test_command_writes_the_files(tmp_path: Path) -> None:
    code = "import sys, sim.cli as c; sys.exit(c.main(sys.argv[1:]))"
    args = ["experiment", "figure16", "--trials", "10", "--lines", "150-155,25-50", "--out", str(tmp_path)]
    r = subprocess.run(
        [sys.executable, "-c", code, *args, "--workers", "1"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "150-155" in r.stdout and "median" in r.stdout
    with open(tmp_path / "figure16_trials.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["timeouts", "trial", "downtime_ms"]
    assert [(a, int(b)) for a, b, _ in rows[1:]] == [(t, i) for t in ("150-155", "25-50") for i in range(10)]
    assert all(float(c) > 0 for _, _, c in rows[1:])
    with open(tmp_path / "figure16_summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [s["timeouts"] for s in summary] == ["150-155", "25-50"]
    assert (tmp_path / "figure16.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["experiment", "figure17"], "unknown experiment 'figure17'"),
        (["experiment", "figure16", "--trials", "0"], "--trials: expected a positive number"),
        (["experiment", "figure16", "--lines", "150-abc"], "--lines: expected MIN-MAX"),
        (["experiment", "figure16", "--broadcast", "fast"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line(args: list[str], needle: str) -> None:
    code = "import sys, sim.cli as c; sys.exit(c.main(sys.argv[1:]))"
    r = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)}, timeout=60
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


# ------------------------------------------------------------------------------------------- committed results

PLOTS = ROOT / "plots"
VARIANTS = figure16.PLOTTED
SLICE = 3  # trials rerun per line and variant: about 90 trials, a few seconds


def _committed_rows(broadcast: str) -> list[tuple[str, ...]]:
    with open(PLOTS / f"{figure16.file_stem(broadcast)}_trials.csv", newline="", encoding="utf-8") as f:
        rows = [tuple(row) for row in csv.reader(f)]
    assert rows[0] == figure16.TRIALS_HEADER
    return rows[1:]


def _slice(broadcast: str, line: tuple[int, int]) -> list[int]:
    """The trial indexes of ``line`` rerun from the committed file: a fixed sample, the same on every machine."""
    n = figure16.trials_for(line, 1000)
    return sorted(stream(0, f"test/figure16-slice/{broadcast}/{label(line)}").sample(range(n), SLICE))


@pytest.mark.parametrize("line", figure16.LINES, ids=label)
@pytest.mark.parametrize("broadcast", VARIANTS)
def test_committed_trials_reproduce(broadcast: str, line: tuple[int, int]) -> None:
    # plots/ holds what `raftsim experiment figure16 --out plots/ [--broadcast B]` wrote: a change to the simulator
    # that changes any trial's result must come with regenerated files (`make plots`) and updated numbers in
    # README.md and plots/README.md.
    committed = {(row[0], int(row[1])): row for row in _committed_rows(broadcast)}
    assert sum(1 for name, _ in committed if name == label(line)) == figure16.trials_for(line, 1000)
    for i in _slice(broadcast, line):
        rerun = trial_row(run_trial(*line, i, broadcast=broadcast))
        assert rerun == committed[(label(line), i)], (
            f"plots/ is stale (regenerate: make plots): rerun {rerun}, committed {committed[(label(line), i)]}"
        )


def _parse_trial(row: tuple[str, ...]) -> figure16.Trial:
    """Enough of a Trial for ``summarize``: its line, index and downtime (exact: whole microseconds)."""
    downtime = None if row[2] == "" else round(float(row[2]) * 1000)
    return figure16.Trial(row[0], int(row[1]), 0, 0, downtime, None, 0, 0)


@pytest.mark.parametrize("broadcast", VARIANTS)
def test_committed_summaries_are_those_of_the_committed_trials(broadcast: str, tmp_path: Path) -> None:
    trials = [_parse_trial(row) for row in _committed_rows(broadcast)]
    assert [(r.timeouts, r.trial) for r in trials] == [
        (label(line), i) for line in figure16.LINES for i in range(figure16.trials_for(line, 1000))
    ]
    write_summary_csv(summarize(trials), tmp_path / "summary.csv")
    stem = figure16.file_stem(broadcast)
    assert (tmp_path / "summary.csv").read_text() == (PLOTS / f"{stem}_summary.csv").read_text()
    assert (PLOTS / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------------------- --out


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from sim.cli import main

    code = main(["experiment", "figure16", "--trials", "2", "--lines", "12-24", "--workers", "1", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_out_is_a_fresh_folder_not_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plots").mkdir()
    code, out, err = _cli(["--no-plot"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "figure16-results").iterdir()) == [
        "figure16_summary.csv",
        "figure16_trials.csv",
    ]
    assert not any((tmp_path / "plots").iterdir())
    assert "figure16-results/figure16_trials.csv" in out


def test_out_is_checked_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "results.csv"
    a_file.write_text("")
    cases = [
        (str(a_file), f"--out: expected a folder, got the file {a_file}"),
        (str(a_file / "sub"), f"but {a_file} is a file"),
        (str(tmp_path / "missing" / "sub"), f"but {tmp_path / 'missing'}/ does not exist"),
    ]
    for value, needle in cases:
        code, out, err = _cli(["--out", value], capsys)
        assert code == 2 and out == "", (value, out)
        assert len(err.strip().splitlines()) == 1 and needle in err and "trials over" not in err, err
    assert not (tmp_path / "missing").exists()  # a missing parent is refused, not created
    # An unwritable folder (root writes anywhere, so the permission check is made to answer no).
    import sim.outputs

    monkeypatch.setattr(sim.outputs.os, "access", lambda *_: False)
    code, _, err = _cli(["--out", str(tmp_path)], capsys)
    assert code == 2 and "is not writable" in err and len(err.strip().splitlines()) == 1, err
