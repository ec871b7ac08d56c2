"""Scenario files: parsing, validation (one-line errors, exit code 2) and the to_toml round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import Expectation, ScenarioError, load, loads, to_toml
from sim.scenario.library import library_dir
from sim.units import format_time
from sim.world.faults import Fault
from sim.world.network import Exponential, Fixed, LogNormal, Uniform

SCENARIO_DIR = library_dir()

BAD_DIR = Path(__file__).parent / "data" / "scenarios_bad"
BAD_FILES = sorted(BAD_DIR.glob("*.toml"))
LIBRARY = sorted(SCENARIO_DIR.glob("*.toml"))


def run_cli(argv: list[str]) -> int:
    """``raftsim <argv>`` in-process: the real entry point, exit code returned."""
    return main(argv)


def test_enough_bad_files() -> None:
    assert len(BAD_FILES) >= 15


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_file_is_one_line_exit_2(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    assert run_cli(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert expected in lines[0], f"{lines[0]!r} lacks {expected!r}"
    assert "Traceback" not in err


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert run_cli(["run", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "no such file" in err
    assert run_cli(["run", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    # A folder is a suite of scenario files (subfolders included): an empty one is refused as such.
    assert err.count("\n") == 1 and str(tmp_path) in err and "a folder of none" in err


def test_non_utf8_file(tmp_path: Path) -> None:
    p = tmp_path / "latin1.toml"
    p.write_bytes(b'duration = "1s"\nname = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match=r"latin1.toml:2: expected UTF-8"):
        load(p)


def test_bad_file_before_good_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Every file is validated first: a bad second file means no run at all."""
    assert run_cli(["run", str(LIBRARY[0]), str(BAD_FILES[0])]) == 2
    out, _ = capsys.readouterr()
    assert out == ""


# ---------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "us"),
    [
        ("150", 150_000),
        ("2.5", 2_500),
        ('"150ms"', 150_000),
        ('"2.5s"', 2_500_000),
        ('"500us"', 500),
        ('"1min"', 60_000_000),
        ('"0.5 ms"', 500),
    ],
)
def test_time_values(text: str, us: int) -> None:
    s = loads(f"duration = {text}")
    assert s.duration == us


def test_defaults() -> None:
    s = loads('duration = "1s"', "x/my-file.toml")
    assert s.name == "my-file"
    assert s.seed == 0
    assert s.cluster.nodes == 5
    assert s.cluster.raft.election_timeout_min == 150_000
    assert s.network.delay == Uniform(5_000, 15_000)
    assert not s.network.fifo
    assert s.workload.clients == 0
    assert s.faults == () and s.expectations == ()


def test_event_vocabulary_maps_to_faults() -> None:
    s = loads(
        """
        duration = "10s"
        [network]
        delay = { dist = "lognormal", median = "4ms", sigma = 0.5 }
        [[network.links]]
        from = 1
        to = 2
        delay = { dist = "fixed", value = 30 }
        [[events]]
        at = "1s"
        do = "crash"
        node = [1, 3]
        restart_after = "200ms"
        [[events]]
        at = "2s"
        do = "partition"
        groups = [[1, 2], [3, 4, 5]]
        heal_after = "1s"
        [[events]]
        at = "2.5s"
        do = "cut"
        from = 4
        to = 5
        repair_after = "100ms"
        [[events]]
        at = "4s"
        do = "delay"
        delay = { dist = "exponential", mean = "3ms", min = "1ms" }
        [[events]]
        at = "5s"
        do = "drift"
        node = "leader"
        rate = 1.5
        [[events]]
        at = "6s"
        do = "crash"
        node = "random"
        every = "1s"
        count = 3
        restart_after = "500ms"
        """
    )
    assert s.network.delay == LogNormal(4_000, 0.5, 0)
    assert s.faults == (
        Fault(0, "delay", src=1, dst=2, delay=Fixed(30_000)),
        Fault(1_000_000, "crash", node=(1, 3)),
        Fault(1_200_000, "restart", node=(1, 3)),
        Fault(2_000_000, "partition", groups=((1, 2), (3, 4, 5))),
        Fault(2_500_000, "cut", src=4, dst=5),
        Fault(2_600_000, "repair", src=4, dst=5),
        Fault(3_000_000, "heal"),
        Fault(4_000_000, "delay", delay=Exponential(3_000, 1_000)),
        Fault(5_000_000, "drift", node="leader", value=1.5),
        Fault(6_000_000, "crash", node="random"),
        Fault(6_500_000, "restart", node="all-crashed"),
        Fault(7_000_000, "crash", node="random"),
        Fault(7_500_000, "restart", node="all-crashed"),
        Fault(8_000_000, "crash", node="random"),
        Fault(8_500_000, "restart", node="all-crashed"),
    )


