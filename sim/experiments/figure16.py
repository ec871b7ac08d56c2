"""``raftsim experiment figure16``: the Raft paper's Figure 16 (extended version, Section 9.3) reproduced.

The paper measures how long a five-server cluster is without a leader after the leader crashes, for several
ranges of randomized election timeouts. This module runs that experiment on the simulator, one independent
``Simulation`` per trial, and draws the same two panels (cumulative percent of trials against time without a
leader).

The setup, as modelled here (plots/README.md has the source of each choice and the comparison with the paper):

- Five servers, on the testbed model ``--broadcast`` names (``TESTBEDS``: where the ~15 ms broadcast time is
  spent and how servers wait for their disks). By default LogCabin as it was when the paper was measured: a
  gigabit LAN (0.2-0.8 ms one way) with one FIFO connection per peer, durable writes as LogCabin's files and
  fsyncs made them (1.7 ms per fsync), election timeouts in whole milliseconds and timers that count from the
  input that armed them. ``network`` puts the whole broadcast time on the wire instead (4-9 ms one way, writes
  durable at once: the model before).
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
- The servers run the simulator's own ``sim.raft.Node`` (whole-millisecond timeouts through
  ``RaftConfig.election_timeout_step``). It follows Figure 2's election-timer rule as the paper's implementation
  does: the timer restarts only on an AppendEntries from the current leader or on granting a vote (not on merely
  adopting a higher term, which would let a server that cannot win keep pushing everybody's timers back).
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


@dataclass(frozen=True)
class Testbed:
    """How the paper's testbed is modelled: where the ~15 ms broadcast time is spent and how servers wait for
    their disks. Times are microseconds. plots/README.md says where each choice comes from."""

    title: str  # for the figure
    delay: tuple[int, int]  # one-way network delay Uniform(low, high), independently per message
    disk_latency: int = 0  # every durable write takes this long (unless ``fsync``)
    fsync: int = 0  # when set, writes follow LogCabin's files and fsyncs (FsyncDisk), each fsync this long
    fifo: bool = False  # links deliver in send order (a TCP connection per peer)
    timers_from_input: bool = False  # timers count from the input that armed them, not from its write
    early_vote_requests: bool = False  # a candidate's RequestVotes leave while its own write is in progress
    timeout_step: int = 1  # election timeouts drawn in whole multiples of this (LogCabin: whole milliseconds)


# The testbeds ``--broadcast`` names: each step from the first model to the current one adds one change
# (plots/README.md has each one's source and what it did to every line), then an alternative.
LAN = (200, 800)  # gigabit Ethernet: a round trip of 0.4-1.6 ms (the thesis gives only the round trip plus write)
TESTBEDS = {
    # All of the broadcast time on the wire: the mean slowest-of-four round trip is 15.1 ms, writes take no time.
    "network": Testbed("4-9 ms one-way network delay", (4_000, 9_000)),
    # The thesis (§9.4, its LAN benchmark): "broadcast time (network round trip plus disk write)", on gigabit
    # Ethernet: a LAN and a 14 ms durable write before a server answers a vote or appends entries. A candidate
    # persists its new term and vote before its RequestVotes leave, a new leader its no-op before its first
    # AppendEntries (LogCabin's order in 2013, and etcd's).
    "disk": Testbed("0.2-0.8 ms network + 14 ms disk writes", LAN, disk_latency=14_000),
    # ... on FIFO links: LogCabin keeps one TCP connection per peer (thesis 10.2.2).
    "disk-fifo": Testbed("0.2-0.8 ms FIFO network + 14 ms disk writes", LAN, 14_000, fifo=True),
    # ... election timeouts in whole milliseconds, as LogCabin draws them (Core::Random::randomRange).
    "disk-ms": Testbed(
        "0.2-0.8 ms FIFO network + 14 ms disk writes, whole-ms timeouts", LAN, 14_000, fifo=True, timeout_step=1000
    ),
    # ... each write as long as LogCabin's SimpleFileLog made it (FsyncDisk: a metadata update is 2 fsyncs, an
    # appended entry 4), with the broadcast time read as a follower's durable append of an entry plus the round
    # trip: 4 fsyncs of 3.4 ms plus the slowest of four round trips (1.3 ms) average 14.9 ms.
    "fsync3.4": Testbed(
        "0.2-0.8 ms FIFO network + 3.4 ms fsyncs as LogCabin made them, whole-ms timeouts",
        LAN,
        fsync=3_400,
        fifo=True,
        timeout_step=1000,
    ),
    # ... timers counting from the input that armed them (LogCabin's setElectionTimer runs before the write the
    # server then waits for). Now a candidate's next timeout runs from its previous one, and its votes come back
    # 21 ms after that (its 2 fsyncs, a message, the voter's 4, a message): after its 12-24 ms timer has run out
    # again, four times in five.
    "fsync3.4-timers": Testbed(
        "0.2-0.8 ms FIFO network + 3.4 ms fsyncs as LogCabin made them, whole-ms timeouts, timers from the input",
        LAN,
        fsync=3_400,
        fifo=True,
        timers_from_input=True,
        timeout_step=1000,
    ),
    # ... with the broadcast time read instead as replicating an entry in LogCabin's pipeline of the time: the
    # leader's durable append before it sends, then the followers' (8 fsyncs of 1.7 ms plus 1.3 ms: 14.9 ms). The
    # reading under which a candidate has its votes (11 ms) before even the shortest timeout of the paper's
    # 12-24 ms line runs out, as its median of 30 ms requires: the current model.
    "logcabin": Testbed(
        "LogCabin as in 2013: 0.2-0.8 ms FIFO network, 1.7 ms fsyncs, whole-ms timeouts",
        LAN,
        fsync=1_700,
        fifo=True,
        timers_from_input=True,
        timeout_step=1000,
    ),
    # Alternatives. As logcabin, with timers counting from when the input's writes are durable.
    "fsync1.7": Testbed(
        "0.2-0.8 ms FIFO network + 1.7 ms fsyncs as LogCabin made them, whole-ms timeouts",
        LAN,
        fsync=1_700,
        fifo=True,
        timeout_step=1000,
    ),
    # As disk, with a candidate's RequestVotes sent while its own write is in progress
    # (RaftConfig.early_vote_requests), so voters hear of the election 14 ms sooner.
    "disk-early": Testbed(
        "0.2-0.8 ms network + 14 ms disk writes, early RequestVotes", LAN, 14_000, early_vote_requests=True
    ),
}
DEFAULT_TESTBED = "logcabin"
# The variants ``make plots`` writes into plots/ (tests/test_figure16.py holds them to it).
PLOTTED = ("logcabin", "network")
LEADER = 1
LOG_LENGTHS = {1: 5, 2: 5, 3: 5, 4: 4, 5: 3}
COMMITTED = 5  # index 5 is on servers 1, 2 and 3: a majority
DEFAULT_CAP_MS = 20_000.0

# The paper's trials (extended version, Section 9.3 and Figure 16; thesis Section 9.4), for the printed
# comparison: fastest / median / p90 / worst, in ms, read from the thesis's vector figure (plots/README.md), and
# what the text quotes.
PAPER = {
    "150-150": "9870 / 41100 / 84900 / 528000; quoted: over 10 s",
    "150-151": "86 / 1199 / 3132 / 8231",
    "150-155": "85 / 287 / 606 / 2143; quoted: median 287",
    "150-175": "84 / 141 / 291 / 610",
    "150-200": "87 / 146 / 194 / 513; quoted: worst 513",
    "150-300": "93 / 171 / 244 / 603",
    "12-24": "15.3 / 30.0 / 53 / 152; quoted: mean 35, worst 152",
    "25-50": "24.0 / 43.0 / 74 / 276",
    "50-100": "37.1 / 66.7 / 96 / 253",
    "100-200": "65.7 / 120 / 167 / 335",
}


def label(line: tuple[int, int]) -> str:
    return f"{line[0]}-{line[1]}"


def file_stem(broadcast: str) -> str:
    """How the files of a ``--broadcast`` variant are named: ``figure16_trials.csv``, ``figure16_disk.png``."""
    return "figure16" if broadcast == DEFAULT_TESTBED else f"figure16_{broadcast}"


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


def run_trial(
    lo_ms: int,
    hi_ms: int,
    index: int,
    base_seed: int = 0,
    cap_ms: float = DEFAULT_CAP_MS,
    broadcast: str = DEFAULT_TESTBED,
    node: str | None = None,
    node_cmd: str | None = None,
) -> Trial:
    """Run one trial of the line ``lo_ms-hi_ms`` (see the module docstring for the setup). ``broadcast`` names
    the testbed model (a key of ``TESTBEDS``). ``node`` or ``node_cmd`` runs another implementation
    (examples/CONTRACT.md), which must report its soft state: its messages are its own, so the leader's last
    heartbeat is not sent for it (every server's timers start at the restart instead, as if they had just heard
    one), and the time to a new leader is taken when every other server reports following it."""
    from sim.raft.messages import AppendEntries, Entry
    from sim.raft.node import RaftConfig
    from sim.rng import stream
    from sim.world.cluster import Simulation
    from sim.world.config import ClusterConfig, NetworkConfig
    from sim.world.network import Uniform
    from sim.world.storage import FsyncDisk

    name = f"{lo_ms}-{hi_ms}"
    seed = trial_seed(base_seed, name, index)
    lo, hi = lo_ms * 1000, hi_ms * 1000
    bed = TESTBEDS[broadcast]
    raft = RaftConfig(
        election_timeout_min=lo,
        election_timeout_max=hi,
        heartbeat_interval=lo // 2,
        early_vote_requests=bed.early_vote_requests,
        election_timeout_step=bed.timeout_step,
    )
    foreign = node is not None or node_cmd is not None
    cluster = ClusterConfig(
        nodes=5,
        raft=raft,
        disk_latency=bed.disk_latency,
        disk=FsyncDisk(bed.fsync) if bed.fsync else None,
        timers_from_input=bed.timers_from_input,
        implementation=node,
        implementation_cmd=node_cmd,
    )
    # No trace: the trial watches deliveries itself (the trace's records cost more than the rest of the run).
    sim = Simulation(cluster, NetworkConfig(delay=Uniform(*bed.delay), fifo=bed.fifo), seed=seed, trace=False)
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
    done: list[tuple[int, int, int]] = []  # (time, leader, term) once every other server has heard one leader

    def watch(server: int) -> Any:
        """What the network delivers to ``server``: noted, then handed to the server as before."""
        deliver = sim.servers[server].deliver

        def receive(m: Any) -> None:
            if m.__class__ is AppendEntries and m.term > 1 and not done:
                got = heard.setdefault((m.term, m.src), set())
                got.add(server)
                if got >= others - {m.src}:
                    done.append((sim.now, m.src, m.term))
            deliver(m)

        return receive

    if not foreign:  # another implementation's messages are its own: it is watched through its reports
        for i in others:
            sim.network.attach(i, watch(i))

    def observe(_sim: Any) -> None:
        if done:
            raise _Done  # from the per-event hook, outside the event being processed

    top_term = 1

    def observe_reports(sim: Simulation) -> None:
        nonlocal top_term
        states = [sim.servers[i].state for i in sorted(others)]
        top_term = max(top_term, *(s.term for s in states))
        leader = states[0].leader_id
        if leader is not None and all(
            s.leader_id == leader and s.term == states[0].term > 1 and sim.servers[i].alive
            for i, s in zip(sorted(others), states, strict=True)
        ):
            raise _Done(sim.now, leader, states[0].term)  # (time, leader, term)

    cap_us = int(cap_ms * 1000)
    try:
        violation = sim.run(crash_us + cap_us, after_event=observe_reports if foreign else observe)
    except _Done as stop:
        sim.close()
        if stop.args:
            time, leader, term = stop.args
        else:
            time, leader, term = done[0]
        return Trial(name, index, seed, crash_us, time - crash_us, leader, term, sim.events)
    sim.close()
    if violation is not None:
        raise RuntimeError(f"figure16 trial {name}/{index} (seed {seed}): {violation.report()}")
    top_term = max((s.state.term for s in sim.servers.values() if s.alive), default=1)
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
    broadcast: str = DEFAULT_TESTBED,
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
    p90_ms: float  # math.inf when the percentile falls among capped trials
    p99_ms: float  # likewise
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
                p90_ms=_rank(values, 0.9),
                p99_ms=_rank(values, 0.99),
                max_ms=values[-1],
            )
        )
    return out


def _fmt(x: float) -> str:
    return "capped" if math.isinf(x) else f"{x:.1f}"


def format_table(summaries: Sequence[Summary], cap_ms: float = DEFAULT_CAP_MS) -> str:
    head = (
        f"{'timeouts':>9} {'trials':>6} {'capped':>6} {'min':>8} {'median':>8} {'mean':>8} {'p90':>8} {'p99':>8} "
        f"{'max':>8}"
    )
    lines = [head + "   (ms; the paper: min / median / p90 / max)"]
    for s in summaries:
        lines.append(
            f"{s.timeouts:>9} {s.trials:>6} {s.capped:>6} {_fmt(s.min_ms):>8} {_fmt(s.median_ms):>8} "
            f"{_fmt(s.mean_ms):>8} {_fmt(s.p90_ms):>8} {_fmt(s.p99_ms):>8} {_fmt(s.max_ms):>8}   "
            f"{PAPER.get(s.timeouts, '')}"
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
        w.writerow(["timeouts", "trials", "capped", "min_ms", "median_ms", "mean_ms", "p90_ms", "p99_ms", "max_ms"])
        for s in summaries:
            vals = [s.min_ms, s.median_ms, s.mean_ms, s.p90_ms, s.p99_ms, s.max_ms]
            w.writerow([s.timeouts, s.trials, s.capped, *("inf" if math.isinf(v) else f"{v:.3f}" for v in vals)])


# ------------------------------------------------------------------------------------------- the figure


def plot_figure(
    results: Sequence[Trial],
    path: Path,
    cap_ms: float = DEFAULT_CAP_MS,
    broadcast: str = DEFAULT_TESTBED,
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
        f"Raft paper Figure 16, simulated: 5 servers, {n_main} trials per line, broadcast ~15 ms\n"
        f"testbed: {TESTBEDS[broadcast].title}",
        fontsize=12,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
