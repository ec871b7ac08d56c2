"""``raftsim experiment figure16``: the Raft paper's Figure 16 (extended version, Section 9.3) reproduced.

The paper measures how long a five-server cluster is without a leader after the leader crashes, for several
ranges of randomized election timeouts. This module runs that experiment on the simulator, one independent
``Simulation`` per trial, and draws the same two panels (cumulative percent of trials against time without a
leader).

The setup, as modelled here (see plots/README.md for the comparison with the paper):

- Five servers. One-way network delay Uniform(4 ms, 9 ms) per message, independently: the mean round trip is
  13 ms and the mean *broadcast time* (sending to the four others in parallel and hearing every reply, i.e. the
  slowest of four round trips) is about 15 ms, the paper's figure. Writes are durable at once.
- ``heartbeat_interval`` = half the minimum election timeout (the paper: "half of the minimum election timeout").
- Durable state before the crash: everybody is in term 1 and voted for server 1, the leader. Logs have different
  lengths (entries all of term 1): servers 1, 2 and 3 hold 5 entries, server 4 holds 4 and server 5 holds 3. After
  the leader crashes only servers 2 and 3 can win an election (Section 5.4.1's up-to-date check): server 4
  collects at most its own vote and server 5's, server 5 only its own.
- At t = 0 the leader makes a synchronized heartbeat broadcast: an AppendEntries of term 1 to each follower
  (committing index 5), sent through the simulated network with the same delay distribution. Each follower
  resets its election timer when its copy arrives. The servers are (re)booted from the durable state above at
  t = 0, so the only earlier event that matters, the last heartbeat, is modelled exactly; the leader needs no
  live leader state because it sends nothing else before it crashes.
- The leader crashes at a time drawn uniformly from [0, heartbeat_interval): before its next heartbeat.
- Broadcast time (``--broadcast``): by default all network (see ``BROADCAST``); ``disk`` puts most of it in
  durable writes instead (Section 5.6: the broadcast time depends on the storage technology).
- The servers run the simulator's own ``sim.raft.Node``, unchanged. It follows Figure 2's election-timer rule
  as the paper's implementation does: the timer restarts only on an AppendEntries from the current leader or on
  granting a vote (not on merely adopting a higher term, which would let a server that cannot win keep pushing
  everybody's timers back).
- **Time without leader**: from the crash until every other live server (the three surviving followers) has
  received an AppendEntries from one and the same new leader (same sender, same term > 1), i.e. until "the
  other servers have heard from the new leader". A message counts when it is delivered, whether or not the
  receiver's log then matches.
- A trial that has not ended ``cap`` after the crash (20 s of simulated time by default) is stopped and reported
  as capped: it counts in the cumulative curves as "longer than the cap", and a line with a capped trial has no
  mean or maximum (reported as ``capped``/``inf``).

Every trial is reproducible on its own: trial ``i`` of the line ``L`` (e.g. ``150-155``) runs with the seed
``stream(base_seed, "figure16/L/i")``; results do not depend on the number of worker processes.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The lines of the two panels, as (min, max) election timeouts in milliseconds.
TOP = ((150, 150), (150, 151), (150, 155), (150, 175), (150, 200), (150, 300))
BOTTOM = ((12, 24), (25, 50), (50, 100), (100, 200), (150, 300))
LINES = tuple(dict.fromkeys(TOP + BOTTOM))  # 150-300 is in both panels: run once

# Where the ~15 ms broadcast time is spent (``--broadcast``): (one-way network delay Uniform(low, high), time for a
# write to become durable), in microseconds.
# - network: all of it on the wire; the mean slowest-of-four round trip is 15.1 ms (no disk wait).
# - disk: a LAN (0.2-0.8 ms one way) and a 14 ms durable write before a server answers a vote or appends entries;
#   Section 5.6 of the paper puts broadcast times at 0.5-20 ms depending on storage technology, since servers
#   persist state before answering. Here a candidate also persists its new term and vote before its RequestVotes
#   leave, and a new leader its no-op before its first AppendEntries (etcd's order, see sim.world.cluster).
# - disk-early: as disk, but a candidate's RequestVotes leave while its own write is in progress
#   (``RaftConfig.early_vote_requests``): voters hear of the election 14 ms sooner.
BROADCAST = {"network": ((4_000, 9_000), 0), "disk": ((200, 800), 14_000), "disk-early": ((200, 800), 14_000)}
LEADER = 1
LOG_LENGTHS = {1: 5, 2: 5, 3: 5, 4: 4, 5: 3}
COMMITTED = 5  # index 5 is on servers 1, 2 and 3: a majority
DEFAULT_CAP_MS = 20_000.0

# What the paper quotes (extended version, Section 9.3 and Figure 16), for the printed comparison.
PAPER = {
    "150-155": "median 287 ms",
    "150-200": "worst of 1000 trials 513 ms",
    "12-24": "mean 35 ms, worst 152 ms",
    "150-150": "some trials over 10 s",
}


def label(line: tuple[int, int]) -> str:
    return f"{line[0]}-{line[1]}"


def file_stem(broadcast: str) -> str:
    """How the files of a ``--broadcast`` variant are named: ``figure16_trials.csv``, ``figure16_disk.png``."""
    return "figure16" if broadcast == "network" else f"figure16_{broadcast}"


def trial_seed(base_seed: int, line_label: str, index: int) -> int:
    """The simulation seed of trial ``index`` of a line: a function of (base seed, line, index) only."""
    from sim.rng import stream

    return stream(base_seed, f"figure16/{line_label}/{index}").getrandbits(63)


@dataclass(frozen=True)
class Trial:
    timeouts: str  # "150-155"
    trial: int
    seed: int
    crash_us: int  # when the leader crashed (after the broadcast at t = 0)
    downtime_us: int | None  # None when capped
    leader: int | None  # the new leader heard by everyone, None when capped
    term: int  # its term (elections held = term - 1), or the highest term reached when capped
    events: int


class _Done(Exception):
    """Raised from the per-event observer to stop a trial's run once the new leader has been heard."""

    def __init__(self, time: int, leader: int, term: int) -> None:
        self.time = time
        self.leader = leader
        self.term = term


