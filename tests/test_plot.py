"""The election timeline: drawn from real traces, and showing what the trace says happened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.trace import read_jsonl
from sim.viz.timeline import MAX_VOTES_DRAWN, plot_timeline, read_trace
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault, schedule

ROOT = Path(__file__).resolve().parents[1]


def _run(seed: int = 1, until_us: int = 8_000_000, faults: list[Fault] | None = None) -> Simulation:
    sim = Simulation(ClusterConfig(nodes=5), NetworkConfig(), WorkloadConfig(clients=3, rate=20), seed=seed)
    schedule(
        sim,
        faults
        if faults is not None
        else [
            Fault(at=1_000_000, do="crash", node="leader"),
            Fault(at=2_500_000, do="restart", node="all-crashed"),
            Fault(at=3_500_000, do="isolate", node="leader"),
            Fault(at=5_000_000, do="heal"),
            Fault(at=6_000_000, do="crash", node="follower"),
            Fault(at=6_500_000, do="restart", node="all-crashed"),
        ],
    )
    assert sim.run(until_us) is None
    return sim


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Path]:
    sim = _run()
    path = tmp_path_factory.mktemp("trace") / "trace.jsonl"
    sim.trace.write_jsonl(path)
    return sim, path


def _leader_terms(records: list[dict]) -> int:
    """Leader bands the trace implies: each (node, term) in which a node became leader."""
    return len({(d["node"], d["term"]) for d in records if d["ev"] == "state" and d["role"] == "leader"})


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_plot_shows_what_the_trace_says(faulty: tuple[Simulation, Path], tmp_path: Path, ext: str) -> None:
    _, path = faulty
    records = read_jsonl(path)
    out = tmp_path / f"timeline.{ext}"
    drawn = plot_timeline(records, out)
    assert out.stat().st_size > 5_000
    head = out.read_bytes()[:64]
    assert head.startswith(b"\x89PNG") if ext == "png" else b"<svg" in out.read_bytes()[:2000] or b"<?xml" in head
    assert drawn["nodes"] == 5
    assert drawn["leader_bands"] == _leader_terms(records) >= 2
    assert drawn["crash_markers"] == sum(1 for d in records if d["ev"] == "crash") == 2
    assert drawn["restart_markers"] == 2
    assert drawn["partitions"] == 1  # isolate at 3.5 s until heal at 5 s
    assert drawn["votes"] == sum(1 for d in records if d["ev"] == "vote") > 0
    assert not drawn["summarised"]


def test_live_trace_and_jsonl_draw_the_same(faulty: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, path = faulty
    a = plot_timeline(sim.trace, tmp_path / "a.png")
    b = plot_timeline(read_trace(path), tmp_path / "b.png")
    assert a == b


def test_zoom_limits_what_is_drawn(faulty: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, _ = faulty
    crashes = [t for t, kind, _, _ in sim.trace.records if kind == "crash"]
    first = crashes[0] / 1000
    drawn = plot_timeline(sim.trace, tmp_path / "zoom.png", start_ms=first - 50, end_ms=first + 50)
    assert drawn["start_ms"] == first - 50 and drawn["end_ms"] == first + 50
    assert drawn["crash_markers"] == 1 and drawn["restart_markers"] == 0
    assert drawn["partitions"] == 0
    # Zoomed on the whole partition: the isolation is drawn, the crashes are not.
    drawn = plot_timeline(sim.trace, tmp_path / "zoom2.png", start_ms=3_400, end_ms=5_200)
    assert drawn["partitions"] == 1 and drawn["crash_markers"] == 0
    with pytest.raises(ValueError, match="empty time window"):
        plot_timeline(sim.trace, tmp_path / "bad.png", start_ms=500, end_ms=400)


def test_ten_minute_trace_is_summarised(tmp_path: Path) -> None:
    # Ten simulated minutes with a crash of the leader every 20 s: hundreds of role changes and commits.
    faults = []
    for k in range(30):
        faults.append(Fault(at=10_000_000 + 20_000_000 * k, do="crash", node="leader"))
        faults.append(Fault(at=12_000_000 + 20_000_000 * k, do="restart", node="all-crashed"))
    sim = Simulation(
        ClusterConfig(nodes=7), NetworkConfig(), WorkloadConfig(clients=2, rate=8, timeout=300_000), seed=3
    )
    schedule(sim, faults)
    assert sim.run(600_000_000) is None
    drawn = plot_timeline(sim.trace, tmp_path / "long.png")
    raw = drawn["events_in_view"]
    assert drawn["nodes"] == 7
    assert drawn["crash_markers"] == sum(1 for r in sim.trace.records if r[1] == "crash") == 30
    assert raw > 3_000
    assert drawn["commit_points"] + drawn["role_bands"] + drawn["votes"] < raw / 2
    # Votes are drawn only when few enough to tell apart; otherwise their number is given in the legend.
    assert drawn["votes_in_view"] > 0
    assert drawn["votes"] == (0 if drawn["votes_in_view"] > MAX_VOTES_DRAWN else drawn["votes_in_view"])
    # Zooming into one election shows its votes again.
    t = next(r[0] for r in sim.trace.records if r[1] == "vote" and r[0] > 300_000_000) / 1000
    zoomed = plot_timeline(sim.trace, tmp_path / "zoom.png", start_ms=t - 300, end_ms=t + 300)
    assert zoomed["votes"] >= 1 and not zoomed["summarised"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys, sim.cli as c; sys.exit(c.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
        timeout=120,
    )


def test_cli_plot(faulty: tuple[Simulation, Path], tmp_path: Path) -> None:
    _, path = faulty
    r = _cli("plot", str(path), "-o", str(tmp_path / "t.svg"), "--from", "500", "--to", "3000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "t.svg").exists() and "1 crashes" in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.jsonl"], "cannot read trace"),
        (["garbage.jsonl"], "garbage.jsonl:1: expected a JSON trace record"),
        (["TRACE", "-o", "x.pdf"], "expected a file name ending in .png or .svg"),
        (["TRACE", "--from", "300", "--to", "100"], "--to: expected a time after --from"),
        (["TRACE", "--from", "soon"], "--from: invalid float value"),
    ],
)
def test_cli_plot_bad_input(faulty: tuple[Simulation, Path], tmp_path: Path, args: list[str], needle: str) -> None:
    _, path = faulty
    (tmp_path / "garbage.jsonl").write_text("this is not json\n")
    args = [str(path) if a == "TRACE" else a for a in args]
    r = _cli("plot", *args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
