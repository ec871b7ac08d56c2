"""Seed-replayable fuzzing: swarm-generated fault schedules, a liveness phase, shrinking to scenario files.

A fuzz *case* is everything one run needs, all explicit: the seed (for the simulation's own random streams), the
cluster/network/workload configuration, a list of ``sim.world.faults.Fault`` and a duration. The run has two phases:

1. the fault phase (``duration``): the schedule's faults fire, clients issue commands;
2. the liveness phase (``liveness`` more microseconds): at ``duration`` the faults stop and everything is repaired
   by explicit faults (heal, drop and duplicate back to 0, base delays, clocks back to rate 1, every crashed
   server restarted); clients issue no new commands but keep retrying. At the end a leader must exist and no
   client command may be pending, otherwise the case fails with the property ``Liveness``.

Safety failures come from the incremental checker (``Simulation.run`` returns a ``Violation``).

Generation is written once, against the small ``Draw`` interface, so the same generator runs from a seeded
``random.Random`` (campaigns: ``case_for_seed``; the case is a pure function of (seed, nodes, bug)) and from
Hypothesis (``sim.fuzz.strategies``). Swarm testing: each seed first decides which fault families are on at all, then
draws a schedule from those families only, so rare combinations get runs of their own. The generator is biased
towards what finds consensus bugs: crashes of the leader soon after elections, quick crash-restart "bounces"
(a vote, then amnesia), partitions that cut a leader off while clients keep writing to it, small AppendEntries
batches, narrow election timeouts (split votes), disk latency when crashes are on.

Shrinking (``shrink``) reduces a failing case to a small one failing with the same property: a deterministic
greedy pass (delta debugging over the fault list, halving the duration, 5 -> 3 servers, fewer clients and a lower
rate), then a Hypothesis search over sub-cases of the greedy result, whose preferred direction is "fewer events,
shorter, fewer servers/clients", kept only when it is strictly smaller and still fails the same way.

Modules: ``case`` (a case and its run), ``draw`` (swarm families and the generator), ``campaign`` (seeds in
parallel), ``shrink``, ``export`` (failures as scenario files), ``hunts`` (each catalog bug's hunt),
``strategies`` (the generator under Hypothesis), ``cli`` (``raftsim fuzz`` and ``raftsim replay``).
"""

from sim.check.properties import LIVELOCK, LIVENESS
from sim.fuzz.campaign import Campaign, Options, case_for_seed, run_campaign, run_seed
from sim.fuzz.case import Case, Outcome, run_case
from sim.fuzz.draw import FAMILIES, draw_case
from sim.fuzz.export import to_scenario, write_failure
from sim.fuzz.hunts import BUG_HUNTS, bench_bugs, hunt
from sim.fuzz.shrink import ShrinkResult, shrink

__all__ = [
    "BUG_HUNTS",
    "FAMILIES",
    "LIVELOCK",
    "LIVENESS",
    "Campaign",
    "Case",
    "Options",
    "Outcome",
    "ShrinkResult",
    "bench_bugs",
    "case_for_seed",
    "draw_case",
    "hunt",
    "run_campaign",
    "run_case",
    "run_seed",
    "shrink",
    "to_scenario",
    "write_failure",
]
