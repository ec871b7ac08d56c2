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
