"""``raftsim bench`` runs and reports every figure (a small configuration: the figures' values are not asserted
beyond sanity, since timing is the machine's; the benchmark command is where they are read)."""

from __future__ import annotations

import gc

import pytest

from sim.cli import main
from sim.experiments import bench


def test_measure_reports_every_figure() -> None:
    collecting = gc.isenabled()
    r = bench.measure(repeat=1, duration_us=1_000_000, slices=2)
    assert gc.isenabled() == collecting  # restored
    assert set(r) >= {
        "bare_events_per_s",
        "sim_events_per_s",
        "messages_per_s",
        "ratio",
        "checker_overhead",
        "scaling_10x",
    }
    assert r["bare_events_per_s"] > 0 and r["messages_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["messages_per_s"] / r["bare_events_per_s"], rel=0.01)
    assert 0.5 < r["checker_overhead"] < 3
    assert 5 < r["scaling_10x"] < 20
    d = r["detail"]
    assert d["messages_delivered"] > 1000 and d["entries_committed"] > 100 and d["trace_records"] > d["events"]


@pytest.mark.parametrize("flag", [["--repeat", "0"], ["--repeat", "x"], ["--bug-budget", "-1"]])
def test_bad_flags_are_one_line_and_exit_2(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", *flag])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "expected a positive integer" in err


@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_a_bad_snapshot_every_is_one_line_and_exit_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "--snapshot-every", value])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--snapshot-every: expected a non-negative integer" in err


def test_the_speed_part_with_snapshots_takes_them_as_it_goes() -> None:
    collecting = gc.isenabled()
    gc.disable()  # as measure() runs its rounds
    try:
        r = bench.measure_round(duration_us=500_000, slices=2, snapshot_every=50)
    finally:
        if collecting:
            gc.enable()
    assert r["snapshots_taken"] >= 3 * (r["committed"] // 50) and r["ratio"] > 0 and 0.5 < r["checker_overhead"] < 3


def test_bench_memory_with_snapshots_reports_what_the_logs_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.experiments.cli import _print_memory

    rows = bench.measure_memory(minutes=2, rate=5, snapshot_every=50)
    loaded = rows[0]
    assert loaded["entries"] > 200 and loaded["held"] < 60 and loaded["snapshots_taken"] >= 5 * 4
    assert 0 < loaded["history_mb"] < loaded["heap_mb"]
    _print_memory(rows, 5, 50)
    out = capsys.readouterr().out
    assert "a snapshot every 50 entries applied" in out and "entries held" in out and len(out.splitlines()) == 4
