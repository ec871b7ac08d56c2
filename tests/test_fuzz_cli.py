"""The fuzzer's command line: Ctrl-C (for real, on a subprocess, with and without a terminal), resuming where an
interrupted campaign stopped, --maxfail/-x, --list-bugs, replay --schedule as a scenario file, the one seed rule of
every flag and of scenario files, the unit h, and --out checked before the campaign."""

from __future__ import annotations

import multiprocessing
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import sigint_as_a_terminal_sends_it

from sim.cli import main
from sim.fuzz import Options, case_for_seed, run_campaign
from sim.fuzz.cli import _Progress
from sim.nodes.bugs import BUGS, describe
from sim.rng import MAX_SEED, SEED_RULE, check_seed
from sim.scenario import loads
from sim.units import format_time, parse_wall_time

# A bug that fails often, early and not on every seed: with seven servers, seeds 2 and 6 of the first eight fail.
BUG = "follower-read"
NODES = "7"
BUG_ARGS = ["--nodes", NODES, "--bug", BUG]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = int(e.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _fail_seeds(text: str) -> list[int]:
    return [int(s) for s in re.findall(r"FAIL seed (\d+):", text)]


# ------------------------------------------------------------------------------------------------ Ctrl-C, for real


def _read(fd: int, until: str | None, timeout: float) -> str:
    """What the terminal shows, read from its master side until ``until`` appears, the child closes it, or time
    runs out."""
    text = ""
    end = time.monotonic() + timeout
    while time.monotonic() < end and (until is None or until not in text):
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                break
            if not chunk:
                break
            text += chunk.decode(errors="replace")
    return text


def _interrupt(workers: int, out: Path, *, terminal: bool, group: bool, delay: float) -> tuple[int, str]:
    """Start ``raftsim fuzz --seeds 100000`` in a session of its own, let it run seeds, send SIGINT (to the whole
    process group, as a terminal's Ctrl-C does, or to the main process only, as ``kill -INT`` does), and return
    its exit code and everything it printed."""
    argv = [sys.executable, "-m", "sim.cli", "fuzz", "--seeds", "100000", "--workers", str(workers)]
    argv += [*BUG_ARGS, "--out", str(out)]
    master = None
    if terminal:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=sigint_as_a_terminal_sends_it,
        )
        os.close(slave)
    else:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=sigint_as_a_terminal_sends_it,
        )
    try:
        if master is not None:
            # The progress bar's first line: seeds are running (it can take long to come on a loaded machine).
            text = _read(master, "fuzz: ", 120.0)
            time.sleep(delay)
        else:
            time.sleep(delay)  # no progress bar without a terminal to say when seeds run: see _interrupt_running
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        if master is not None:
            # Drain the terminal while the report is written: a report longer than the terminal's buffer would
            # otherwise block its writer, and the test with it. Reading ends when every process has let go of the
            # terminal (a hang still shows, as the wait's timeout).
            text += _read(master, None, 60.0)
            rc = proc.wait(timeout=5)
        else:
            stdout, _ = proc.communicate(timeout=60)
            rc, text = proc.returncode, stdout.decode()
    finally:
        if proc.poll() is None:  # it hung: leave nothing behind, then fail below
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if master is not None:
            os.close(master)
    return rc, text


def _interrupt_running(workers: int, out: Path, *, group: bool, delay: float) -> tuple[int, str]:
    """``_interrupt`` without a terminal, once the campaign runs. Nothing shows when it starts (Python and the
    modules take a while to load), so a SIGINT that came too early, which ends the program before the campaign
    (the interpreter's own exit by SIGINT, or ``sim.cli``'s one line "interrupted"), is tried again later."""
    for _ in range(5):
        rc, text = _interrupt(workers, out, terminal=False, group=group, delay=delay)
        if rc != -signal.SIGINT and text.strip() != "interrupted":
            break
        delay += 1.0
    return rc, text


