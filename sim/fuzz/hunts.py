"""Bug hunts: how each catalog bug is hunted, seeds to the first failure, and its shrunk size."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sim.fuzz.campaign import Options, case_for_seed, run_campaign
from sim.fuzz.case import MS, Outcome
from sim.fuzz.export import scenario_property, write_failure
from sim.fuzz.shrink import shrink
from sim.nodes.bugs import BUGS

# How the benchmark (and the test suite) hunts each known bug. The default campaign (no bug-specific options; its
# swarm draws the cluster size, and for a share of seeds one of the focused modes of ``sim.fuzz.draw.MODES``) finds
# every one of them within 2,000 seeds; a hunt narrows it further only where that finds the bug faster: Figure 8
# needs a precise chain of events (see the "comeback" pattern in ``draw_case``), built on three servers from
# partitions, small batches and a slow disk. ReadIndex answered early needs its read mode drawn (a family of its
# own, on for a share of seeds) and then a new leader whose no-op is slow to commit: three servers, that family
# and partitions find it in tens of seeds rather than a few hundred.
# ``raftsim fuzz --nodes 3 --families ... --bug ...`` runs the same.
BUG_HUNTS: dict[str, Options] = {name: Options(bug=name) for name in BUGS} | {
    "figure8-commit": Options(nodes=3, bug="figure8-commit", families=("partition", "small_batch", "disk")),
    "readindex-before-term-commit": Options(
        nodes=3, bug="readindex-before-term-commit", families=("readindex", "partition")
    ),
}


def hunt(options: Options, budget: int, workers: int = 1, start: int = 0) -> Outcome | None:
    """The first failing seed of a campaign of at most ``budget`` seeds, or None."""
    camp = run_campaign(range(start, start + budget), options, workers=workers, stop_after_failures=1)
    return camp.failures[0] if camp.failures else None


def bench_bugs(
    budget: int = 2000, workers: int | None = None, out_dir: str | Path | None = None
) -> list[dict[str, Any]]:
    """For each known bug: seeds to the first failure of the default campaign (``Options(bug=...)``: no
    bug-specific options) and of its focused hunt (``BUG_HUNTS``), the property, and the size of the hunt's failure
    once shrunk (with ``out_dir``, the shrunk scenario is written there and run again as ``raftsim run`` would)."""
    workers = workers or os.cpu_count() or 1
    rows: list[dict[str, Any]] = []
    for name in BUGS:
        t0 = time.monotonic()
        default = hunt(Options(bug=name), budget, workers)
        options = BUG_HUNTS.get(name, Options(bug=name))
        first = default if options == Options(bug=name) else hunt(options, budget, workers)
        row: dict[str, Any] = {
            "bug": name,
            "default_seeds_to_failure": None if default is None else default.seed + 1,
            "default_property": None if default is None else default.property,
            "nodes": options.nodes,
            "families": ",".join(options.families) if options.families else "all",
            "seeds_to_failure": None if first is None else first.seed + 1,
            "property": None if first is None else first.property,
            "shrunk_events": None,
            "shrunk_duration_ms": None,
            "shrunk_nodes": None,
        }
        if first is not None and first.property != "Determinism":
            assert first.property is not None
            original = case_for_seed(first.seed, options)
            res = shrink(original, first.property)
            row.update(
                original_events=len(original.faults),
                shrunk_events=len(res.case.faults),
                shrunk_duration_ms=res.case.duration // MS,
                shrunk_nodes=res.case.cluster.nodes,
                shrink_runs=res.runs,
                hypothesis_improved=res.hypothesis_improved,
            )
            if out_dir is not None:
                # The written scenario must fail ``raftsim run`` the same way.
                path = write_failure(res.case, res.outcome, options, out_dir, original=original)
                row["scenario"] = str(path)
                row["scenario_property"] = scenario_property(path)
        row["wall_s"] = round(time.monotonic() - t0, 1)
        rows.append(row)
    return rows


def campaign_throughput(seeds: int = 200, workers: int = 1) -> dict[str, float]:
    """The default campaign's speed on the correct protocol: seeds per wall-clock second, and simulated seconds of
    fault phase (the part of a seed that carries faults) per wall-clock second, per worker."""
    t0 = time.perf_counter()  # wall clock: only to report the speed
    camp = run_campaign(range(seeds), Options(), workers=workers)
    wall = time.perf_counter() - t0
    fault_s = sum(case_for_seed(s).duration for s in range(seeds)) / 1e6
    simulated_s = sum(o.time for o in camp.outcomes) / 1e6
    return {
        "seeds": seeds,
        "workers": workers,
        "failures": len(camp.failures),
        "seeds_per_s": round(seeds / wall, 2),
        "fault_s_per_s": round(fault_s / wall, 1),
        "simulated_s_per_s": round(simulated_s / wall, 1),
        "fault_share": round(fault_s / simulated_s, 3) if simulated_s else 0.0,
    }
