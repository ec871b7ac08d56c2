"""Same configuration and seed => byte-identical trace, in another process and under another PYTHONHASHSEED.

The run uses everything that draws randomness or could iterate in hash order: faults resolved by role and seeded
pick, drops, duplicates, lognormal delays, clock drift, clients, disk latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
from sim.world.config import ClusterConfig, NetworkConfig
from sim.world.cluster import Simulation
from sim.world.faults import Fault, schedule
from sim.world.network import LogNormal, Uniform
from sim.raft import RaftConfig
from sim.world.config import WorkloadConfig

def run(seed):
    sim = Simulation(
        ClusterConfig(nodes=5, raft=RaftConfig(prevote=True), disk_latency=1_000),
        NetworkConfig(delay=LogNormal(median=5_000, sigma=0.7, minimum=500), drop=0.05, duplicate=0.05),
        WorkloadConfig(clients=3, rate=80, keys=4),
        seed=seed,
    )
    schedule(sim, [
        Fault(300_000, "crash", node="leader"),
        Fault(500_000, "partition", groups=((1, 2),)),
        Fault(650_000, "drift", node="random", value=1.3),
        Fault(800_000, "heal"),
        Fault(800_000, "restart", node="all-crashed"),
        Fault(900_000, "crash", node="majority"),
        Fault(1_000_000, "restart", node="all-crashed"),
        Fault(1_100_000, "delay", delay=Uniform(2_000, 9_000)),
        Fault(1_200_000, "isolate", node="follower"),
        Fault(1_400_000, "heal"),
    ])
    v = sim.run(2_000_000)
    return sim, v

for seed in (11, 12):
    sim, v = run(seed)
    print(seed, sim.trace.digest(), len(sim.trace), sim.events, sim.acked(), v is None)
"""


def run_in_subprocess(hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    return {h: run_in_subprocess(h) for h in ("0", "1", "12345")}


def test_same_seed_same_trace_under_any_hash_seed(outputs: dict[str, str]) -> None:
    first = outputs["0"]
    assert first.strip() and all(out == first for out in outputs.values()), outputs
    for line in first.splitlines():
        _seed, digest, records, events, acked, safe = line.split()
        assert len(digest) == 64 and int(records) > 1000 and int(events) > 300
        assert int(acked) > 0 and safe == "True"


def test_different_seeds_give_different_traces(outputs: dict[str, str]) -> None:
    digests = [line.split()[1] for line in outputs["0"].splitlines()]
    assert len(set(digests)) == 2


def test_in_process_rerun_matches_the_subprocess(outputs: dict[str, str]) -> None:
    namespace: dict[str, object] = {}
    exec(PROGRAM.split("for seed in")[0], namespace)
    sim, _ = namespace["run"](11)  # type: ignore[operator]
    assert outputs["0"].splitlines()[0].split()[1] == sim.trace.digest()
