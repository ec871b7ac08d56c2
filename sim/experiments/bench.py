"""``raftsim bench``: how fast the simulator runs, as ratios measured in one run on this machine.

Time is read here, and only here: it measures the simulator, it never feeds it. It is the process's CPU time
(``time.process_time``). On a shared machine the speed of the CPU drifts by a factor of two within seconds, so
measurements that are compared are interleaved in slices of a few tens of milliseconds: a round advances bare
SimPy and the checked cluster in turns, slice by slice, and sums each one's CPU time; then the checked and the
unchecked cluster, the same way. The median over rounds is reported, with the range.

Figures:

- ``bare_events_per_s``: plain SimPy, one process per node doing only timeouts: the ceiling for any SimPy model.
- ``sim_events_per_s`` / ``messages_per_s``: a 5-node cluster under steady client load, checker on, trace kept in
  memory: SimPy events and Raft messages delivered per CPU second.
- ``ratio``: messages_per_s / bare_events_per_s (how many bare SimPy events one delivered message costs, inverted).
- ``checker_overhead``: run time with the invariant checker / without.
- ``scaling_10x``: run time for 10x the simulated duration / 1x. The log grows with the load, so a figure near 10
  says the cost per event does not grow with log or run length. The long run advances in ten parts, each
  interleaved slice by slice with a fresh 1x run and compared with it; the ratio of its last part to its first
  is reported too (the first part is the fresh run's twin; later parts, all in steady state, cost about 7% more
  than a fresh run, whose first 200 ms elect a leader and carry no load).

``--memory`` (``measure_memory``) measures memory instead of speed: the benchmark's cluster at a lighter load for
some simulated minutes, clients stopping halfway, its trace streamed to ``os.devnull`` as ``raftsim run --trace``
streams it, and, after each simulated minute, the Python heap (``tracemalloc``: now and its peak) and the
process's peak resident size. While clients write, memory grows with the logs, by a constant number of bytes per
entry (the logs themselves, and the checker's per-index tables that mirror them); once they stop, nothing grows.
With ``snapshot_every`` (``--snapshot-every``) servers compact their logs and the checker forgets what every server
compacted, so the logs and the tables stop growing too: what still grows is the client history, which the
end-of-run linearizability check needs (reported on its own: its records and their strings), and the key-value
store's values that appends lengthen.

Every part takes ``snapshot_every`` (0: snapshots off, the default): the speed part then measures the cluster
taking snapshots as it goes (and installing them on followers that fall behind).

The cyclic garbage collector is off while a cluster runs (``Simulation.run`` turns it off). Here it stays off
for the whole measurement, bare SimPy included, and a full collection runs between rounds, untimed: otherwise
the collection that ``Simulation.run`` defers would fall, at random, into whichever slice next allocates.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from statistics import median
from typing import TYPE_CHECKING, Any

from simpy import Environment

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


NODES = 5
BASE_DURATION_US = 4_000_000
SLICES = 20  # per round: slices of 200 ms simulated (about 3,000 messages, 30-60 ms of CPU)
BARE_EVENTS_PER_SLICE = 20_000


class BareSimPy:
    """Plain SimPy, one process per node doing only timeouts; ``advance`` steps it and returns the CPU time."""

    def __init__(self) -> None:
        self.env = env = Environment()

        def node(period: int) -> Iterator[Any]:
            while True:
                yield env.timeout(period)

        for i in range(NODES):
            env.process(node(1_000 + 7 * i))
        self.advance(1_000)

    def advance(self, events: int) -> float:
        step = self.env.step
        start = time.process_time()
        for _ in range(events):
            step()
        return time.process_time() - start


def steady_load(
    check: bool = True, seed: int = 1, rate: float = 2_000, stop: int | None = None, snapshot_every: int = 0
) -> Simulation:
    """The benchmark's cluster: 5 nodes, 1-5 ms links, 20 clients offering ``rate`` commands/s (2,000) until
    ``stop`` (microseconds; None: the whole run), trace in memory; a snapshot every ``snapshot_every`` entries
    applied (0: none)."""
    from sim.raft.node import RaftConfig
    from sim.world.cluster import Simulation
    from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
    from sim.world.network import Uniform

    return Simulation(
        ClusterConfig(nodes=NODES, raft=RaftConfig(snapshot_every=snapshot_every)),
        NetworkConfig(delay=Uniform(1_000, 5_000)),
        # 1000 keys keep values short: appends to a few hot keys would make every apply copy an ever longer
        # string, a cost of the workload's state machine rather than of the simulator.
        WorkloadConfig(clients=20, rate=rate, timeout=200_000, keys=1_000, stop=stop),
        seed=seed,
        trace=True,
        check=check,
    )


def _advance(sim: Simulation, until: int) -> float:
    start = time.process_time()
    violation = sim.run(until)
    cpu = time.process_time() - start
    if violation is not None:
        raise RuntimeError(f"benchmark run found a violation: {violation.report()}")
    return cpu


def measure_round(
    duration_us: int = BASE_DURATION_US, slices: int = SLICES, snapshot_every: int = 0
) -> dict[str, float]:
    """One round, in two parts. First the checked cluster and bare SimPy, advanced in turns slice by slice: the
    rates and their ratio. Then the checked cluster again and the unchecked one, in turns: the checker's overhead.
    (Each part keeps only what it compares in memory: a second cluster alive, itself idle, measurably slows the
    first down.)"""
    bare = BareSimPy()
    checked = steady_load(check=True, snapshot_every=snapshot_every)
    bare_cpu = checked_cpu = 0.0
    for k in range(1, slices + 1):
        bare_cpu += bare.advance(BARE_EVENTS_PER_SLICE)
        checked_cpu += _advance(checked, duration_us * k // slices)
    bare_rate = BARE_EVENTS_PER_SLICE * slices / bare_cpu
    figures = {
        "bare_events_per_s": bare_rate,
        "sim_events_per_s": checked.events / checked_cpu,
        "messages_per_s": checked.network.delivered / checked_cpu,
        "ratio": checked.network.delivered / checked_cpu / bare_rate,
        "cpu_s": checked_cpu,
        "events": checked.events,
        "delivered": checked.network.delivered,
        "committed": checked.committed,
        "trace_records": len(checked.trace),
        "snapshots_taken": checked.snapshots_taken,
        "snapshots_installed": checked.snapshots_installed,
    }
    del bare, checked
    gc.collect()
    checked = steady_load(check=True, snapshot_every=snapshot_every)
    unchecked = steady_load(check=False, snapshot_every=snapshot_every)
    checked_cpu = unchecked_cpu = 0.0
    for k in range(1, slices + 1):
        checked_cpu += _advance(checked, duration_us * k // slices)
        unchecked_cpu += _advance(unchecked, duration_us * k // slices)
    if (checked.events, checked.network.delivered) != (unchecked.events, unchecked.network.delivered):
        raise RuntimeError("the checker changed the run: it differs from the same run without the checker")
    figures["checker_overhead"] = checked_cpu / unchecked_cpu
    figures["cpu_s_no_checker"] = unchecked_cpu
    return figures


def measure_scaling(
    duration_us: int = BASE_DURATION_US, factor: int = 10, slices: int = SLICES, snapshot_every: int = 0
) -> dict[str, float]:
    """A run ``factor`` times as long as the base, advanced in ``factor`` parts; each part is interleaved, slice
    by slice, with a fresh base-length run. Returns the sum over parts of (part / its base run), which is
    ``factor`` when the cost per event does not grow, and the last part's ratio over the first's."""
    long = steady_load(snapshot_every=snapshot_every)
    ratios = []
    cpu = 0.0
    for k in range(factor):
        base = steady_load(snapshot_every=snapshot_every)
        base_cpu = part_cpu = 0.0
        for j in range(1, slices + 1):
            base_cpu += _advance(base, duration_us * j // slices)
            part_cpu += _advance(long, duration_us * k + duration_us * j // slices)
        del base
        gc.collect()  # the base run just dropped (untimed)
        cpu += part_cpu
        ratios.append(part_cpu / base_cpu)
    return {
        "scaling": sum(ratios),
        "last_part_over_first": ratios[-1] / ratios[0],
        "cpu_s": cpu,
        "committed": long.committed,
    }


def measure(
    repeat: int = 5, duration_us: int = BASE_DURATION_US, slices: int = SLICES, snapshot_every: int = 0
) -> dict[str, Any]:
    """All figures: the median over ``repeat`` interleaved rounds, and the scaling run."""
    from sim.world.cluster import cyclic_gc_off

    with cyclic_gc_off():
        rounds = []
        for _ in range(repeat):
            gc.collect()
            rounds.append(measure_round(duration_us, slices, snapshot_every))
        gc.collect()
        scaling = measure_scaling(duration_us, slices=slices, snapshot_every=snapshot_every)

    def mid(key: str) -> float:
        return median(r[key] for r in rounds)

    def span(key: str) -> list[float]:
        return [round(min(r[key] for r in rounds), 3), round(max(r[key] for r in rounds), 3)]

    sample = rounds[0]
    return {
        "bare_events_per_s": round(mid("bare_events_per_s")),
        "sim_events_per_s": round(mid("sim_events_per_s")),
        "messages_per_s": round(mid("messages_per_s")),
        "ratio": round(mid("ratio"), 3),
        "checker_overhead": round(mid("checker_overhead"), 3),
        "scaling_10x": round(scaling["scaling"], 2),
        "detail": {
            "repeat": repeat,
            "slices": slices,
            "ratio_range": span("ratio"),
            "checker_overhead_range": span("checker_overhead"),
            "simulated_s": duration_us / 1e6,
            "run_cpu_s": round(mid("cpu_s"), 3),
            "run_cpu_s_no_checker": round(mid("cpu_s_no_checker"), 3),
            "run_cpu_s_10x": round(scaling["cpu_s"], 3),
            "last_tenth_over_first_10x": round(scaling["last_part_over_first"], 2),
            "events": sample["events"],
            "messages_delivered": sample["delivered"],
            "entries_committed": sample["committed"],
            "entries_committed_10x": scaling["committed"],
            "trace_records": sample["trace_records"],
            "snapshot_every": snapshot_every,
            "snapshots_taken": sample["snapshots_taken"],
            "snapshots_installed": sample["snapshots_installed"],
        },
    }


MINUTE_US = 60_000_000


def measure_memory(minutes: int = 6, rate: float = 200.0, snapshot_every: int = 0) -> list[dict[str, float]]:
    """The benchmark's cluster offered ``rate`` commands/s for the first half of ``minutes`` simulated minutes,
    then idle, its trace streamed to ``os.devnull``, a snapshot every ``snapshot_every`` entries (0: none): after
    each minute, the entries appended to the longest log and those it still holds, the Python heap now and its
    peak (MB, ``tracemalloc``), the process's peak resident size (MB), the heap's growth over the minute and, for
    the minutes clients wrote throughout, that growth per entry appended to the log; and the client history's
    size (its records and their strings, MB)."""
    rows = []
    stop = minutes * MINUTE_US // 2
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        tracemalloc.start()
        try:
            sim = steady_load(rate=rate, stop=stop, snapshot_every=snapshot_every)
            sim.stream_trace(devnull, "bench --memory", "sim.experiments.bench.measure_memory", minutes * MINUTE_US)
            before, _ = tracemalloc.get_traced_memory()
            entries_before = 0
            for minute in range(1, minutes + 1):
                violation = sim.run(minute * MINUTE_US)
                if violation is not None:
                    raise RuntimeError(f"benchmark run found a violation: {violation.report()}")
                now, peak = tracemalloc.get_traced_memory()
                entries = max(s.storage.snapshot_index + len(s.storage.entries) for s in sim.servers.values())
                loaded = minute * MINUTE_US <= stop and entries > entries_before
                rows.append(
                    {
                        "minute": minute,
                        "entries": entries,
                        "heap_mb": now / 1e6,
                        "heap_peak_mb": peak / 1e6,
                        "rss_peak_mb": _peak_rss_mb(),
                        "bytes_per_entry": (now - before) / (entries - entries_before) if loaded else 0.0,
                        "growth_mb": (now - before) / 1e6,
                        "trace_records": len(sim.trace),
                        "trace_in_memory": len(sim.trace.records),
                        "held": max(len(s.storage.entries) for s in sim.servers.values()),
                        "history_mb": _history_bytes(sim) / 1e6,
                        "snapshots_taken": sim.snapshots_taken,
                    }
                )
                before, entries_before = now, entries
            sim.end_trace()
        finally:
            tracemalloc.stop()
    return rows


def _history_bytes(sim: Simulation) -> int:
    """The client history's own size: its records and the strings they hold (strings shared with the rest of the
    run counted too, so an upper bound)."""
    size = sys.getsizeof(sim.history)
    for r in sim.history:
        size += sys.getsizeof(r) + sys.getsizeof(r.value) + sys.getsizeof(r.expected)
        if r.result is not None:
            size += sys.getsizeof(r.result)
    return size


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3  # bytes on macOS, kilobytes elsewhere