def run_trial(
    lo_ms: int,
    hi_ms: int,
    index: int,
    base_seed: int = 0,
    cap_ms: float = DEFAULT_CAP_MS,
    broadcast: str = "network",
    node: str | None = None,
    node_cmd: str | None = None,
) -> Trial:
    """Run one trial of the line ``lo_ms-hi_ms`` (see the module docstring for the setup). ``broadcast`` says
    where the broadcast time is spent (a key of ``BROADCAST``). ``node`` or ``node_cmd`` runs another
    implementation (examples/CONTRACT.md), which must report its soft state: its messages are its own, so the
    leader's last heartbeat is not sent for it (every server's timers start at the restart instead, as if they had
    just heard one), and the time to a new leader is taken when every other server reports following it."""
    from sim.raft.messages import AppendEntries, Entry
    from sim.raft.node import RaftConfig
    from sim.rng import stream
    from sim.world.cluster import Simulation
    from sim.world.config import ClusterConfig, NetworkConfig
    from sim.world.network import Uniform

    name = f"{lo_ms}-{hi_ms}"
    seed = trial_seed(base_seed, name, index)
    lo, hi = lo_ms * 1000, hi_ms * 1000
    raft = RaftConfig(
        election_timeout_min=lo,
        election_timeout_max=hi,
        heartbeat_interval=lo // 2,
        early_vote_requests=broadcast == "disk-early",
    )
    foreign = node is not None or node_cmd is not None
    sim = Simulation(
        ClusterConfig(
            nodes=5,
            raft=raft,
            disk_latency=BROADCAST[broadcast][1],
            implementation=node,
            implementation_cmd=node_cmd,
        ),
        NetworkConfig(delay=Uniform(*BROADCAST[broadcast][0])),
        seed=seed,
        trace=True,
    )
    # Durable state at the crash: term 1, everyone voted for the leader, logs of different lengths.
    for i, length in LOG_LENGTHS.items():
        storage = sim.servers[i].storage
        storage.term = 1
        storage.voted_for = LEADER
        storage.entries = [Entry(1, None) for _ in range(length)]
        sim.restart(i)
    # The leader's synchronized heartbeat broadcast at t = 0.
    for i, length in LOG_LENGTHS.items():
        if i != LEADER and not foreign:
            sim.network.send(AppendEntries(1, LEADER, i, length, 1, (), COMMITTED))
    hb = raft.heartbeat_interval
    crash_us = stream(seed, "figure16/crash").randrange(hb)
    sim.at(crash_us, lambda: sim.crash(LEADER))

    others = frozenset(i for i in LOG_LENGTHS if i != LEADER)
    heard: dict[tuple[int, int], set[int]] = {}
    records = sim.trace.records
    cursor = 0
    top_term = 1

    def observe(_sim: Any) -> None:
        nonlocal cursor, top_term
        n = len(records)
        for k in range(cursor, n):
            t, kind, node, data = records[k]
            if kind == "deliver" and data.__class__ is AppendEntries and data.term > 1:
                key = (data.term, data.src)
                got = heard.setdefault(key, set())
                got.add(node)
                if got >= others - {data.src}:
                    raise _Done(t, data.src, data.term)
            elif kind == "state" and data["term"] > top_term:
                top_term = data["term"]
        cursor = n

    def observe_reports(sim: Simulation) -> None:
        nonlocal top_term
        states = [sim.servers[i].state for i in sorted(others)]
        top_term = max(top_term, *(s.term for s in states))
        leader = states[0].leader_id
        if leader is not None and all(
            s.leader_id == leader and s.term == states[0].term > 1 and sim.servers[i].alive
            for i, s in zip(sorted(others), states, strict=True)
        ):
            raise _Done(sim.now, leader, states[0].term)

    cap_us = int(cap_ms * 1000)
    try:
        violation = sim.run(crash_us + cap_us, after_event=observe_reports if foreign else observe)
    except _Done as done:
        sim.close()
        return Trial(name, index, seed, crash_us, done.time - crash_us, done.leader, done.term, sim.events)
    sim.close()
    if violation is not None:
        raise RuntimeError(f"figure16 trial {name}/{index} (seed {seed}): {violation.report()}")
    return Trial(name, index, seed, crash_us, None, None, top_term, sim.events)