def _check_interrupt_report(rc: int, text: str, workers: int, out: Path) -> None:
    assert rc == 130, text
    assert "Traceback" not in text, text
    ran = int(re.search(r"interrupted: (\d+) seeds", text)[1])  # type: ignore[index]
    if ran:
        assert f"interrupted: {ran} seeds (0..{ran - 1}) run in" in text, text
    resume = (
        f"resume with: raftsim fuzz --start-seed {ran} --seeds {100000 - ran} --nodes 7 --bug {BUG} "
        f"--workers {workers} --out {out}"
    )
    assert resume in text, text
    # The failures so far: each below the resume seed, each with its replay command and a file written unshrunk.
    fails = _fail_seeds(text)
    assert all(s < ran for s in fails), (ran, fails)
    for s in fails:
        assert f"  replay:   raftsim replay {s} --nodes 7 --bug {BUG}" in text
    written = re.findall(r"scenario: (\S+) \(as generated; not shrunk: the campaign was interrupted\)", text)
    assert len(written) == len(fails) and all(Path(p).is_file() for p in written), text


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_on_a_terminal_ends_the_campaign_with_a_report(workers: int, tmp_path: Path) -> None:
    # A terminal's Ctrl-C signals the whole process group, workers included: the case that used to hang. Three
    # runs at different moments, as the hang came in about two of five.
    for run, delay in enumerate((0.0, 0.35, 0.7)):
        out = tmp_path / f"out{run}"
        rc, text = _interrupt(workers, out, terminal=True, group=True, delay=delay)
        _check_interrupt_report(rc, text, workers, out)
        # The progress bar is erased once, before the report starts, and not drawn again.
        bar, report = text.split("\r\x1b[K")
        assert "fuzz: " in bar and "fuzz: " not in report and "interrupted: " in report


@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_without_a_terminal_ends_the_campaign_with_a_report(workers: int, tmp_path: Path) -> None:
    for run, group in enumerate((False, True, False)):
        out = tmp_path / f"out{run}"
        rc, text = _interrupt_running(workers, out, group=group, delay=1.0 + 0.3 * run)
        _check_interrupt_report(rc, text, workers, out)
        assert "\x1b" not in text  # no progress bar on a pipe


