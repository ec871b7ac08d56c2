"""Seed-replayable fuzzing: swarm-generated fault schedules, a liveness phase, shrinking to scenario files.

A fuzz *case* is everything one run needs, all explicit: the seed (for the simulation's own random streams), the
cluster/network/workload configuration, a list of ``sim.faults.Fault`` and a duration. The run has two phases:

1. the fault phase (``duration``): the schedule's faults fire, clients issue commands;
2. the liveness phase (``liveness`` more microseconds): at ``duration`` the faults stop and everything is repaired
   by explicit faults (heal, drop and duplicate back to 0, base delays, clocks back to rate 1, every crashed
   server restarted); clients issue no new commands but keep retrying. At the end a leader must exist and no
   client command may be pending, otherwise the case fails with the property ``Liveness``.

Safety failures come from the incremental checker (``Simulation.run`` returns a ``Violation``).

Generation is written once, against the small ``Draw`` interface, so the same generator runs from a seeded
``random.Random`` (campaigns: ``case_for_seed``; the case is a pure function of (seed, nodes, bug)) and from
Hypothesis (``sim.strategies``). Swarm testing: each seed first decides which fault families are on at all, then
draws a schedule from those families only, so rare combinations get runs of their own. The generator is biased
towards what finds consensus bugs: crashes of the leader soon after elections, quick crash-restart "bounces"
(a vote, then amnesia), partitions that cut a leader off while clients keep writing to it, small AppendEntries
batches, narrow election timeouts (split votes), disk latency when crashes are on.

Shrinking (``shrink``) reduces a failing case to a small one failing with the same property: a deterministic
greedy pass (delta debugging over the fault list, halving the duration, 5 -> 3 servers, fewer clients and a lower
rate), then a Hypothesis search over sub-cases of the greedy result, whose preferred direction is "fewer events,
shorter, fewer servers/clients", kept only when it is strictly smaller and still fails the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .bugs import BUGS
from .cluster import ClusterConfig, NetworkConfig, Simulation
from .faults import Fault, schedule
from .network import Delay, Exponential, Fixed, Uniform
from .raft.node import RaftConfig
from .rng import stream
from .workload import WorkloadConfig

LIVENESS = "Liveness"
LIVELOCK = "Livelock"
BASE_DELAY: Delay = Uniform(5_000, 15_000)
MS = 1_000

# ------------------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    """One fuzz run, fully explicit (what a scenario file holds, plus the liveness bound)."""

    seed: int
    cluster: ClusterConfig
    network: NetworkConfig
    workload: WorkloadConfig
    faults: tuple[Fault, ...]  # the fault phase's schedule, sorted by time, all before ``duration``
    duration: int  # microseconds of the fault phase
    liveness: int  # microseconds the liveness phase may take

    @property
    def end(self) -> int:
        return self.duration + self.liveness

    def recovery(self) -> tuple[Fault, ...]:
        """The explicit faults that start the liveness phase: undo every fault family the schedule used."""
        if not self.liveness:
            return ()  # no liveness phase (a shrunk safety failure ends where its violation happened)
        t = self.duration
        out = [Fault(t, "heal"), Fault(t, "drop", value=0.0), Fault(t, "duplicate", value=0.0)]
        out.append(Fault(t, "delay", delay=self.network.delay))
        links = sorted({(f.src, f.dst) for f in self.faults if f.do == "delay" and f.src is not None})
        for src, dst in links:
            assert src is not None and dst is not None
            out.append(Fault(t, "delay", src=src, dst=dst, delay=self.network.delay))
        if any(f.do == "drift" for f in self.faults):
            out.append(Fault(t, "drift", node="all", value=1.0))
        out.append(Fault(t, "restart", node="all-crashed"))
        return tuple(out)

    def all_faults(self) -> tuple[Fault, ...]:
        return self.faults + self.recovery()

    def size(self) -> tuple[int, int, int, int, float]:
        """What shrinking minimises, most important first."""
        w = self.workload
        return (len(self.faults), self.duration, self.cluster.nodes, w.clients if w.rate > 0 else 0, w.rate)


@dataclass(frozen=True)
class Outcome:
    """The result of one case. ``property`` is None when it passed."""

    seed: int
    property: str | None
    detail: str = ""
    time: int = 0  # simulated microseconds when the run stopped
    events: int = 0  # SimPy events processed
    digest: str = ""  # trace digest, when asked for

    @property
    def failed(self) -> bool:
        return self.property is not None


def build(case: Case, trace: bool = False) -> Simulation:
    sim = Simulation(case.cluster, case.network, case.workload, seed=case.seed, trace=trace)
    schedule(sim, case.all_faults())
    return sim


def liveness_problem(sim: Simulation) -> str | None:
    """Why the liveness phase failed at the end of a run, or None."""
    # The same rule as the scenario expectation ``leader_within``, so a shrunk scenario judges liveness alike.
    leader = sim.established_leader()
    pending = sim.pending_commands()
    if leader is None:
        return (
            f"no leader followed by a majority at the end of the liveness phase (live servers {sim.alive()}, "
            f"servers that believe they lead {sim.leaders()}, {pending} client commands pending)"
        )
    if pending:
        return f"{pending} client commands never acknowledged by the end of the liveness phase (leader {leader[0]})"
    return None


# A run that needs more SimPy events than this per simulated millisecond is a message storm (a livelock in which
# messages multiply, e.g. endless rejections with duplication on): it is stopped and reported as ``Livelock``.
EVENTS_PER_MS = 120
SLICE = 100 * MS


class _Storm(Exception):
    pass


def run_case(case: Case, trace: bool = False, digest: bool = False) -> tuple[Outcome, Simulation]:
    sim = build(case, trace=trace or digest)
    budget = EVENTS_PER_MS * case.end // MS + 20_000
    v = None
    t = 0
    try:
        while t < case.end:
            # Slices with an event budget each: a storm inside one slice is caught by the budget check after
            # every event (the check is an integer comparison, deterministic: it never depends on wall time).
            t = min(case.end, t + SLICE)
            limit = budget if t >= case.end else min(budget, EVENTS_PER_MS * t // MS + 20_000)

            def check(s: Simulation, limit: int = limit) -> None:
                if s.events > limit:
                    raise _Storm

            v = sim.run(t, check)
            if v is not None:
                break
    except _Storm:
        pass
    if v is not None:
        out = Outcome(case.seed, v.property, v.detail, sim.now, sim.events)
    elif t < case.end or sim.now < case.end:
        detail = f"message storm: more than {EVENTS_PER_MS} events per simulated ms by t={sim.now / MS:.0f}ms"
        out = Outcome(case.seed, LIVELOCK, detail, sim.now, sim.events)
    else:
        why = liveness_problem(sim)
        out = Outcome(case.seed, LIVENESS if why else None, why or "", sim.now, sim.events)
    if digest:
        out = replace(out, digest=sim.trace.digest())
    return out, sim


# ------------------------------------------------------------------------------------------- generation


class Draw(Protocol):
    """The few choices the generator makes. ``RandomDraw`` answers from a seeded Random, ``sim.strategies``
    from Hypothesis (so the same generator's cases shrink)."""

    def integer(self, lo: int, hi: int) -> int: ...

    def chance(self, p: float) -> bool: ...

    def pick(self, options: Sequence[Any]) -> Any: ...


class RandomDraw:
    def __init__(self, rng: Any) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]


