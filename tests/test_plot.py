"""The election timeline: drawn from real traces, and showing what the trace says happened."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.viz.cli as viz_cli
import sim.viz.timeline as timeline
from sim.cli import main as raftsim
from sim.scenario.parse import load
from sim.scenario.run import run_scenario
from sim.trace import read_jsonl
from sim.viz.timeline import MAX_VOTES_DRAWN, Occupancy, overlaps, place_label, plot_timeline, read_trace
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


def _assert_clear(drawn: dict[str, Any]) -> None:
    """No two labels overlap, and no label covers a marker or the violation line."""
    labels = drawn["labels"]
    for i, (_, text, box) in enumerate(labels):
        for _, other, box2 in labels[i + 1 :]:
            assert not overlaps(box, box2), f"{text!r} {box} overlaps {other!r} {box2}"
        for m in drawn["marks"]:
            assert not overlaps(box, m), f"{text!r} {box} covers the mark {m}"


def _led(trace: Any) -> set[tuple[int, int]]:
    """Each (node, term) in which a node became leader, from a live trace."""
    return {(node, d["term"]) for _, kind, node, d in trace.records if kind == "state" and d["role"] == "leader"}


def _assert_leaders_labelled(drawn: dict[str, Any], led: set[tuple[int, int]]) -> None:
    """Each leader band carries its term: one leader label "T<term>" per (node, term) in which a node led."""
    assert drawn["leader_labels"] == drawn["leader_bands"] == len(led)
    assert Counter(text for kind, text, _ in drawn["labels"] if kind == "leader") == Counter(f"T{t}" for _, t in led)


def _scenario(name: str) -> Any:
    return run_scenario(load(ROOT / "scenarios" / f"{name}.toml"))


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_plot_shows_what_the_trace_says(faulty: tuple[Simulation, Path], tmp_path: Path, ext: str) -> None:
    sim, path = faulty
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
    assert drawn["cuts"] == 0 and drawn["cut_rows"] == []
    assert drawn["votes"] == sum(1 for d in records if d["ev"] == "vote") > 0
    assert not drawn["summarised"]
    _assert_clear(drawn)
    _assert_leaders_labelled(drawn, _led(sim.trace))


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
    # Thirty leaders, each with its term; and nothing written over anything else, zoomed in or not.
    _assert_leaders_labelled(drawn, _led(sim.trace))
    _assert_clear(drawn)
    _assert_clear(zoomed)
    assert zoomed["vote_labels"] == zoomed["votes"]


# ------------------------------------------------------------------------------------------ the layout


@st.composite
def _label_requests(draw: st.DrawFn) -> list[list[tuple[float, float, float, float]]]:
    """Labels, each with a few candidate boxes on a small grid (so that many collide)."""
    box = st.builds(
        lambda x, y, w, h: (float(x), float(y), float(x + w), float(y + h)),
        st.integers(-5, 60),
        st.integers(-5, 40),
        st.integers(1, 20),
        st.integers(1, 10),
    )
    return draw(st.lists(st.lists(box, min_size=1, max_size=5), max_size=25))


@settings(derandomize=True, deadline=None, max_examples=150)
@given(_label_requests(), st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=5))
def test_place_label_never_overlaps(requests: list[list[tuple]], marks: list[tuple[int, int]]) -> None:
    bounds = (0.0, 0.0, 60.0, 40.0)
    taken = Occupancy()
    mark_boxes = [(float(x), float(y), x + 3.0, y + 3.0) for x, y in marks]
    for m in mark_boxes:
        taken.add(m)
    placed = []
    for candidates in requests:
        box = place_label(taken, candidates, bounds)
        fitting = [c for c in candidates if c[0] >= 0 and c[2] <= 60 and c[1] >= 0 and c[3] <= 40]
        if box is None:
            # Left out only when every candidate inside the bounds was taken.
            assert all(any(overlaps(c, o) for o in placed + mark_boxes) for c in fitting)
        else:
            assert box in fitting
            assert all(not overlaps(box, o) for o in placed + mark_boxes)
            # The first free candidate is the one chosen.
            assert box == next(c for c in fitting if not any(overlaps(c, o) for o in placed + mark_boxes))
            placed.append(box)


def test_overlaps_is_strict() -> None:
    assert overlaps((0, 0, 10, 10), (5, 5, 15, 15))
    assert not overlaps((0, 0, 10, 10), (10, 0, 20, 10))  # touching edges leave the text apart
    assert not overlaps((0, 0, 10, 10), (0, 10, 10, 20))
    assert overlaps((0, 0, 10, 10), (2, 2, 3, 3))


def test_x_axis_runs_to_the_end_of_the_run(faulty: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, path = faulty
    records = read_jsonl(path)
    last = records[-1]["t"]
    assert sim.now == 8_000_000 > last  # the run went on after its last record
    out = tmp_path / "t.png"
    assert plot_timeline(sim.trace, out, run_end_us=sim.now)["x_axis_ms"] == (0.0, 8000.0)
    # A trace that says where the run ended: its end record, else the duration in its header.
    end = {"t": 8_000_000, "ev": "end", "node": None, "events": 1234, "verdict": "ok"}
    assert plot_timeline([*records, end], out)["x_axis_ms"] == (0.0, 8000.0)
    header = {"t": 0, "ev": "header", "node": None, "format": 1, "seed": 1, "config": {"duration_us": 8_000_000}}
    assert plot_timeline([header, *records], out)["x_axis_ms"] == (0.0, 8000.0)
    # Nothing to go by: the last record.
    assert plot_timeline(records, out)["x_axis_ms"] == (0.0, last / 1000)
    # A window is a window.
    assert plot_timeline(sim.trace, out, run_end_us=sim.now, start_ms=100, end_ms=900)["x_axis_ms"] == (100, 900)


def test_scenario_plot_runs_to_the_end_of_the_run(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    drawn: list[dict[str, Any]] = []
    real = timeline.plot_timeline

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        drawn.append(real(*args, **kwargs))
        return drawn[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timeline, "plot_timeline", spy)
        assert raftsim(["run", str(ROOT / "scenarios" / "leader-crash.toml"), "--plot", str(out), "--quiet"]) == 0
    assert drawn[0]["x_axis_ms"] == (0.0, 5000.0)  # the scenario's duration, though nothing happens at 5 s
    assert drawn[0]["title"] == "leader crash under load (seed 7)"


def test_header_titles_the_plot(faulty: tuple[Simulation, Path], tmp_path: Path) -> None:
    _, path = faulty
    header = {
        "t": 0,
        "ev": "header",
        "node": None,
        "format": 1,
        "raftsim": "0.0",
        "scenario": "isolated leader",
        "source": "scenarios/x.toml",
        "seed": 1,
        "config": {"cluster": {}, "network": {}, "workload": {}, "duration_us": 8_000_000},
    }
    with_header = tmp_path / "header.jsonl"
    with_header.write_text(json.dumps(header) + "\n" + path.read_text())
    drawn: list[dict[str, Any]] = []
    real = viz_cli.plot_timeline

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        drawn.append(real(*args, **kwargs))
        return drawn[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(viz_cli, "plot_timeline", spy)
        assert raftsim(["plot", str(with_header), "-o", str(tmp_path / "a.png")]) == 0
        assert raftsim(["plot", str(with_header), "-o", str(tmp_path / "b.png"), "--title", "mine"]) == 0
        assert raftsim(["plot", str(path), "-o", str(tmp_path / "c.png")]) == 0
    assert drawn[0]["title"] == "isolated leader (seed 1)"
    assert drawn[0]["x_axis_ms"] == (0.0, 8000.0)
    assert drawn[1]["title"] == "mine"
    assert drawn[2]["title"].startswith("raftsim election timeline: 5 servers")


def test_labels_stay_clear_at_a_violation(tmp_path: Path) -> None:
    result = _scenario("bug-vote-without-log-check")
    assert result.violation is not None
    drawn = plot_timeline(result.sim.trace, tmp_path / "bug.png", run_end_us=result.sim.now)
    # The run stopped at the violation, and so does the x axis.
    assert drawn["x_axis_ms"] == (0.0, result.violation.time / 1000)
    assert [text for kind, text, _ in drawn["labels"] if kind == "violation"] == ["violation: LeaderCompleteness"]
    _assert_clear(drawn)
    # The leader elected at the very moment of the violation is a band of no width, and still has its term.
    _assert_leaders_labelled(drawn, _led(result.sim.trace))
    assert ("leader", "T5") in [(kind, text) for kind, text, _ in drawn["labels"]]


def test_one_way_cut_is_drawn_on_its_two_rows(tmp_path: Path) -> None:
    sim = _run(
        faults=[Fault(at=1_000_000, do="cut", src=1, dst=2), Fault(at=2_000_000, do="repair", src=1, dst=2)],
        until_us=3_000_000,
    )
    drawn = plot_timeline(sim.trace, tmp_path / "cut.png", run_end_us=sim.now)
    assert drawn["cuts"] == 1 and drawn["partitions"] == 0
    assert drawn["cut_rows"] == [1, 2]
    cut_labels = [(text, box) for kind, text, box in drawn["labels"] if kind == "cut"]
    assert [text for text, _ in cut_labels] == ["cut 1\u21922", "cut 1\u21922"]
    rows_of_labels = sorted(
        node
        for _, box in cut_labels
        for node, (bottom, top) in drawn["rows"].items()
        if bottom <= (box[1] + box[3]) / 2 <= top
    )
    assert rows_of_labels == [1, 2]
    _assert_clear(drawn)


def test_one_way_partition_scenario(tmp_path: Path) -> None:
    # Everyone stops reaching server 3 (and later 1 stops reaching 2): every row is one end of a cut.
    result = _scenario("one-way-partition")
    drawn = plot_timeline(result.sim.trace, tmp_path / "oneway.png", run_end_us=result.sim.now)
    assert drawn["cuts"] == 5 and drawn["partitions"] == 0
    assert drawn["cut_rows"] == [1, 2, 3, 4, 5]
    texts = [text for kind, text, _ in drawn["labels"] if kind == "cut"]
    assert "cut 1,2,4,5\u21923" in texts and texts.count("cut 1\u21922") == 2
    _assert_clear(drawn)
    _assert_leaders_labelled(drawn, _led(result.sim.trace))


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


def test_fault_labels_stack_above_the_rows(tmp_path: Path) -> None:
    faults = [
        Fault(at=1_000_000, do="drop", value=0.1),
        Fault(at=1_000_000, do="duplicate", value=0.1),
        Fault(at=1_020_000, do="partition", groups=((1, 2),)),
        Fault(at=1_040_000, do="heal"),
        Fault(at=1_040_000, do="drop", value=0.0),
    ]
    sim = _run(faults=faults, until_us=2_000_000)
    drawn = plot_timeline(sim.trace, tmp_path / "faults.png", run_end_us=sim.now)
    strip = {text: box for kind, text, box in drawn["labels"] if kind == "fault"}
    # What happens at one instant is one label; three labels 20 ms apart take three lanes, each starting at
    # its time.
    assert sorted(strip) == ["drop 0.0", "drop 0.1; duplicate 0.1", "partition {1,2} | {3,4,5}"]
    assert drawn["strip_labels_omitted"] == 0
    assert len({box[1] for box in strip.values()}) == 3
    assert strip["drop 0.1; duplicate 0.1"][0] < strip["partition {1,2} | {3,4,5}"][0] < strip["drop 0.0"][0]
    top_of_rows = max(top for _, top in drawn["rows"].values())
    assert all(box[1] >= top_of_rows for box in strip.values())  # above the rows, not on them
    _assert_clear(drawn)