def test_membership_events_and_the_servers_they_add() -> None:
    s = loads(
        """
        duration = "5s"
        [cluster]
        nodes = 3
        [[events]]
        at = "1s"
        do = "add_server"
        node = 6
        [[events]]
        at = "2s"
        do = "crash"
        node = 6
        restart_after = "100ms"
        [[events]]
        at = "3s"
        do = "remove_server"
        node = "leader"
        [[events]]
        at = "3s"
        do = "remove_server"
        node = [2, 6]
        [[events]]
        at = "4s"
        do = "add_server"
        node = 2
        [[expect]]
        members_at_end = [1, 3, 2]
        [[expect]]
        members_at_end = 3
        """
    )
    assert s.faults == (
        Fault(1_000_000, "add_server", node=6),
        Fault(2_000_000, "crash", node=6),
        Fault(2_100_000, "restart", node=6),
        Fault(3_000_000, "remove_server", node="leader"),
        Fault(3_000_000, "remove_server", node=(2, 6)),
        Fault(4_000_000, "add_server", node=2),  # added back: a known server
    )
    assert s.expectations == (Expectation("members_at_end", (1, 3, 2)), Expectation("members_at_end", 3))
    assert loads(to_toml(s)) == s


def test_expectations_parse() -> None:
    s = loads(
        """
        duration = "5s"
        [[expect]]
        leader_within = "1s"
        after = "2s"
        [[expect]]
        no_commit = ["1s", "2s"]
        [[expect]]
        logs_converge_by = "5s"
        lag = 400
        [[expect]]
        violation = "ElectionSafety"
        [[expect]]
        clients_complete = true
        """
    )
    assert s.expectations == (
        Expectation("leader_within", 1_000_000, start=2_000_000),
        Expectation("no_commit", None, start=1_000_000, end=2_000_000),
        Expectation("logs_converge_by", 5_000_000, lag=400_000),
        Expectation("violation", "ElectionSafety"),
        Expectation("clients_complete", True),
    )


def test_format_time() -> None:
    assert format_time(150_000) == "150ms"
    assert format_time(1_500) == "1500us"


# ------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_round_trip_library(path: Path) -> None:
    s = load(path)
    again = loads(to_toml(s), str(path))
    assert again == s
    assert loads(to_toml(again)) == s


def test_round_trip_odd_values() -> None:
    s = loads(
        """
        name = "quotes \\" and unicode é"
        description = "multi\\nline"
        duration = "1234567us"
        [cluster]
        bug = "volatile-vote"
        disk_latency = "1.5ms"
        [network]
        delay = { dist = "exponential", mean = "7ms" }
        drop = 0.00001
        fifo = true
        [workload]
        clients = 2
        rate = 12.5
        stop = "1s"
        ops = ["get"]
        [[events]]
        at = 0
        do = "delay"
        from = 1
        to = 2
        delay = { dist = "lognormal", median = 3, sigma = 1.25 }
        [[expect]]
        latency_p99_below = "1s"
        """
    )
    assert loads(to_toml(s)) == s