FAMILIES = (
    "crash",  # crash and restart servers (leaders above all), including quick bounces
    "partition",  # partitions, isolating the leader
    "cut",  # one-way link cuts
    "drop",  # message loss changes
    "duplicate",  # message duplication changes
    "delay",  # delay distribution changes (reordering)
    "drift",  # clock drift
    "disk",  # disk latency (writes take time to become durable; a crash loses them)
    "prevote",  # PreVote on
    "check_quorum",  # CheckQuorum (and the leader lease) on
    "small_batch",  # max_batch 1 or 2
    "narrow_timeouts",  # election timeouts in a narrow range: split votes, competing candidates
)


@dataclass(frozen=True)
class Swarm:
    families: frozenset[str]
    load: str  # "none", "light", "medium", "heavy"


def draw_swarm(d: Draw, families: Iterable[str] | None = None) -> Swarm:
    allowed = tuple(FAMILIES if families is None else families)
    # Crashes and partitions are where consensus bugs live: on more often than the rest.
    p = {"crash": 0.75, "partition": 0.6}
    on = frozenset(f for f in allowed if d.chance(p.get(f, 0.4)))
    load = d.pick(("none", "light", "medium", "medium", "heavy", "heavy"))
    return Swarm(on, load)


def draw_delay(d: Draw) -> Delay:
    kind = d.pick(("uniform", "exponential", "fixed", "slow"))
    if kind == "uniform":
        return Uniform(d.integer(0, 5) * MS, d.integer(10, 60) * MS)
    if kind == "exponential":
        return Exponential(d.integer(2, 30) * MS, d.integer(0, 3) * MS)
    if kind == "fixed":
        return Fixed(d.integer(1, 20) * MS)
    return Uniform(20 * MS, d.integer(40, 150) * MS)