# ------------------------------------------------------------------------------------------- the runner


def _run_chunk(task: tuple[int, int, int, int, int, float, str, str | None, str | None]) -> list[Trial]:
    lo, hi, start, stop, base_seed, cap_ms, broadcast, node, node_cmd = task
    return [run_trial(lo, hi, i, base_seed, cap_ms, broadcast, node, node_cmd) for i in range(start, stop)]


def trials_for(line: tuple[int, int], trials: int) -> int:
    """The paper ran 100 trials of 150-150 (each can take seconds) and 1000 of every other line."""
    return max(1, math.ceil(trials / 10)) if line == (150, 150) else trials


def run_experiment(
    lines: Sequence[tuple[int, int]] = LINES,
    trials: int = 1000,
    workers: int = 1,
    base_seed: int = 0,
    cap_ms: float = DEFAULT_CAP_MS,
    chunk: int = 25,
    broadcast: str = "network",
    node: str | None = None,
    node_cmd: str | None = None,
) -> list[Trial]:
    """All trials of ``lines``, in (line order, trial index) order whatever the number of workers."""
    tasks = []
    for lo, hi in lines:
        n = trials_for((lo, hi), trials)
        for start in range(0, n, chunk):
            tasks.append((lo, hi, start, min(n, start + chunk), base_seed, cap_ms, broadcast, node, node_cmd))
    # The slow lines first, so that no worker is left with a long chunk at the end.
    tasks.sort(key=lambda t: (t[0] != t[1], t[0]))
    results: list[Trial] = []
    if workers <= 1:
        for task in tasks:
            results.extend(_run_chunk(task))
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for part in pool.imap_unordered(_run_chunk, tasks):
                results.extend(part)
    order = {label(line): k for k, line in enumerate(lines)}
    results.sort(key=lambda r: (order[r.timeouts], r.trial))
    return results


# ------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    timeouts: str
    trials: int
    capped: int
    min_ms: float
    median_ms: float
    mean_ms: float  # math.inf when any trial was capped (its true length is unknown)
    p99_ms: float  # math.inf when the percentile falls among capped trials
    max_ms: float  # math.inf when any trial was capped