class _CtrlCAfter:
    """A progress callback that presses Ctrl-C after ``n`` seeds have finished."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def __call__(self, _outcome: object) -> None:
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


@pytest.mark.parametrize("workers", [1, 3])
def test_an_interrupted_campaign_keeps_what_finished_and_leaves_no_process(workers: int) -> None:
    camp = run_campaign(range(100), Options(nodes=7, bug=BUG), workers=workers, progress=_CtrlCAfter(7))
    assert camp.interrupted
    assert [o.seed for o in camp.outcomes] == list(range(7))
    assert camp.outcomes == run_campaign(range(7), Options(nodes=7, bug=BUG)).outcomes
    assert not multiprocessing.active_children()


def test_resuming_an_interrupted_campaign_runs_exactly_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["fuzz", "--seeds", "24", "--workers", "2", *BUG_ARGS, "--no-shrink", "--out", str(tmp_path)]
    rc, full, _ = _run(argv, capsys)
    assert rc == 1
    monkeypatch.setattr(_Progress, "__call__", _CtrlCAfter(9).__call__)
    rc, first, _ = _run(argv, capsys)
    assert rc == 130
    resume = re.search(r"^resume with: raftsim (.*)$", first, re.MULTILINE)[1]  # type: ignore[index]
    assert resume.startswith("fuzz --start-seed 9 --seeds 15 ")
    monkeypatch.undo()
    rc, rest, _ = _run(resume.split(), capsys)
    assert rc == 1
    assert _fail_seeds(first) + _fail_seeds(rest) == _fail_seeds(full)
    assert _fail_seeds(first) and _fail_seeds(rest)  # failures on both sides of the interruption
    assert "9 seeds (0..8)" in first and "15 seeds (9..23)" in rest


def test_ctrl_c_while_shrinking_writes_the_failures_unshrunk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.fuzz.cli.shrink", interrupted)
    rc, out, _ = _run(["fuzz", "--seeds", "16", "--workers", "1", *BUG_ARGS, "--out", str(tmp_path)], capsys)
    assert rc == 130
    assert _fail_seeds(out) == [2, 15]
    assert out.count("(as generated; not shrunk: shrinking was interrupted)") == 2
    assert len(list(tmp_path.glob("*.toml"))) == 2 == len(list(tmp_path.glob("*.edn")))  # scenario and history
    assert "resume with" not in out  # every seed ran


def test_progress_clear_erases_the_bar_on_a_terminal_only() -> None:
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    for tty, expected in ((True, "\r\x1b[K"), (False, "")):
        stream = Stream(tty)
        _Progress(10, stream).clear()
        assert stream.text == expected


# ------------------------------------------------------------------------------------------------ --maxfail and -x


@pytest.mark.parametrize("workers", ["1", "2"])
def test_maxfail_stops_at_that_many_failing_seeds(
    workers: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fuzz", "--seeds", "30", "--workers", workers, *BUG_ARGS, "--no-shrink", "--out", str(tmp_path)]
    rc, out, _ = _run([*argv, "--maxfail", "2"], capsys)
    assert rc == 1
    assert _fail_seeds(out) == [2, 15]
    assert "16 seeds (0..15) run" in out
    assert (
        f"stopped after 2 failing seeds (--maxfail 2); resume with: raftsim fuzz --start-seed 16 --seeds 14 "
        f"--nodes 7 --bug {BUG} --maxfail 2 --workers {workers} --out {tmp_path} --no-shrink"
    ) in out
    rc, out, _ = _run([*argv, "-x"], capsys)
    assert rc == 1
    assert _fail_seeds(out) == [2]
    assert "stopped after 1 failing seed (--maxfail 1); resume with: raftsim fuzz --start-seed 3 " in out


def test_maxfail_reached_on_the_last_seed_has_nothing_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = _run(["fuzz", "--seeds", "3", "-x", *BUG_ARGS, "--no-shrink", "--out", str(tmp_path)], capsys)
    assert rc == 1 and _fail_seeds(out) == [2]
    assert "resume with" not in out


def test_maxfail_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["fuzz", "--maxfail", "0"], capsys)
    assert rc == 2 and err == "raftsim fuzz: --maxfail: expected a positive integer, got 0\n"


# ------------------------------------------------------------------------------------------------ --list-bugs


def test_list_bugs_prints_each_bug_with_its_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["fuzz", "--list-bugs"], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(BUGS)
    for line, name in zip(lines, BUGS, strict=True):
        assert line.split(maxsplit=1)[1] == describe(name)
    assert "volatile-vote" in BUGS and "figure8-commit" in BUGS


@pytest.mark.parametrize("name", list(BUGS))
def test_every_bug_describes_its_mistake_in_one_line(name: str) -> None:
    doc = BUGS[name].__dict__.get("__doc__") or ""  # its own docstring, not the correct Node's
    summary, _, rest = doc.strip().partition("\n")
    assert summary == describe(name)
    assert 20 <= len(summary) <= 90 and summary.endswith("."), summary
    assert not rest or rest.startswith("\n"), "a blank line after the summary line"


# ------------------------------------------------------------------------------------------------ replay --schedule


@pytest.mark.parametrize(("seed", "bug", "rc"), [(2, "vote-without-log-check", 1), (0, None, 0)])
def test_replay_schedule_prints_a_scenario_file(
    seed: int, bug: str | None, rc: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(seed), "--schedule", "--nodes", "5"] + (["--bug", bug] if bug else [])
    code, out, _ = _run(argv, capsys)
    assert code == rc
    s = loads(out)  # the whole output, summary included (as comments), is one scenario file
    case = case_for_seed(seed, Options(nodes=5, bug=bug))
    assert (s.seed, s.duration) == (seed, case.end)
    assert (s.cluster, s.network, s.workload) == (case.cluster, case.network, case.workload)
    assert s.faults == case.all_faults()
    assert f"# seed {seed} (5 servers" in out and "#   trace digest " in out
    assert ("fails with LeaderCompleteness" in s.description) == bool(bug)  # vote-without-log-check at seed 2
    path = tmp_path / "case.toml"
    path.write_text(out)
    assert main(["run", str(path), "--quiet"]) == rc  # raftsim run judges it the same way


def test_replay_checks_its_output_files_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["replay", "1", "--trace", str(tmp_path / "t.txt")],
        ["replay", "1", "--plot", str(tmp_path / "missing" / "t.png")],
    ):
        rc, out, err = _run(argv, capsys)
        assert rc == 2 and out == "" and len(err.splitlines()) == 1, err


# ------------------------------------------------------------------------------------------------ one seed rule

_TOML = 'duration = "1s"\n'


@pytest.mark.parametrize(
    "argv",
    [
        *(["run", "--seed", bad] for bad in ("-1", "x", "1.5", str(MAX_SEED + 1))),
        *(["replay", bad] for bad in ("-1", "x", "1e3", str(MAX_SEED + 1))),
        *(["fuzz", "--start-seed", bad] for bad in ("-1", "x", " 7", str(MAX_SEED + 1))),
    ],
)
def test_every_seed_flag_follows_one_rule(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(argv, capsys)
    flag = "SEED" if argv[0] == "replay" else argv[1]
    assert rc == 2 and out == ""
    assert err == f"raftsim {argv[0]}: {flag}: expected {SEED_RULE}, got {argv[-1]!r}\n"


@pytest.mark.parametrize("bad", ["-1", str(MAX_SEED + 1), '"7"', "1.5", "true"])
def test_scenario_seed_follows_the_same_rule(bad: str) -> None:
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as e:
        loads(f"seed = {bad}\n{_TOML}", "s.toml")
    assert str(e.value).startswith(f"s.toml:1: seed: expected {SEED_RULE}, got ")


def test_the_largest_seed_is_accepted_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert loads(f"seed = {MAX_SEED}\n{_TOML}").seed == MAX_SEED
    assert check_seed("--seed", str(MAX_SEED)) == MAX_SEED and check_seed("--seed", "0") == 0
    rc, out, _ = _run(
        ["fuzz", "--start-seed", str(MAX_SEED), "--seeds", "1", "--no-shrink", "--out", str(tmp_path)], capsys
    )
    assert rc in (0, 1) and f"1 seeds ({MAX_SEED}..{MAX_SEED})" in out
    rc, _, err = _run(["fuzz", "--start-seed", str(MAX_SEED), "--seeds", "2"], capsys)
    assert rc == 2 and err.startswith("raftsim fuzz: --seeds: expected at most 1 from --start-seed")


# ------------------------------------------------------------------------------------------------ hours


def test_hours_are_a_time_unit_in_scenario_files_as_in_fuzz_time() -> None:
    s = loads('duration = "1h"\n[[events]]\nat = "0.25h"\ndo = "crash"\nnode = 1\n')
    assert s.duration == 3_600_000_000 == parse_wall_time("1h") * 1_000_000
    assert s.faults[0].at == 900_000_000
    assert format_time(s.duration) == "3600000ms"  # written back in milliseconds, as every time is


# ------------------------------------------------------------------------------------------------ --out


def test_out_is_checked_before_the_campaign_and_created_for_the_first_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _run(["fuzz", "--seeds", "100000", "--out", str(tmp_path / "no" / "such")], capsys)
    assert rc == 2 and out == "" and "--out:" in err and len(err.splitlines()) == 1
    (tmp_path / "file").write_text("")
    rc, _, err = _run(["fuzz", "--out", str(tmp_path / "file")], capsys)
    assert rc == 2 and err == f"raftsim fuzz: --out: expected a folder, got the file {tmp_path / 'file'}\n"
    passing = tmp_path / "passing"
    rc, _, _ = _run(["fuzz", "--seeds", "2", "--workers", "1", "--out", str(passing)], capsys)
    assert rc == 0 and not passing.exists()  # nothing to write, no folder
    failing = tmp_path / "failing"
    rc, _, _ = _run(["fuzz", "--seeds", "3", "--workers", "1", *BUG_ARGS, "--no-shrink", "--out", str(failing)], capsys)
    files = sorted(p.name for p in failing.iterdir())
    assert rc == 1 and files == [f"{BUG}-seed2-Linearizability.edn", f"{BUG}-seed2-Linearizability.toml"]
