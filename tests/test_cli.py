"""The ``raftsim`` command as a new user meets it: installed from a wheel, ``--version``, ``python -m sim``, output
paths checked before the run, ``--out DIR``, a closed pipe, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import sigint_as_a_terminal_sends_it

from sim.scenario import load

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "scenarios" / "first-election.toml"


def _raftsim(*args: str, cwd: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=cwd or REPO, capture_output=True, text=True, timeout=120, **kw
    )


def test_version_and_python_m_sim() -> None:
    from sim import __version__

    r = _raftsim("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"raftsim {__version__}"
    assert __version__[0].isdigit()


def test_a_wheel_installed_elsewhere_runs_the_bundled_default(tmp_path: Path) -> None:
    """``pip install .`` (not editable) must give a working ``raftsim``: the scenario library ships in the wheel.
    Run from a folder outside the source tree, with only the installed copy importable."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("raftsim-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import sim; print(sim.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    r = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("PASS") and "leader-crash.toml" in r.stdout
    # The HTML timeline's scripts and styles are package data too: the installed copy writes a whole page.
    page = tmp_path / "run.html"
    r = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--quiet", "--html", str(page)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "function raftsimModel" in page.read_text() and "function drawTimeline" in page.read_text()
    # The ported test suites ship in subfolders, with their READMEs, are listed, and run by their library path.
    library = target / "sim" / "library"
    for folder in ("mit-6.5840", "etcd"):
        assert (library / folder / "README.md").is_file()
        shipped = sorted(f.name for f in (library / folder).glob("*.toml"))
        assert shipped == sorted(f.name for f in (REPO / "scenarios" / folder).glob("*.toml")) != []
    listed = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--list"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert "mit-6.5840/3a-initial-election.toml" in listed.stdout and "etcd/campaign.toml" in listed.stdout
    r = subprocess.run(
        [sys.executable, "-m", "sim", "run", "etcd/single-node.toml", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("PASS") and str(library / "etcd" / "single-node.toml") in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--plot", "x.pdf"], "--plot: expected a file name ending in .png or .svg, got x.pdf"),
        (["--plot", "missing/x.png"], "--plot: expected an existing folder for missing/x.png, but missing/"),
        (["--trace", "x.txt"], "--trace: expected a file name ending in .jsonl, got x.txt"),
        (["--trace", "adir"], "--trace: expected a file name ending in .jsonl, got the folder adir"),
        (["--out", "afile.txt"], "--out: expected a folder, got the file afile.txt"),
        (["--out", "missing/deeper"], "--out: expected an existing folder for missing/deeper, but missing/"),
    ],
)
def test_bad_output_paths_are_refused_before_the_run(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile.txt").write_text("x")
    r = _raftsim("run", str(SCENARIO), *args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    assert r.stdout == ""  # refused before anything ran
    assert not (tmp_path / "missing").exists()  # no parent folder created silently


def test_out_folder_holds_the_scenario_as_run_trace_plot_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "results"
    r = _raftsim("run", str(SCENARIO), "--seed", "7", "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = ["history.edn", "scenario.toml", "summary.txt", "timeline.png", "trace.jsonl"]
    assert sorted(p.name for p in out.iterdir()) == names
    as_run = load(out / "scenario.toml")
    original = load(SCENARIO)
    assert as_run.seed == 7 and as_run.cluster == original.cluster and as_run.faults == original.faults
    assert "result:      PASS" in (out / "summary.txt").read_text()
    for name in names:
        assert str(out / name) in r.stdout  # says where it wrote each file


def test_several_scenarios_get_a_folder_each(tmp_path: Path) -> None:
    out = tmp_path / "results"
    other = REPO / "scenarios" / "follower-crash.toml"
    r = _raftsim("run", str(SCENARIO), str(other), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert str(out / "follower-crash" / "summary.txt") in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["first-election", "follower-crash"]
    assert (out / "follower-crash" / "trace.jsonl").exists()


def test_a_closed_pipe_ends_quietly_and_files_are_still_written(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    p = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(SCENARIO), str(SCENARIO), "--trace", str(trace)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader went away at once, as ``| head -0`` does
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) in (0, 1)
    assert err == ""
    assert trace.with_name("t.first-election.jsonl").exists()


def test_ctrl_c_during_run_prints_the_partial_summary(tmp_path: Path) -> None:
    long = tmp_path / "long.toml"
    long.write_text('duration = "3600s"\n[workload]\nclients = 3\nrate = 200\n')
    trace = tmp_path / "long.jsonl"
    p = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(long), "--trace", str(trace)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_a_terminal_sends_it,
    )
    # Interrupt once the run loop is going: the trace holds events after its header. A fixed wait interrupted the
    # start-up itself on a loaded machine.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not trace.exists() or trace.read_bytes().count(b"\n") < 20):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "INTERRUPTED: at" in out and "result:      FAIL" in out
    assert "interrupted:" in err and "Traceback" not in err
    assert trace.exists() and trace.stat().st_size > 0
