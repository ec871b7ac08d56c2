"""Drawing a case: swarm families, then a schedule from the families that are on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sim.fuzz.case import BASE_DELAY, EVENTS_PER_MS, MS, Case
from sim.raft.node import RaftConfig
from sim.raft.read_only import LEASE, READ_INDEX
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault
from sim.world.network import Delay, Exponential, Fixed, Mixture, Uniform


class Draw(Protocol):
    """The few choices the generator makes. ``RandomDraw`` answers from a seeded Random, ``sim.fuzz.strategies``
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
    "long_delay",  # a share of messages on a long tail of 200-2200 ms (the MIT labs' "long reordering")
    "compaction",  # snapshots every few entries, InstallSnapshot in small chunks (drawn last: see draw_compaction)
    "membership",  # servers added (new ones boot empty) and removed, alone, in bursts, in failovers (drawn last)
    "transfer",  # leadership transfers (thesis 3.10) to followers and random servers (drawn last: draw_late)
    "readindex",  # reads without a log entry, confirmed by a heartbeat round (thesis 6.4) (drawn last)
    "lease",  # lease reads (thesis 6.4.1), with clocks that drift as far as the lease's bound allows (drawn last)
)
# Families drawn after every other choice of a case, in this order (compaction, membership, then draw_late's),
# so that a seed whose later families are all off draws the very case it drew before they existed.
LATE_FAMILIES = ("transfer", "readindex", "lease")
LATE_CHANCE = {"transfer": 0.3, "readindex": 0.3, "lease": 0.4}
DRAWN_LAST = frozenset({"compaction", "membership", *LATE_FAMILIES})


# Families that switch on something an implementation must declare it supports (examples/CONTRACT.md).
CAPABILITY_FAMILIES = frozenset({"prevote", "check_quorum"})


@dataclass(frozen=True)
class Swarm:
    families: frozenset[str]
    load: str  # "none", "light", "medium", "heavy"
    nodes: int | None = None  # a mode's cluster size; None: drawn with the case


# Focused modes, as overrides of the swarm draw (VOPR's "lite" mode is the same idea): three servers and a few
# families that together build the long chains of events some bugs need, which a draw with many families on
# rarely keeps intact. Each is drawn for a tenth of the seeds of a campaign that restricts nothing.
MODES: dict[str, frozenset[str]] = {
    # Entries of a deposed leader's term left on a minority, then replicated again (the paper's Figure 8).
    "replication under partitions": frozenset({"partition", "small_batch", "disk"}),
    # A server that forgets what it did not persist, votes and entries, while others remember.
    "crash amnesia": frozenset({"crash", "disk"}),
    # Leaders cut off and crashed while writes are in flight to a slow disk.
    "crashes and partitions": frozenset({"crash", "partition", "disk"}),
}
MODE_IN = 10  # each mode is drawn for one seed in this many


def draw_swarm(d: Draw, families: Iterable[str] | None = None, nodes: int | None = None) -> Swarm:
    """Which families are on for one seed, and the load. A campaign that restricts neither the families nor the
    cluster size also draws, for a share of its seeds, one of the focused ``MODES``."""
    allowed = tuple(FAMILIES if families is None else families)
    if families is None and nodes is None:
        k = d.integer(1, MODE_IN)
        if k <= len(MODES):
            load = d.pick(("light", "medium", "medium", "heavy"))
            return Swarm(list(MODES.values())[k - 1], load, nodes=3)
    # Crashes and partitions are where consensus bugs live: on more often than the rest.
    p = {"crash": 0.75, "partition": 0.6}
    on = frozenset(f for f in allowed if f not in DRAWN_LAST and d.chance(p.get(f, 0.4)))
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


# Operation mixes: all alike, read-mostly, and write-heavy with compare-and-set contention.
MIXES: tuple[tuple[tuple[str, ...], tuple[float, ...] | None], ...] = (
    (("put", "append", "get", "cas"), None),
    (("get", "put", "cas"), (4.0, 1.0, 1.0)),
    (("append", "cas", "get"), (2.0, 2.0, 1.0)),
)