def draw_case(
    d: Draw,
    seed: int,
    nodes: int = 5,
    bug: str | None = None,
    families: Iterable[str] | None = None,
    max_duration_ms: int = 3_000,
    fifo: bool = False,
) -> Case:
    """Draw one case. All structure comes from ``d``; ``seed`` only seeds the simulation's own streams."""
    swarm = draw_swarm(d, families)
    on = swarm.families
    ids = list(range(1, nodes + 1))
    majority = nodes // 2 + 1

    # Configuration knobs.
    if "narrow_timeouts" in on:
        lo = d.pick((100, 150, 150, 200)) * MS
        raft_min, raft_max = lo, lo + d.integer(25, 50) * MS
    else:
        raft_min, raft_max = 150 * MS, 300 * MS
    raft = RaftConfig(
        election_timeout_min=raft_min,
        election_timeout_max=raft_max,
        heartbeat_interval=50 * MS,
        max_batch=d.pick((1, 1, 2)) if "small_batch" in on else 64,
        prevote="prevote" in on,
        check_quorum="check_quorum" in on,
    )
    disk = d.pick((1, 2, 5, 10, 20)) * MS if "disk" in on else 0
    cluster = ClusterConfig(nodes=nodes, raft=raft, disk_latency=disk, bug=bug)
    network = NetworkConfig(delay=BASE_DELAY, fifo=fifo)
    clients, rate = {"none": (0, 0.0), "light": (1, 10.0), "medium": (3, 50.0), "heavy": (4, 100.0)}[swarm.load]
    duration = d.integer(max(2, max_duration_ms // 250), max_duration_ms // 100) * 100 * MS
    workload = WorkloadConfig(clients=clients, rate=rate, timeout=300 * MS, stop=duration)

    # The schedule: a walk in time, each step one action of an enabled family.
    faults: list[Fault] = []
    actions = sorted(on & {"crash", "partition", "cut", "drop", "duplicate", "delay", "drift"})
    t = d.integer(0, 400) * MS
    # Mean gap between actions: some seeds are quiet, some are storms.
    mean_gap = d.pick((60, 120, 250, 500))
    crashed_budget = nodes - majority  # crashes beyond this stop the cluster: allowed, but rarely
    while actions and t < duration:
        family = d.pick(actions)
        if family == "crash":
            style = d.pick(("leader", "leader", "storm", "storm", "bounce", "bounce", "follower", "random", "restart"))
            if style == "storm":
                # A crash storm around an election: the leader dies, then more crashes hit whoever is elected
                # next and random servers while votes are cast, then everyone restarts. Restarted servers come back
                # with only what they persisted, next to servers that never heard of the new term.
                faults.append(Fault(t, "crash", node="leader"))
                end = t + d.integer(350, 700) * MS
                if d.chance(0.5):
                    # Silence each new leader right after its election (tries every 10ms): crashed, or cut off
                    # while its first AppendEntries are in flight, so its voters never hear of its term's entry.
                    # Then a random server bounces (forgetting whatever it did not persist) as the crashed ones
                    # come back, some of them still in an older term.
                    how = d.pick(("crash", "isolate"))
                    for k in range(d.integer(12, 18), (end - t) // (10 * MS)):
                        faults.append(Fault(t + k * 10 * MS, how, node="leader"))
                    faults.append(Fault(end, "crash", node="random"))
                    end += d.integer(1, 30) * MS
                else:
                    for _ in range(d.integer(1, 4)):
                        when = t + d.integer(0, 500) * MS
                        faults.append(Fault(min(when, end - MS), "crash", node=d.pick(("leader", "leader", "random"))))
                faults.append(Fault(end, "restart", node="all-crashed"))
                t = end
            elif style == "restart":
                faults.append(Fault(t, "restart", node="all-crashed"))
            elif style == "bounce":
                # A quick crash and restart: a server forgets what it did not persist (votes, unsynced writes).
                target: Any = d.pick(ids)
                faults.append(Fault(t, "crash", node=target))
                faults.append(Fault(t + d.integer(0, 30) * MS, "restart", node=target))
            else:
                faults.append(Fault(t, "crash", node=style))
                if crashed_budget <= 0 or d.chance(0.8):
                    # Restart everyone soon-ish: new elections, old logs back in play (Figure 8's shape).
                    faults.append(Fault(t + d.integer(5, 500) * MS, "restart", node="all-crashed"))
                else:
                    crashed_budget -= 1
        elif family == "partition":
            style = d.pick(("leader", "split", "split", "heal", "comeback", "comeback"))
            if style == "comeback":
                # Figure 8's shape. The leader is cut off while clients still write to it (entries of its term on
                # a minority). The other side elects a leader, which is cut off in its turn right after its
                # election (tries every 10ms: a new leader's first AppendEntries are in flight then, and a cut
                # drops them), so its entry at those indexes stays on it alone. The first leader is back with
                # the rest, may be elected again and replicates its old-term entries; it is cut off once more
                # in the middle of that, and everyone heals.
                faults.append(Fault(t, "isolate", node="leader"))
                for k in range(d.integer(12, 18), d.integer(35, 45)):
                    faults.append(Fault(t + k * 10 * MS, "isolate", node="leader"))
                t2 = t + d.integer(550, 1_000) * MS
                faults.append(Fault(t2, "isolate", node="leader"))
                t = t2 + d.integer(100, 400) * MS
                faults.append(Fault(t, "heal"))  # the walk goes on from here: nothing else interferes
            elif style == "leader":
                faults.append(Fault(t, "isolate", node="leader"))
            elif style == "split":
                cut_at = d.integer(1, nodes - 1)
                order = list(ids)
                for i in range(len(order) - 1, 0, -1):  # a drawn shuffle
                    j = d.integer(0, i)
                    order[i], order[j] = order[j], order[i]
                faults.append(Fault(t, "partition", groups=(tuple(sorted(order[:cut_at])),)))
            else:
                faults.append(Fault(t, "heal"))
            if style in ("leader", "split") and d.chance(0.7):
                faults.append(Fault(t + d.integer(50, 1_000) * MS, "heal"))
        elif family == "cut":
            src = d.pick(ids)
            dst = d.pick([i for i in ids if i != src])
            faults.append(Fault(t, "cut", src=src, dst=dst))
            if d.chance(0.6):
                faults.append(Fault(t + d.integer(50, 800) * MS, "repair", src=src, dst=dst))
        elif family == "drop":
            faults.append(Fault(t, "drop", value=d.pick((0.0, 0.02, 0.1, 0.3, 0.6))))
        elif family == "duplicate":
            faults.append(Fault(t, "duplicate", value=d.pick((0.0, 0.02, 0.05, 0.1, 0.2))))
        elif family == "delay":
            if d.chance(0.3):
                src = d.pick(ids)
                dst = d.pick([i for i in ids if i != src])
                faults.append(Fault(t, "delay", src=src, dst=dst, delay=draw_delay(d)))
            else:
                faults.append(Fault(t, "delay", delay=draw_delay(d)))
        elif family == "drift":
            faults.append(Fault(t, "drift", node=d.pick(ids), value=d.pick((0.5, 0.8, 0.95, 1.0, 1.05, 1.3, 2.0))))
        t += d.integer(mean_gap // 4, mean_gap * 2) * MS
    kept = tuple(sorted((f for f in faults if f.at < duration), key=lambda f: f.at))  # stable: same-time order kept
    # The liveness bound: several election rounds and client retries, longer with a slow disk.
    liveness = 3_000 * MS + 20 * disk + 4 * workload.timeout
    return Case(seed, cluster, network, workload, kept, duration, liveness)


@dataclass(frozen=True)
class Options:
    """What, besides the seed, determines a campaign's cases."""

    nodes: int = 5
    bug: str | None = None
    families: tuple[str, ...] | None = None
    max_duration_ms: int = 3_000
    fifo: bool = False  # every case's links deliver in send order (NetworkConfig.fifo); draws nothing


def case_for_seed(seed: int, options: Options = Options()) -> Case:
    """The case of one seed: a pure function of (seed, options)."""
    d = RandomDraw(stream(seed, "fuzz"))
    return draw_case(d, seed, options.nodes, options.bug, options.families, options.max_duration_ms, options.fifo)


def run_seed(seed: int, options: Options = Options(), digest: bool = False) -> Outcome:
    return run_case(case_for_seed(seed, options), digest=digest)[0]


def run_seed_checked(seed: int, options: Options) -> Outcome:
    """Run twice with traces on; a different trace digest is reported as the property ``Determinism``."""
    first = run_seed(seed, options, digest=True)
    second = run_seed(seed, options, digest=True)
    if first.digest != second.digest or first.property != second.property:
        return Outcome(seed, "Determinism", f"trace digests differ: {first.digest[:16]} vs {second.digest[:16]}")
    return first


def _run_batch(seeds: Sequence[int], options: Options, check: bool) -> list[Outcome]:
    f = run_seed_checked if check else run_seed
    return [f(s, options) for s in seeds]


# ------------------------------------------------------------------------------------------- campaigns


@dataclass
class Campaign:
    outcomes: list[Outcome] = field(default_factory=list)
    wall: float = 0.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    def by_property(self) -> Counter[str]:
        return Counter(o.property for o in self.failures if o.property)


def _batches(seeds: Iterator[int], size: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for s in seeds:
        batch.append(s)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_campaign(
    seeds: Iterable[int],
    options: Options = Options(),
    workers: int = 1,
    scheduler: str | None = None,
    check_determinism: bool = False,
    deadline: float | None = None,
    progress: Callable[[Outcome], None] | None = None,
    stop_after_failures: int | None = None,
) -> Campaign:
    """Run seeds (serially, in ``workers`` processes, or on a Dask cluster). Outcomes come back in seed order and
    are identical whichever way they ran; ``deadline`` (a ``time.monotonic()`` value) stops handing out seeds."""
    start = time.monotonic()
    camp = Campaign()
    failures = 0

    def take(outs: Iterable[Outcome]) -> bool:
        nonlocal failures
        for o in outs:
            camp.outcomes.append(o)
            failures += o.failed
            if progress:
                progress(o)
            if stop_after_failures is not None and failures >= stop_after_failures:
                return False
        return not (deadline is not None and time.monotonic() >= deadline)

    it = iter(seeds)
    if scheduler is not None:
        _campaign_dask(it, options, scheduler, check_determinism, take)
    elif workers <= 1:
        for batch in _batches(it, 1):
            if not take(_run_batch(batch, options, check_determinism)):
                break
    else:
        _campaign_pool(it, options, workers, check_determinism, take)
    camp.wall = time.monotonic() - start
    return camp


def _campaign_pool(
    seeds: Iterator[int], options: Options, workers: int, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    batch = 4
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: list[Any] = []
        batches = _batches(seeds, batch)
        # Keep a bounded window of batches in flight and consume them in submission (= seed) order.
        for b in batches:
            pending.append(pool.submit(_run_batch, b, options, check))
            if len(pending) >= workers * 4:
                break
        while pending:
            fut = pending.pop(0)
            if not take(fut.result()):
                for p in pending:
                    p.cancel()
                return
            nxt = next(batches, None)
            if nxt is not None:
                pending.append(pool.submit(_run_batch, nxt, options, check))


def _campaign_dask(
    seeds: Iterator[int], options: Options, address: str, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - depends on the install
        from .errors import UsageError

        raise UsageError("--scheduler: needs dask[distributed] (pip install 'raftsim[dask]')") from e
    from .errors import UsageError

    try:
        client = Client(address, timeout="10s") if isinstance(address, str) else Client(address)
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"--scheduler: cannot connect to {address}: {e}") from None
    try:
        _dask_loop(client, seeds, options, check, take)
    finally:
        client.close()


def _dask_loop(
    client: Any, seeds: Iterator[int], options: Options, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    batches = _batches(seeds, 8)
    window = max(4, 4 * sum(client.nthreads().values()))
    pending = [client.submit(_run_batch, b, options, check, pure=False) for b in _take_n(batches, window)]
    while pending:
        fut = pending.pop(0)
        if not take(fut.result()):
            client.cancel(pending)
            return
        nxt = next(batches, None)
        if nxt is not None:
            pending.append(client.submit(_run_batch, nxt, options, check, pure=False))


def _take_n(it: Iterator[list[int]], n: int) -> list[list[int]]:
    out = []
    for b in it:
        out.append(b)
        if len(out) >= n:
            break
    return out


# ------------------------------------------------------------------------------------------- shrinking


def restrict(
    case: Case,
    keep: Sequence[bool] | None = None,
    duration: int | None = None,
    nodes: int | None = None,
    clients: int | None = None,
    rate: float | None = None,
    liveness: int | None = None,
) -> Case:
    """A sub-case: only the kept faults before the new duration, on the first ``nodes`` servers (faults naming
    others are dropped or narrowed), with fewer clients or a lower rate."""
    duration = case.duration if duration is None else duration
    nodes = case.cluster.nodes if nodes is None else nodes
    w = case.workload
    clients = w.clients if clients is None else clients
    rate = w.rate if rate is None else rate
    if clients == 0 or rate <= 0:
        clients, rate = 0, 0.0
    faults: list[Fault] = []
    for i, f in enumerate(case.faults):
        if (keep is not None and not keep[i]) or f.at >= duration:
            continue
        g = _narrow(f, nodes)
        if g is not None:
            faults.append(g)
    return Case(
        case.seed,
        replace(case.cluster, nodes=nodes),
        case.network,
        replace(w, clients=clients, rate=rate, stop=duration),
        tuple(faults),
        duration,
        case.liveness if liveness is None else liveness,
    )


def _narrow(f: Fault, nodes: int) -> Fault | None:
    """``f`` on a cluster of ``nodes`` servers, or None when it names only servers that are gone."""
    if isinstance(f.node, int) and f.node > nodes:
        return None
    if isinstance(f.node, tuple):
        kept = tuple(n for n in f.node if n <= nodes)
        if not kept:
            return None
        f = replace(f, node=kept)
    if (f.src is not None and f.src > nodes) or (f.dst is not None and f.dst > nodes):
        return None
    if f.do == "partition":
        groups = tuple(g for g in (tuple(n for n in grp if n <= nodes) for grp in f.groups) if g)
        if not groups:
            return None
        f = replace(f, groups=groups)
    return f


@dataclass
class ShrinkResult:
    original: Case
    case: Case
    outcome: Outcome
    runs: int = 0  # cases run while shrinking
    greedy_size: tuple[int, int, int, int, float] | None = None  # size after the greedy pass
    hypothesis_improved: bool = False  # whether the Hypothesis pass found something smaller still


class _Shrinker:
    def __init__(self, case: Case, prop: str, max_runs: int) -> None:
        self.prop = prop
        self.best = case
        self.best_outcome: Outcome | None = None
        self.runs = 0
        self.max_runs = max_runs

    def fails(self, case: Case) -> bool:
        if self.runs >= self.max_runs:
            return False
        self.runs += 1
        out, _ = run_case(case)
        if out.property == self.prop:
            if case.size() < self.best.size():
                self.best, self.best_outcome = case, out
            return True
        return False

    def try_(self, case: Case) -> bool:
        return case.size() < self.best.size() and self.fails(case)

    def greedy(self) -> None:
        while True:
            before = self.best.size()
            self._cut_duration()
            self._drop_faults()
            self._fewer_nodes()
            self._lighter_load()
            if self.best.size() == before or self.runs >= self.max_runs:
                return

    def _cut_duration(self) -> None:
        c = self.best
        if self.prop not in (LIVENESS, LIVELOCK) and self.best_outcome is not None:
            # A safety violation at time t needs nothing after t: end the fault phase just after it, and the
            # liveness phase at once (events before t are unchanged, so this always reproduces).
            t = self.best_outcome.time
            d = min(c.duration, (t // (10 * MS) + 1) * 10 * MS)
            self.try_(restrict(c, duration=d, liveness=0)) or self.try_(restrict(c, liveness=0))
        c = self.best
        d = c.duration
        while d > 100 * MS:
            d = max(100 * MS, (d // 2) // (10 * MS) * 10 * MS)
            if not self.try_(restrict(self.best, duration=d)):
                break

    def _drop_faults(self) -> None:
        # Delta debugging: drop chunks, halving the chunk size down to single events.
        chunk = max(1, len(self.best.faults) // 2)
        while chunk >= 1:
            i = 0
            while i < len(self.best.faults):
                n = len(self.best.faults)
                keep = [not (i <= k < i + chunk) for k in range(n)]
                if not self.try_(restrict(self.best, keep=keep)):
                    i += chunk
            if chunk == 1:
                break
            chunk //= 2

    def _fewer_nodes(self) -> None:
        n = self.best.cluster.nodes
        for fewer in range(3 if n > 3 else n, n):
            if self.try_(restrict(self.best, nodes=fewer)):
                return

    def _lighter_load(self) -> None:
        w = self.best.workload
        for clients in range(0, w.clients):
            if self.try_(restrict(self.best, clients=clients)):
                break
        w = self.best.workload
        rate = w.rate
        while rate > 1:
            rate = float(int(rate / 2))
            if not self.try_(restrict(self.best, rate=rate)):
                break

    def hypothesis_pass(self, examples: int) -> bool:
        """Search sub-cases of the current best with Hypothesis and let it shrink what it finds: all choices
        shrink towards fewer events, a shorter run, fewer servers and clients."""
        from hypothesis import HealthCheck, Phase, find, settings
        from hypothesis import strategies as st
        from hypothesis.errors import NoSuchExample

        base = self.best
        n = len(base.faults)
        steps = max(1, base.duration // (10 * MS))
        w = base.workload

        @st.composite
        def sub_cases(draw: Any) -> Case:
            keep = [draw(st.booleans()) for _ in range(n)]
            duration = draw(st.integers(1, steps)) * 10 * MS
            nodes = draw(st.sampled_from(sorted({3, base.cluster.nodes}))) if base.cluster.nodes > 3 else None
            clients = draw(st.integers(0, w.clients)) if w.clients else None
            return restrict(base, keep=keep, duration=duration, nodes=nodes, clients=clients)

        before = self.best.size()
        with contextlib.suppress(NoSuchExample):
            find(
                sub_cases(),
                lambda c: self.fails(c),
                settings=settings(
                    max_examples=examples,
                    database=None,
                    derandomize=True,  # the same failure always shrinks to the same file
                    deadline=None,
                    phases=[Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        return self.best.size() < before


def shrink(case: Case, prop: str, max_runs: int = 300, hypothesis_examples: int = 60) -> ShrinkResult:
    """Reduce a case failing with ``prop`` to a smaller one failing with ``prop`` (see the module docstring)."""
    s = _Shrinker(case, prop, max_runs)
    out, _ = run_case(case)
    s.runs += 1
    if out.property != prop:
        raise ValueError(f"the case does not fail with {prop} (got {out.property})")
    s.best_outcome = out
    s.greedy()
    greedy_size = s.best.size()
    improved = False
    if hypothesis_examples and s.runs < max_runs:
        improved = s.hypothesis_pass(hypothesis_examples)
        if improved:
            s.greedy()  # Hypothesis may have opened the way for more greedy steps
    final, _ = run_case(s.best)
    return ShrinkResult(case, s.best, final, s.runs, greedy_size, improved)


# ------------------------------------------------------------------------------------- scenario files


def replay_command(seed: int, options: Options) -> str:
    cmd = f"raftsim replay {seed} --nodes {options.nodes}"
    if options.bug:
        cmd += f" --bug {options.bug}"
    if options.families is not None:
        cmd += f" --families {','.join(options.families)}"
    if options.fifo:
        cmd += " --fifo"
    return cmd


def to_scenario(case: Case, outcome: Outcome, options: Options, original: Case | None = None) -> Any:
    from .scenario import Expectation, Scenario

    expectations: tuple[Expectation, ...] = ()
    if case.liveness:
        expectations = (
            Expectation("leader_within", case.liveness, start=case.duration),
            Expectation("clients_complete", True),
        )
    orig = original or case
    description = (
        f"Found by the fuzzer: seed {case.seed} fails with {outcome.property} ({outcome.detail}). "
        f"Replay the original run with: {replay_command(case.seed, options)}. "
        f"Shrunk from {len(orig.faults)} fault events, {orig.duration / MS:.0f}ms, {orig.cluster.nodes} servers "
        f"and {orig.workload.clients} clients to {len(case.faults)} events, {case.duration / MS:.0f}ms, "
        f"{case.cluster.nodes} servers and {case.workload.clients} clients."
        + (
            f" From {case.duration / MS:.0f}ms on, the liveness phase: faults stop, the network heals, crashed "
            "servers restart; a leader must be followed by a majority and every client command must complete."
            if case.liveness
            else ""
        )
    )
    return Scenario(
        name=f"fuzz seed {case.seed}: {outcome.property}" + (f" (bug {case.cluster.bug})" if case.cluster.bug else ""),
        description=description,
        seed=case.seed,
        duration=case.end,
        cluster=case.cluster,
        network=case.network,
        workload=case.workload,
        faults=case.all_faults(),
        expectations=expectations,
    )


def scenario_property(path: str | Path) -> str | None:
    """What ``raftsim run`` finds on a scenario file: the violated property, ``Liveness`` for a failed
    expectation, None when it passes."""
    from .scenario import load, run_scenario

    result = run_scenario(load(path), trace=False)
    if result.violation is not None:
        return result.violation.property
    return None if result.passed else LIVENESS


def write_failure(
    case: Case, outcome: Outcome, options: Options, out_dir: str | Path, original: Case | None = None
) -> Path:
    from .scenario import to_toml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = options.bug or "correct"
    path = out / f"{tag}-seed{case.seed}-{outcome.property}.toml"
    path.write_text(to_toml(to_scenario(case, outcome, options, original)), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- command line

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|min|h)?\s*$")


def parse_wall_time(text: str) -> float:
    """``--time`` values: ``60s``, ``2m``, ``500ms``, ``1h``; a bare number is seconds."""
    from .errors import UsageError

    m = _DURATION_RE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--time: expected a positive duration such as 60s, 5m or 1h, got {text!r}")
    unit = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[m.group(2)]
    return float(m.group(1)) * unit


def _options(args: argparse.Namespace) -> Options:
    from .errors import UsageError

    if not 1 <= args.nodes <= 15:
        raise UsageError(f"--nodes: expected an integer from 1 to 15, got {args.nodes}")
    if args.bug is not None and args.bug not in BUGS:
        raise UsageError(f"--bug: expected one of {', '.join(BUGS)}, got {args.bug!r}")
    families = None
    if getattr(args, "families", None):
        families = tuple(f.strip() for f in args.families.split(",") if f.strip())
        unknown = [f for f in families if f not in FAMILIES]
        if unknown or not families:
            raise UsageError(
                f"--families: expected a comma-separated list of {', '.join(FAMILIES)}, got {args.families!r}"
            )
    return Options(nodes=args.nodes, bug=args.bug, families=families, fifo=args.fifo)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, default=5, help="servers in the cluster (default 5)")
    p.add_argument("--bug", metavar="NAME", help="switch on a known bug (see --list-bugs)")
    p.add_argument(
        "--families",
        metavar="LIST",
        help=f"only these fault families may be switched on (comma-separated; default all: {','.join(FAMILIES)})",
    )
    p.add_argument("--fifo", action="store_true", help="links deliver in send order, as TCP connections do")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fuzz",
        help="run seeds of random fault schedules, shrink failures to scenario files",
        description=(
            "Run a campaign of seeds. Each seed generates a fault schedule and a workload (swarm testing: each seed "
            "also picks which fault families are on), then a liveness phase (faults stop, the network heals, "
            "crashed servers restart; a leader must emerge and every client command complete). Failures are "
            "shrunk and written as scenario files. Exit code 0 when every seed passed, 1 when any failed, "
            "2 for bad input."
        ),
    )
    how_many = p.add_mutually_exclusive_group()
    how_many.add_argument("--seeds", type=int, help="how many seeds to run (default 100)")
    how_many.add_argument("--time", metavar="DURATION", help="run seeds for this long (wall time: 60s, 5m)")
    p.add_argument("--start-seed", type=int, default=0, help="first seed (default 0)")
    _common(p)
    p.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed cluster (tcp://host:8786)")
    p.add_argument("--out", default="fuzz-failures", metavar="DIR", help="where shrunk failures go")
    p.add_argument("--check-determinism", action="store_true", help="run each seed twice, compare trace digests")
    p.add_argument("--no-shrink", action="store_true", help="write failures as generated, without shrinking")
    p.add_argument("--list-bugs", action="store_true", help="print the known bugs, one per line, and exit")
    p.set_defaults(func=fuzz_command)

    r = subparsers.add_parser(
        "replay",
        help="reproduce one fuzz seed exactly",
        description="Run one fuzz seed again, exactly as the campaign ran it (same options). Exit code 1 if it fails.",
    )
    r.add_argument("seed", type=int, metavar="SEED")
    _common(r)
    r.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines")
    r.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run")
    r.add_argument("--schedule", action="store_true", help="print the generated case (configuration and faults)")
    r.set_defaults(func=replay_command_main)


class _Progress:
    """A one-line progress bar on stderr (only when it is a terminal), and a final line."""

    def __init__(self, total: int | None, stream_: Any = None) -> None:
        self.stream = stream_ or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = total
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, o: Outcome) -> None:
        self.done += 1
        self.failed += o.failed
        now = time.monotonic()
        if self.tty and now - self.last > 0.2:
            self.last = now
            self.stream.write("\r" + self.line() + "   ")
            self.stream.flush()

    def line(self) -> str:
        elapsed = max(1e-9, time.monotonic() - self.start)
        of = f"/{self.total}" if self.total else ""
        return f"fuzz: {self.done}{of} seeds, {self.done / elapsed:.1f} seeds/s, {self.failed} failed"

    def finish(self) -> None:
        self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
        self.stream.flush()


def fuzz_command(args: argparse.Namespace) -> int:
    from .errors import UsageError

    if args.list_bugs:
        for name in BUGS:
            print(name)
        return 0
    options = _options(args)
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds: expected a positive integer, got {args.seeds}")
    if args.start_seed < 0:
        raise UsageError(f"--start-seed: expected a non-negative integer, got {args.start_seed}")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise UsageError(f"--workers: expected a positive integer, got {workers}")
    deadline = None
    total: int | None
    if args.time is not None:
        deadline = time.monotonic() + parse_wall_time(args.time)
        seeds: Iterable[int] = _count(args.start_seed)
        total = None
    else:
        total = args.seeds if args.seeds is not None else 100
        seeds = range(args.start_seed, args.start_seed + total)
    progress = _Progress(total)
    camp = run_campaign(
        seeds,
        options,
        workers=workers,
        scheduler=args.scheduler,
        check_determinism=args.check_determinism,
        deadline=deadline,
        progress=progress,
    )
    progress.finish()
    report_failures(camp, options, args.out, shrink_failures=not args.no_shrink)
    ran = len(camp.outcomes)
    by = camp.by_property()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"
    where = f"scheduler {args.scheduler}" if args.scheduler else f"{workers} worker{'s' if workers > 1 else ''}"
    print(
        f"{ran} seeds ({args.start_seed}..{args.start_seed + ran - 1}) run in {camp.wall:.1f}s on {where} "
        f"({ran / max(camp.wall, 1e-9):.1f} seeds/s); failures by property: {summary}"
        + ("; determinism checked (each seed twice)" if args.check_determinism else "")
    )
    return 1 if camp.failures else 0


def _count(start: int) -> Iterator[int]:
    n = start
    while True:
        yield n
        n += 1


def report_failures(camp: Campaign, options: Options, out_dir: str, shrink_failures: bool = True) -> None:
    """Print each failure (in seed order) with its replay command and scenario file. The first failure of each
    property is shrunk (shrinking costs hundreds of runs); the others are written as generated."""
    shrunk_props: set[str] = set()
    for o in camp.failures:
        assert o.property is not None
        print(f"FAIL seed {o.seed}: {o.property}: {o.detail}")
        print(f"  replay:   {replay_command(o.seed, options)}")
        if o.property in ("Determinism",):
            print("  (a determinism failure: the same seed ran differently twice; please report it)")
            continue
        case = case_for_seed(o.seed, options)
        if o.property == LIVELOCK:
            # A scenario run has no event budget: a message storm would not end, so none is written.
            print("  scenario: not written (message storms are reported by the fuzzer only)")
            continue
        final, final_out = case, o
        note = "as generated"
        if shrink_failures and o.property not in shrunk_props:
            shrunk_props.add(o.property)
            res = shrink(case, o.property)
            final, final_out = res.case, res.outcome
            note = (
                f"shrunk in {res.runs} runs from {len(case.faults)} events/{case.duration / MS:.0f}ms/"
                f"{case.cluster.nodes} servers/{case.workload.clients} clients to {len(final.faults)} events/"
                f"{final.duration / MS:.0f}ms/{final.cluster.nodes} servers/{final.workload.clients} clients"
            )
        path = write_failure(final, final_out, options, out_dir, original=case)
        print(f"  scenario: {path} ({note}); check with: raftsim run {path}")


def replay_command_main(args: argparse.Namespace) -> int:
    from .errors import UsageError

    options = _options(args)
    if args.seed < 0:
        raise UsageError(f"SEED: expected a non-negative integer, got {args.seed}")
    case = case_for_seed(args.seed, options)
    if args.schedule:
        print(describe_case(case))
    out, sim = run_case(case, trace=True, digest=True)
    status = f"FAIL {out.property}: {out.detail}" if out.failed else "PASS"
    print(
        f"seed {args.seed} ({options.nodes} servers{', bug ' + options.bug if options.bug else ''}): {status}\n"
        f"  {len(case.faults)} fault events, {case.duration / MS:.0f}ms fault phase + {case.liveness / MS:.0f}ms "
        f"liveness phase; stopped at {out.time / MS:.3f}ms after {out.events} events; "
        f"{len(sim.elections)} elections, commit index {sim.committed}, {sim.acked()} commands acknowledged\n"
        f"  trace digest {out.digest}"
    )
    if sim.violation is not None:
        print(sim.violation.report())
    if args.trace:
        sim.trace.write_jsonl(args.trace)
        print(f"  trace written to {args.trace}")
    if args.plot:
        from .plot import plot_timeline

        plot_timeline(sim.trace, args.plot, title=f"fuzz seed {args.seed}: {out.property or 'passed'}")
        print(f"  timeline drawn to {args.plot}")
    return 1 if out.failed else 0


def describe_case(case: Case) -> str:
    c, r, w = case.cluster, case.cluster.raft, case.workload
    lines = [
        f"seed {case.seed}: {c.nodes} servers, election timeout {r.election_timeout_min / MS:.0f}-"
        f"{r.election_timeout_max / MS:.0f}ms, max_batch {r.max_batch}, prevote {r.prevote}, check_quorum "
        f"{r.check_quorum}, disk latency {c.disk_latency / MS:.0f}ms; {w.clients} clients at {w.rate:g}/s",
    ]
    for f in case.all_faults():
        fields_ = {k: v for k, v in dataclasses.asdict(f).items() if v not in (None, ()) and k not in ("at", "do")}
        lines.append(f"  {f.at / MS:9.0f}ms {f.do:<9} {fields_}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- bench

# How the benchmark (and the test suite) hunts each known bug. Most are found by the default campaign on five
# servers. Figure 8 and the lost vote need a precise chain of events (see the "comeback" pattern and the crash
# storms in ``draw_case``): they are hunted on three servers with the fault families that build that chain, so a
# small seed budget suffices. ``raftsim fuzz --nodes 3 --families ... --bug ...`` runs the same campaigns.
BUG_HUNTS: dict[str, Options] = {
    "figure8-commit": Options(nodes=3, bug="figure8-commit", families=("partition", "small_batch", "disk")),
    "volatile-vote": Options(nodes=3, bug="volatile-vote", families=("crash", "disk")),
    "volatile-term": Options(nodes=5, bug="volatile-term"),
    "vote-without-log-check": Options(nodes=5, bug="vote-without-log-check"),
    "truncate-on-match": Options(nodes=5, bug="truncate-on-match"),
    "ack-before-persist": Options(nodes=3, bug="ack-before-persist", families=("crash", "partition", "disk")),
    "commit-beyond-match": Options(nodes=5, bug="commit-beyond-match"),
}


def hunt(options: Options, budget: int, workers: int = 1, start: int = 0) -> Outcome | None:
    """The first failing seed of a campaign of at most ``budget`` seeds, or None."""
    camp = run_campaign(range(start, start + budget), options, workers=workers, stop_after_failures=1)
    return camp.failures[0] if camp.failures else None


def bench_bugs(
    budget: int = 2000, workers: int | None = None, out_dir: str | Path | None = None
) -> list[dict[str, Any]]:
    """For each known bug: seeds to the first failure, the property, and the size of the shrunk case (with
    ``out_dir``, the shrunk scenario is written there and run again as ``raftsim run`` would)."""
    workers = workers or os.cpu_count() or 1
    rows: list[dict[str, Any]] = []
    for name in BUGS:
        options = BUG_HUNTS.get(name, Options(bug=name))
        t0 = time.monotonic()
        first = hunt(options, budget, workers)
        row: dict[str, Any] = {
            "bug": name,
            "nodes": options.nodes,
            "families": ",".join(options.families) if options.families else "all",
            "seeds_to_failure": None if first is None else first.seed + 1,
            "property": None if first is None else first.property,
            "shrunk_events": None,
            "shrunk_duration_ms": None,
            "shrunk_nodes": None,
        }
        if first is not None and first.property not in (LIVELOCK, "Determinism"):
            assert first.property is not None
            res = shrink(case_for_seed(first.seed, options), first.property)
            row.update(
                original_events=len(case_for_seed(first.seed, options).faults),
                shrunk_events=len(res.case.faults),
                shrunk_duration_ms=res.case.duration // MS,
                shrunk_nodes=res.case.cluster.nodes,
                shrink_runs=res.runs,
                hypothesis_improved=res.hypothesis_improved,
            )
            if out_dir is not None:
                # The written scenario must fail ``raftsim run`` the same way.
                path = write_failure(
                    res.case, res.outcome, options, out_dir, original=case_for_seed(first.seed, options)
                )
                row["scenario"] = str(path)
                row["scenario_property"] = scenario_property(path)
        row["wall_s"] = round(time.monotonic() - t0, 1)
        rows.append(row)
    return rows
