"""``raftsim bench``: how fast the simulator runs, as ratios measured in one run on this machine.

Time is read here, and only here: it measures the simulator, it never feeds it. It is the process's CPU time
(``time.process_time``), which other work on a shared machine disturbs less than wall time; each ratio is formed
from measurements taken back to back and the median over several rounds is reported.

Figures:

- ``bare_events_per_s``: plain SimPy, one process per node doing only timeouts: the ceiling for any SimPy model.
- ``sim_events_per_s`` / ``messages_per_s``: a 5-node cluster under steady client load, checker on, trace kept in
  memory: SimPy events and Raft messages delivered per second of wall time.
- ``ratio``: messages_per_s / bare_events_per_s (how many bare SimPy events one delivered message costs, inverted).
- ``checker_overhead``: run time with the invariant checker / without.
- ``scaling_10x``: run time for 10x the simulated duration / 1x. The log grows with the load, so a figure near 10
  says the cost per event does not grow with log or run length.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from statistics import median
from typing import Any

from simpy import Environment

NODES = 5
BASE_DURATION_US = 4_000_000


def bare_simpy(events: int = 400_000) -> float:
    """Events per second of SimPy with one process per node doing only timeouts."""
    env = Environment()

    def node(period: int) -> Any:
        while True:
            yield env.timeout(period)

    for i in range(NODES):
        env.process(node(1_000 + 7 * i))
    step = env.step
    for _ in range(1_000):
        step()
    start = time.process_time()
    for _ in range(events):
        step()
    return events / (time.process_time() - start)


def cluster_run(duration_us: int, check: bool = True, seed: int = 1) -> dict[str, float]:
    """Run the steady-load cluster for ``duration_us`` of simulated time; return wall time and counts."""
    from .cluster import ClusterConfig, NetworkConfig, Simulation
    from .network import Uniform
    from .workload import WorkloadConfig

    sim = Simulation(
        ClusterConfig(nodes=NODES),
        NetworkConfig(delay=Uniform(1_000, 5_000)),
        # 1000 keys keep values short: appends to a few hot keys would make every apply copy an ever longer
        # string, a cost of the workload's state machine rather than of the simulator.
        WorkloadConfig(clients=20, rate=2_000, timeout=200_000, keys=1_000),
        seed=seed,
        trace=True,
        check=check,
    )
    gc.collect()
    start = time.process_time()
    violation = sim.run(duration_us)
    cpu = time.process_time() - start
    if violation is not None:
        raise RuntimeError(f"benchmark run found a violation: {violation.report()}")
    return {
        "cpu_s": cpu,
        "events": sim.events,
        "delivered": sim.network.delivered,
        "committed": sim.committed,
        "trace_records": len(sim.trace),
    }


def measure(repeat: int = 5) -> dict[str, Any]:
    """All figures. The machine's speed drifts (other work, shared cores), so every ratio is formed from
    measurements taken back to back, repeated ``repeat`` times, and the median is reported."""
    rounds = []
    for _ in range(repeat):
        bare = bare_simpy()
        with_checker = cluster_run(BASE_DURATION_US, check=True)
        without = cluster_run(BASE_DURATION_US, check=False)
        rounds.append((bare, with_checker, without))
    before = cluster_run(BASE_DURATION_US, check=True)
    long = cluster_run(10 * BASE_DURATION_US, check=True)
    after = cluster_run(BASE_DURATION_US, check=True)
    bare_rates = [b for b, _, _ in rounds]
    event_rates = [w["events"] / w["cpu_s"] for _, w, _ in rounds]
    message_rates = [w["delivered"] / w["cpu_s"] for _, w, _ in rounds]
    ratios = [w["delivered"] / w["cpu_s"] / b for b, w, _ in rounds]
    overheads = [w["cpu_s"] / n["cpu_s"] for _, w, n in rounds]
    one_x = (before["cpu_s"] + after["cpu_s"]) / 2
    sample = rounds[0][1]
    return {
        "bare_events_per_s": round(median(bare_rates)),
        "sim_events_per_s": round(median(event_rates)),
        "messages_per_s": round(median(message_rates)),
        "ratio": round(median(ratios), 3),
        "checker_overhead": round(median(overheads), 3),
        "scaling_10x": round(long["cpu_s"] / one_x, 2),
        "detail": {
            "repeat": repeat,
            "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "checker_overhead_range": [round(min(overheads), 3), round(max(overheads), 3)],
            "simulated_s": BASE_DURATION_US / 1e6,
            "run_cpu_s": round(median([w["cpu_s"] for _, w, _ in rounds]), 3),
            "run_cpu_s_no_checker": round(median([n["cpu_s"] for _, _, n in rounds]), 3),
            "run_cpu_s_10x": round(long["cpu_s"], 3),
            "events": sample["events"],
            "messages_delivered": sample["delivered"],
            "entries_committed": sample["committed"],
            "entries_committed_10x": long["committed"],
            "trace_records": sample["trace_records"],
        },
    }


def _print_human(r: dict[str, Any]) -> None:
    d = r["detail"]
    print(f"bare SimPy                 {r['bare_events_per_s']:>12,} events/s")
    print(
        f"5-node cluster, load       {r['sim_events_per_s']:>12,} events/s   "
        f"({d['events']:,} events, {d['simulated_s']:g} s simulated, {d['entries_committed']:,} entries committed)"
    )
    print(f"Raft messages delivered    {r['messages_per_s']:>12,} /s")
    lo, hi = d["ratio_range"]
    print(
        f"ratio (messages/bare)      {r['ratio']:>12.3f}        target >= 0.10 (stretch 0.25); "
        f"range {lo:.3f}-{hi:.3f} over {d['repeat']} rounds"
    )
    lo, hi = d["checker_overhead_range"]
    print(
        f"checker overhead           {r['checker_overhead']:>12.3f}x       target <= 1.25x "
        f"({d['run_cpu_s']:.2f} s vs {d['run_cpu_s_no_checker']:.2f} s; range {lo:.3f}-{hi:.3f})"
    )
    print(
        f"10x duration / 1x          {r['scaling_10x']:>12.2f}x       target <= 11x "
        f"({d['run_cpu_s_10x']:.2f} s for {d['entries_committed_10x']:,} entries)"
    )


def run(args: argparse.Namespace) -> int:
    result = measure(repeat=args.repeat)
    if args.bugs:
        from .fuzz import bench_bugs

        result["bugs"] = bench_bugs(budget=args.bug_budget)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        _print_human(result)
        for row in result.get("bugs", []):
            print(
                f"bug {row['bug']:<24} found after {row['seeds_to_failure']!s:>5} seeds: {row['property']:<20} "
                f"shrunk to {row['shrunk_events']} events, {row['shrunk_duration_ms']} ms, {row['shrunk_nodes']} nodes"
            )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="measure simulator speed (ratios measured in one run)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeat", type=int, default=5, help="rounds of back-to-back measurements (default 5)")
    p.add_argument("--bugs", action="store_true", help="also fuzz each known bug: seeds to first failure")
    p.add_argument("--bug-budget", type=int, default=2000, help="seed budget per bug with --bugs (default 2000)")
    p.set_defaults(func=run)