def draw_workload(d: Draw, load: str, duration: int) -> WorkloadConfig:
    """Clients for a case: how many and how fast (``load``), on how few keys (fewer keys, more contention: what
    makes a stale read or a lost write visible in the history), which mix of operations, open or closed loop, and
    whether clients give up on operations (outcomes unknown)."""
    if load == "none":
        return WorkloadConfig(clients=0, rate=0.0, timeout=300 * MS, stop=duration)
    clients, rate = {"light": (1, 10.0), "medium": (3, 50.0), "heavy": (4, 100.0)}[load]
    ops, weights = d.pick(MIXES)
    keys = d.pick((1, 2, 4, 8))
    give_up = d.pick((None, None, 600 * MS, 1_500 * MS))
    common: dict[str, Any] = {
        "clients": clients, "timeout": 300 * MS, "stop": duration, "keys": keys, "ops": ops, "weights": weights,
        "give_up": give_up,
    }  # fmt: skip
    if d.chance(0.3):
        return WorkloadConfig(mode="closed", think=d.pick((0, 5, 20, 60)) * MS, **common)
    return WorkloadConfig(rate=rate, **common)


def draw_compaction(d: Draw, raft: RaftConfig) -> RaftConfig:
    """Log compaction for a case: a snapshot every few entries (so followers that lag a little, or restart, need
    InstallSnapshot), sent in chunks from a few bytes (many round trips, a transfer that a crash or a new leader
    interrupts) to the whole snapshot at once."""
    every = d.pick((2, 3, 5, 10, 25, 100))
    chunk = d.pick((16, 64, 256, 1024, 65536))
    return replace(raft, snapshot_every=every, snapshot_chunk=chunk)


def draw_membership(d: Draw, nodes: int, duration: int) -> list[Fault]:
    """Membership churn (thesis Chapter 4): a walk in time of up to four episodes, each one of

    - one server added (a new id: it boots empty and joins) or removed (a follower, anyone, or the leader);
    - a burst: two changes asked for at once, which the leader must take one at a time;
    - a failover: a server added, then the leader cut off just before two removals are asked for. It appends the
      first alone (its configuration entry stays on its log) and refuses the second as busy; once it steps down
      (CheckQuorum) the operator takes the second to the next leader: the shape of the 2015 single-server bug,
      which needs that leader to append it before committing an entry of its own term, and a configuration of an
      even size before the two (the addition makes the cluster's odd size even).
    """
    faults: list[Fault] = []
    new = nodes + 1

    def change(at: int) -> Fault:
        nonlocal new
        if d.chance(0.5):
            new += 1
            return Fault(at, "add_server", node=new - 1)
        return Fault(at, "remove_server", node=d.pick(("follower", "follower", "random", "leader")))

    t = d.integer(100, 800) * MS
    for _ in range(d.integer(1, 4)):
        if t >= duration:
            break
        style = d.pick(("one", "burst", "burst", "failover", "failover"))
        if style == "failover":
            # A server added first: two single-server changes can have majorities that do not meet only from an
            # even-sized configuration (Ongaro's example starts from four servers), and the cluster's is odd.
            faults.append(Fault(t, "add_server", node=new))
            new += 1
            t += d.integer(300, 800) * MS
            faults.append(Fault(t, "isolate", node="leader"))
            first = d.integer(1, nodes)
            second = d.pick([i for i in range(1, nodes + 1) if i != first])
            faults.append(Fault(t, "remove_server", node=first))
            faults.append(Fault(t + d.integer(1, 50) * MS, "remove_server", node=second))
            faults.append(Fault(t + d.integer(300, 1_000) * MS, "heal"))
        else:
            faults.append(change(t))
            if style == "burst":
                faults.append(change(t))
        t += d.integer(100, 800) * MS
    return faults