def _rank(sorted_values: list[float], q: float) -> float:
    """The nearest-rank q-quantile (q in (0, 1]) of sorted values."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def summarize(results: Iterable[Trial]) -> list[Summary]:
    by_line: dict[str, list[Trial]] = {}
    for r in results:
        by_line.setdefault(r.timeouts, []).append(r)
    out = []
    for name, rs in by_line.items():
        done = [r.downtime_us / 1000 for r in rs if r.downtime_us is not None]
        values = sorted(done) + [math.inf] * (len(rs) - len(done))  # capped trials sort last
        out.append(
            Summary(
                timeouts=name,
                trials=len(rs),
                capped=len(rs) - len(done),
                min_ms=values[0],
                median_ms=_rank(values, 0.5),
                mean_ms=sum(done) / len(done) if done and len(done) == len(rs) else math.inf,
                p99_ms=_rank(values, 0.99),
                max_ms=values[-1],
            )
        )
    return out


def _fmt(x: float) -> str:
    return "capped" if math.isinf(x) else f"{x:.1f}"


def format_table(summaries: Sequence[Summary], cap_ms: float = DEFAULT_CAP_MS) -> str:
    head = f"{'timeouts':>9} {'trials':>6} {'capped':>6} {'min':>8} {'median':>8} {'mean':>8} {'p99':>8} {'max':>8}"
    lines = [head + "   (ms; the paper)"]
    for s in summaries:
        lines.append(
            f"{s.timeouts:>9} {s.trials:>6} {s.capped:>6} {_fmt(s.min_ms):>8} {_fmt(s.median_ms):>8} "
            f"{_fmt(s.mean_ms):>8} {_fmt(s.p99_ms):>8} {_fmt(s.max_ms):>8}   {PAPER.get(s.timeouts, '')}"
        )
    if any(s.capped for s in summaries):
        lines.append(f"capped: trials stopped {cap_ms / 1000:g} s after the crash with no leader heard by all")
    return "\n".join(lines)


TRIALS_HEADER = ("timeouts", "trial", "downtime_ms")


def trial_row(r: Trial) -> tuple[str, str, str]:
    """A trial's row of the trials CSV, as text: ``timeouts,trial,downtime_ms``, a capped trial with an empty
    downtime_ms. Downtimes are whole microseconds, so the three decimals are exact."""
    return r.timeouts, str(r.trial), "" if r.downtime_us is None else f"{r.downtime_us / 1000:.3f}"


def write_trials_csv(results: Iterable[Trial], path: Path) -> None:
    """Every trial, one ``trial_row`` each under ``TRIALS_HEADER``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(TRIALS_HEADER)
        for r in results:
            w.writerow(trial_row(r))


def write_summary_csv(summaries: Iterable[Summary], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timeouts", "trials", "capped", "min_ms", "median_ms", "mean_ms", "p99_ms", "max_ms"])
        for s in summaries:
            vals = [s.min_ms, s.median_ms, s.mean_ms, s.p99_ms, s.max_ms]
            w.writerow([s.timeouts, s.trials, s.capped, *("inf" if math.isinf(v) else f"{v:.3f}" for v in vals)])


# ------------------------------------------------------------------------------------------- the figure


def plot_figure(
    results: Sequence[Trial],
    path: Path,
    cap_ms: float = DEFAULT_CAP_MS,
    broadcast: str = "network",
) -> None:
    """Both panels as in the paper: cumulative percent of trials against time without leader."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_line: dict[str, list[Trial]] = {}
    for r in results:
        by_line.setdefault(r.timeouts, []).append(r)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10.5, 9), constrained_layout=True)
    colors = plt.get_cmap("tab10")

    def curve(ax: Any, name: str, color: Any) -> None:
        rs = by_line.get(name)
        if not rs:
            return
        xs = sorted(r.downtime_us / 1000 for r in rs if r.downtime_us is not None)
        n = len(rs)
        capped = n - len(xs)
        ys = [100 * (k + 1) / n for k in range(len(xs))]
        tag = f"{name} ms" + (f"\n({capped} of {n} trials > {cap_ms / 1000:g} s)" if capped else "")
        ax.step([xs[0] if xs else 0, *xs], [0, *ys], where="post", color=color, label=tag, lw=1.6)

    for k, line in enumerate(TOP):
        curve(top, label(line), colors(k))
    for k, line in enumerate(BOTTOM):
        curve(bottom, label(line), colors(k))
    top.set_xscale("log")
    top.set_xlim(100, max(100_000, cap_ms * 1.5))
    bottom.set_xlim(0, 600)
    for ax, title in ((top, "varying randomness (minimum timeout 150 ms)"), (bottom, "scaling the timeout range")):
        ax.set_ylim(0, 100)
        ax.set_xlabel("time without leader (ms)")
        ax.set_ylabel("cumulative percent")
        ax.set_title(title, fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="election timeout", frameon=False)
    n_main = max((len(v) for k, v in by_line.items() if k != "150-150"), default=0)
    fig.suptitle(
        f"Raft paper Figure 16, simulated: 5 servers, {n_main} trials per line, broadcast ~15 ms "
        + {
            "network": "(4-9 ms one-way network delay)",
            "disk": "(0.2-0.8 ms network + 14 ms disk writes)",
            "disk-early": "(0.2-0.8 ms network + 14 ms disk writes, early RequestVotes)",
        }[broadcast],
        fontsize=12,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