def draw_case(
    d: Draw,
    seed: int,
    nodes: int | None = None,
    bug: str | None = None,
    families: Iterable[str] | None = None,
    max_duration_ms: int = 3_000,
    fifo: bool = False,
    node: str | None = None,
    node_cmd: str | None = None,
) -> Case:
    """Draw one case. All structure comes from ``d``; ``seed`` only seeds the simulation's own streams. With
    ``nodes`` None the cluster size is drawn too (3, 5 or 7 servers). ``node`` or ``node_cmd`` names another
    implementation (examples/CONTRACT.md): the families it did not declare the capability for are drawn as usual
    (so every other choice stays the same) and then left off; the families of membership, transfers and read modes
    are the built-in node's only (the contract has no messages for them)."""
    swarm = draw_swarm(d, families, nodes)
    on = swarm.families
    can: tuple[str, ...] = ()
    if node is not None or node_cmd is not None:
        from sim.nodes.implementations import implementation

        can = implementation(node, node_cmd).capabilities
        on = frozenset(f for f in on if f not in CAPABILITY_FAMILIES or f in can)
    if nodes is None:
        nodes = swarm.nodes or d.pick((3, 5, 5, 7))
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
    if "narrow_timeouts" in on:
        # Randomized timeouts separate candidates only when their range is wide against the time a RequestVote
        # takes to reach a voter (thesis 9.3: broadcastTime << electionTimeout, and a range of a few broadcast
        # times). That time is a disk write (the candidate's term and vote are durable before it asks) and a network
        # delay. With a narrower range the voters' timers rarely drift far enough apart for one to ask before the
        # other campaigns: in a configuration of two voters, which needs both, elections split for seconds on end
        # (fuzz seed 22169: [200, 231] ms, a 20 ms disk, 40 rounds without a leader after its servers 1 and 3 were
        # removed). The range is kept at least one and a half times that time (a random walk of the two timers'
        # offset then leaves it within a few rounds).
        vote = disk + BASE_DELAY.high  # the longest network delay
        raft = replace(raft, election_timeout_max=max(raft_max, raft_min + vote * 3 // 2))
    cluster = ClusterConfig(
        nodes=nodes,
        raft=raft,
        disk_latency=disk,
        bug=bug,
        max_events_per_ms=EVENTS_PER_MS,
        implementation=node,
        implementation_cmd=node_cmd,
    )
    network = NetworkConfig(delay=BASE_DELAY, fifo=fifo)
    duration = d.integer(max(2, max_duration_ms // 250), max_duration_ms // 100) * 100 * MS
    workload = draw_workload(d, swarm.load, duration)

    # The schedule: a walk in time, each step one action of an enabled family.
    faults: list[Fault] = []
    actions = sorted(on & {"crash", "partition", "cut", "drop", "duplicate", "delay", "drift", "long_delay"})
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
        elif family == "long_delay":
            # Most messages as usual, a share of them 200-2200 ms late: replies to long-gone requests, votes for
            # candidates that have moved on, AppendEntries overtaken by many later ones.
            tail = Mixture(d.pick((0.05, 0.2, 0.66)), Uniform(200 * MS, 2_200 * MS), BASE_DELAY)
            faults.append(Fault(t, "delay", delay=tail))
            if d.chance(0.5):
                faults.append(Fault(t + d.integer(200, 1_500) * MS, "delay", delay=BASE_DELAY))
        elif family == "drift":
            faults.append(Fault(t, "drift", node=d.pick(ids), value=d.pick((0.5, 0.8, 0.95, 1.0, 1.05, 1.3, 2.0))))
        t += d.integer(mean_gap // 4, mean_gap * 2) * MS
    kept = tuple(sorted((f for f in faults if f.at < duration), key=lambda f: f.at))  # stable: same-time order kept
    # The families drawn last, each tossed (and its values drawn) whether or not the campaign allows it, and kept
    # only if it does: restricting the families leaves every other draw of a seed as it was. A seed whose coins for
    # them all come up tails is the case it was before they existed.
    allowed = frozenset(FAMILIES if families is None else families)
    if d.chance(0.4):
        compacted = draw_compaction(d, raft)
        if "compaction" in allowed:
            cluster = replace(cluster, raft=compacted)
    # The built-in node's own families (the node contract has no messages for them), not in the focused modes,
    # which stay as they were: membership churn, then transfers and read modes.
    if swarm.nodes is None:
        built_in = node is None and node_cmd is None
        if d.chance(0.4):
            churn = [f for f in draw_membership(d, nodes, duration) if f.at < duration]
            if built_in and "membership" in allowed:
                kept = tuple(sorted((*kept, *churn), key=lambda f: f.at))
        late = allowed if built_in else frozenset()
        cluster, workload, faults, duration = draw_late(d, late, cluster, workload, list(kept), ids, duration)
        kept = tuple(sorted((f for f in faults if f.at < duration), key=lambda f: f.at))
    # The liveness bound: many election rounds and client retries, longer with a slow disk. The phase ends as soon
    # as the cluster has recovered, so the bound costs only the seeds that fail; it is generous because split votes
    # with narrow timeouts and a slow disk can go on for seconds (over 1,000 such clusters: p99 4.4 s, worst 6.6 s
    # to a first leader), and Raft promises a leader eventually, not by a deadline.
    liveness = 10_000 * MS + 20 * disk + 4 * workload.timeout
    return Case(seed, cluster, network, workload, kept, duration, liveness)


def draw_late(
    d: Draw,
    allowed: frozenset[str],
    cluster: ClusterConfig,
    workload: WorkloadConfig,
    faults: list[Fault],
    ids: list[int],
    duration: int,
) -> tuple[ClusterConfig, WorkloadConfig, list[Fault], int]:
    """The families of ``LATE_FAMILIES``: which are on, then what they add to the case (its cluster, workload,
    faults and duration), kept for those in ``allowed``. Drawn after the rest of the case, so that the rest stays
    what it was; every coin and value is drawn whatever ``allowed`` holds (see ``draw_case``)."""
    on = [f for f in LATE_FAMILIES if d.chance(LATE_CHANCE[f])]
    faults = list(faults)
    if "transfer" in on:
        # An operator moving leadership around: now to a follower, now to a random server (sometimes the leader
        # itself, which changes nothing), now to a server that may be down or behind.
        t = d.integer(100, 800) * MS
        gap = d.pick((150, 400, 1_000))
        transfers = []
        while t < duration:
            transfers.append(Fault(t, "transfer_leader", node=d.pick(("follower", "follower", "random", d.pick(ids)))))
            t += d.integer(gap // 2, gap * 2) * MS
        if "transfer" in allowed:
            faults += transfers
    modes = [(family, mode) for family, mode in (("readindex", READ_INDEX), ("lease", LEASE)) if family in on]
    if not modes:
        return cluster, workload, faults, duration
    family, read = d.pick(modes) if len(modes) > 1 else modes[0]
    if family not in allowed:
        return cluster, workload, faults, duration
    raft = replace(cluster.raft, read=read)
    if read == LEASE:
        raft, workload, faults, duration = _draw_lease(d, raft, workload, faults, duration)
    else:
        raft, workload, faults, duration = _draw_readindex(d, raft, workload, faults, duration)
    return replace(cluster, raft=raft), workload, faults, duration


def _read_mostly(
    d: Draw, workload: WorkloadConfig, duration: int, weights: tuple[float, ...] = (8.0, 1.0, 1.0)
) -> WorkloadConfig:
    """Read-mostly clients (``weights`` of get, put and append) on few keys that soon give up on a silent server
    and go on with their next operation: some read at one leader just after others wrote at another, the history
    in which a stale read shows."""
    many = {"clients": 3, "rate": 60.0} if workload.clients < 2 else {}
    mix = {"ops": ("get", "put", "append"), "weights": weights, "keys": d.pick((2, 4))}
    patience = {"timeout": d.pick((100, 150)) * MS, "give_up": d.pick((200, 400)) * MS}
    return replace(workload, stop=duration, **patience, **mix, **many)


def _draw_readindex(
    d: Draw, raft: RaftConfig, workload: WorkloadConfig, faults: list[Fault], duration: int
) -> tuple[RaftConfig, WorkloadConfig, list[Fault], int]:
    """ReadIndex reads. Their hardest case is a new leader whose commit index is behind writes its predecessor
    committed and acknowledged just before it was cut off, and whose no-op takes long to commit because a follower
    it needs is far behind (small batches): until the no-op commits, reads must wait."""
    if not d.chance(0.7):
        return raft, workload, faults, duration
    high = raft.election_timeout_max
    raft = replace(raft, max_batch=d.pick((1, 2, 4, raft.max_batch)))
    t = high + d.integer(50, 500) * MS
    for _ in range(d.integer(1, 2)):
        faults.append(Fault(t, "isolate", node="follower"))  # falls behind
        t += d.integer(200, 800) * MS
        faults.append(Fault(t, "heal"))
        t += d.integer(0, 30) * MS
        faults.append(Fault(t, "isolate", node="leader"))  # right after writes it acknowledged
        t += d.integer(high // MS, 2 * high // MS) * MS  # time enough to elect another
        faults.append(Fault(t, "heal"))
        t += d.integer(100, 600) * MS
    duration = max(duration, t)
    # Writes a third of the operations: the more writes, the likelier one was acknowledged just before the cut.
    return raft, _read_mostly(d, workload, duration, (2.0, 1.0, 1.0)), faults, duration


def _draw_lease(
    d: Draw, raft: RaftConfig, workload: WorkloadConfig, faults: list[Fault], duration: int
) -> tuple[RaftConfig, WorkloadConfig, list[Fault], int]:
    """Lease reads: a drift bound, and clocks that drift as far apart as it allows (all drifting clocks one way, so
    that any two stay within the bound of each other). The lease must hold. Its hardest case is a leader whose
    clock runs slower than its followers' and that is then cut off. It answers reads for as long as its own clock
    says its lease lasts, while the others elect a new leader by theirs."""
    # Election timeouts up to 4x as long (up to 24 heartbeats; etcd's defaults are 10). A lease then lasts well
    # beyond a client's timeout, and clocks can drift far apart before a slow leader's heartbeats come too rarely
    # for its followers.
    stretch = d.pick((1, 2, 3, 4, 4))
    low, high = raft.election_timeout_min * stretch, raft.election_timeout_max * stretch
    raft = replace(raft, election_timeout_min=low, election_timeout_max=high)
    bound = d.pick((0.25, 0.5, 1.0, 2.0, 2.0))
    t = high + d.integer(50, 500) * MS  # after the first election, so that "leader" names a server
    style = d.pick(("slow leader", "slow leader", "slow leader", "fast followers", "one server"))
    if style == "slow leader":
        faults.append(Fault(t, "drift", node="leader", value=1 / (1 + bound)))
    elif style == "fast followers":
        faults.append(Fault(t, "drift", node="all", value=1 + bound))
        faults.append(Fault(t, "drift", node="leader", value=1.0))
    else:
        rate = d.pick((1 / (1 + bound), 1 + bound))
        faults.append(Fault(t, "drift", node=d.pick(("random", "follower")), value=rate))
    if d.chance(0.7):
        # The leader cut off for long enough that the others elect a new one and take writes, with nothing else
        # happening meanwhile (the other families' events of that window are left out); the run lasts until some
        # time after it is back.
        t += d.integer(30, 400) * MS
        healed = t + high * 2 + d.integer(0, 500) * MS
        faults = [f for f in faults if not t <= f.at <= healed]
        faults.append(Fault(t, "isolate", node="leader"))
        faults.append(Fault(healed, "heal"))
        duration = max(duration, healed + 300 * MS)
        workload = _read_mostly(d, workload, duration)
    # Whatever drift the schedule holds besides (the drift family), the bound covers it.
    rates = [1.0, *(float(f.value) for f in faults if f.do == "drift" and f.value is not None)]
    return replace(raft, lease_drift=max(bound, max(rates) / min(rates) - 1)), workload, faults, duration
