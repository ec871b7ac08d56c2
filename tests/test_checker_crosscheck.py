"""Cross-check: the incremental Checker against the brute-force ReferenceChecker (sim.check.reference).

On random runs (random fault schedules, drops, duplicates, clients) both must find nothing for the correct
protocol, and for the known-bug variants of sim.nodes.bugs both must flag a violation at the same event. The reference
reads in-memory node state, the incremental checker durable state: runs here keep ``disk_latency`` at 0 so the
two coincide (which leaves out ``ack-before-persist``, a bug that needs a disk latency). ``figure8-commit`` is
cross-checked in tests/test_simulation_figure8.py, where a scripted run reaches it reliably.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from sim.check.reference import ReferenceChecker
from sim.check.safety import Violation
from sim.raft import LEADER, RaftConfig
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault, schedule
from sim.world.network import Exponential, Fixed, LogNormal

MS = 1_000
S = 1_000_000


class Reached(Exception):
    pass


def random_faults(rng: random.Random, nodes: int, end: int, gap: tuple[int, int]) -> list[Fault]:
    faults = []
    t = 200 * MS
    while t < end:
        k = rng.random()
        if k < 0.35:
            faults.append(Fault(t, "restart", node="random"))
        elif k < 0.55:
            faults.append(Fault(t, "crash", node=rng.choice(["leader", "random"])))
        elif k < 0.65:
            faults.append(Fault(t, "partition", groups=(tuple(rng.sample(range(1, nodes + 1), 2)),)))
        elif k < 0.72:
            faults.append(Fault(t, "isolate", node="leader"))
        elif k < 0.8:
            faults.append(Fault(t, "heal"))
        elif k < 0.85:
            faults.append(Fault(t, "drift", node="random", value=rng.choice([0.6, 1.0, 1.4])))
        else:
            faults.append(Fault(t, "restart", node="all-crashed"))
        t += rng.randint(*gap)
    faults += [Fault(end, "heal"), Fault(end, "restart", node="all-crashed")]
    return faults


def cross_run(
    seed: int,
    bug: str | None = None,
    nodes: int = 5,
    raft: RaftConfig | None = None,
    until: int = 3 * S,
    gap: tuple[int, int] = (30 * MS, 250 * MS),
) -> tuple[Violation | None, Violation | None, Simulation]:
    raft = raft or RaftConfig(election_timeout_min=100 * MS, election_timeout_max=140 * MS)
    sim = Simulation(
        ClusterConfig(nodes=nodes, raft=raft, bug=bug),
        NetworkConfig(delay=Exponential(mean=10 * MS, minimum=2 * MS), drop=0.05, duplicate=0.05),
        WorkloadConfig(clients=3, rate=100),
        seed=seed,
    )
    schedule(sim, random_faults(random.Random(seed), nodes, until - 500 * MS, gap))
    ref = ReferenceChecker(sim)
    v = sim.run(until, after_event=ref.check)
    if v is not None:
        ref.check(sim)  # the run stopped before handing the reference the violating event
    return v, ref.violation, sim


def assert_agree(v: Violation | None, r: Violation | None, plausible: set[str]) -> None:
    assert (v is None) == (r is None), (v and v.report(), r)
    if v is not None and r is not None:
        assert v.event == r.event, (v.report(), r)
        assert v.property in plausible and r.property in plausible, (v.property, r.property)


@pytest.mark.parametrize(
    ("seed", "raft", "nodes"),
    [
        (1, None, 5),
        (2, None, 3),
        (3, RaftConfig(prevote=True), 5),
        (4, RaftConfig(prevote=True, check_quorum=True), 5),
        (5, RaftConfig(check_quorum=True, max_batch=2), 3),
        (6, RaftConfig(max_batch=1), 7),
        (7, RaftConfig(prevote=True, max_batch=4), 3),
        (8, RaftConfig(election_timeout_min=60 * MS, election_timeout_max=80 * MS), 5),
        (9, RaftConfig(check_quorum=True), 5),
    ],
)
def test_correct_protocol_both_checkers_find_nothing(seed: int, raft: RaftConfig | None, nodes: int) -> None:
    v, r, sim = cross_run(seed, None, nodes, raft)
    assert v is None and r is None, (v and v.report(), r)
    assert len(sim.faults) > 10 and sim.committed > 5 and sim.events > 300  # the run did work


# Which properties each bug can break first. Where two names are listed, the checkers may legitimately name
# different ones for the same event: several properties break at once and each checker tests them in its own
# order (for instance a follower that commits a stale entry both commits a different entry at an index, which
# is StateMachineSafety, and can make a later leader lack it, which is LeaderCompleteness).
BUG_PROPERTIES = {
    "volatile-term": {"TermMonotonic"},
    "vote-without-log-check": {"LeaderCompleteness", "StateMachineSafety"},
    "truncate-on-match": {"StateMachineSafety", "LeaderCompleteness"},
    "commit-beyond-match": {"StateMachineSafety", "LeaderCompleteness"},
}


@pytest.mark.parametrize("bug", sorted(BUG_PROPERTIES))
def test_bug_variants_both_checkers_flag_the_same_event(bug: str) -> None:
    found = 0
    for seed in range(12):
        v, r, _ = cross_run(seed, bug)
        assert_agree(v, r, BUG_PROPERTIES[bug])
        found += v is not None
        if found >= 2:
            break
    assert found >= 1, f"{bug}: none of the runs found it"


# Log compaction: snapshots every few entries, InstallSnapshot in small chunks, on the same random runs.
COMPACTING = RaftConfig(
    election_timeout_min=100 * MS, election_timeout_max=140 * MS, snapshot_every=3, snapshot_chunk=32
)


@pytest.mark.parametrize(
    ("seed", "raft", "nodes"),
    [
        (1, COMPACTING, 5),
        (2, COMPACTING, 3),
        (3, replace(COMPACTING, snapshot_every=10, snapshot_chunk=4096, max_batch=2), 5),
        (4, replace(COMPACTING, snapshot_every=2, snapshot_chunk=8, prevote=True), 3),
    ],
)
def test_with_log_compaction_both_checkers_find_nothing(seed: int, raft: RaftConfig, nodes: int) -> None:
    v, r, sim = cross_run(seed, None, nodes, raft)
    assert v is None and r is None, (v and v.report(), r)
    assert sim.snapshots_taken > 5 and sim.snapshots_installed > 0 and sim.committed > 10


# Where a snapshot bug shows first. An older snapshot installed deletes committed entries (when the follower's
# log did not hold its last entry: the incremental checker sees the deletion) or only lowers the commit index.
SNAPSHOT_BUG_PROPERTIES = {
    "snapshot-last-index": {"SnapshotIntegrity"},
    "snapshot-without-sessions": {"SnapshotIntegrity"},
    "install-older-snapshot": {"CommitMonotonic", "StateMachineSafety"},
}


@pytest.mark.parametrize("bug", sorted(SNAPSHOT_BUG_PROPERTIES))
def test_snapshot_bugs_both_checkers_flag_the_same_event(bug: str) -> None:
    found = 0
    for seed in range(20):
        # Whole snapshots in one chunk: a late or duplicated one is a complete, older snapshot.
        v, r, _ = cross_run(seed, bug, 5, replace(COMPACTING, snapshot_every=2, snapshot_chunk=1 << 16))
        assert_agree(v, r, SNAPSHOT_BUG_PROPERTIES[bug])
        found += v is not None
        if found >= 2:
            break
    assert found >= 1, f"{bug}: none of the runs found it"


def double_vote_run(bug: str | None) -> tuple[Violation | None, Violation | None, int, int]:
    """With the old leader X cut off, L wins term T with V's vote; L is cut off at once and V restarts
    (forgetting its vote, with the bug); X restarts and asks V for its vote in the same term T. Returns both
    checkers' violations, X's final term and T."""
    sim = Simulation(ClusterConfig(nodes=3, bug=bug), NetworkConfig(delay=Fixed(5 * MS)), seed=7)
    ref = ReferenceChecker(sim)

    def run_until(cond: Callable[[], bool], within: int) -> Violation | None:
        def after(s: Simulation) -> None:
            ref.check(s)
            if cond():
                raise Reached

        try:
            v = sim.run(sim.now + within, after_event=after)
        except Reached:
            return None
        assert v is not None, "not reached"
        ref.check(sim)
        return v

    def leader_of(term: int) -> int | None:
        return next((i for i in sim.leaders() if sim.servers[i].node.term == term), None)

    run_until(lambda: sim.leader() is not None and sim.committed >= 1, 2 * S)
    x = sim.leader()
    term = sim.servers[x].node.term
    sim.isolate(x)
    assert run_until(lambda: leader_of(term + 1) is not None, 2 * S) is None
    leader = leader_of(term + 1)
    (voter,) = (i for i in sim.servers if i not in (x, leader))
    assert sim.servers[voter].node.voted_for == leader
    sim.partition([[x], [leader]])  # the new leader's AppendEntries are lost: logs stay as they were
    sim.restart(voter)
    sim.set_drift(voter, 0.2)  # the voter's timers run slow: it will not campaign itself
    sim.restart(x)
    sim.partition([[leader]])
    v = run_until(lambda: sim.servers[x].node.role == LEADER, 2 * S)
    return v, ref.violation, sim.servers[x].node.term, term + 1


def test_volatile_vote_double_vote_is_caught_by_both() -> None:
    v, r, x_term, stolen = double_vote_run(None)
    assert v is None and r is None and x_term > stolen  # the correct voter refused: X needed a later term
    v, r, x_term, stolen = double_vote_run("volatile-vote")
    assert v is not None and r is not None and v.property == r.property == "ElectionSafety"
    assert v.event == r.event and x_term == stolen


def test_drifting_clocks_and_lognormal_delays_agree() -> None:
    sim = Simulation(
        ClusterConfig(nodes=5, raft=RaftConfig(prevote=True)),
        NetworkConfig(delay=LogNormal(median=6 * MS, sigma=0.9, minimum=1 * MS), drop=0.1, duplicate=0.1),
        WorkloadConfig(clients=4, rate=120),
        seed=21,
    )
    for i, rate in zip(sim.servers, (0.5, 0.8, 1.0, 1.3, 2.0), strict=True):
        sim.set_drift(i, rate)
    schedule(sim, random_faults(random.Random(21), 5, 2500 * MS, (100 * MS, 300 * MS)))
    ref = ReferenceChecker(sim)
    assert sim.run(3 * S, after_event=ref.check) is None
    assert ref.violation is None and ref.checked_events == sim.events


# ------------------------------------------------------------------------------------------ membership changes


def membership_faults(rng: random.Random, nodes: int, end: int) -> list[Fault]:
    """Servers added and removed (a burst of changes at times), with crashes and partitions around them."""
    faults = []
    new = nodes + 1
    t = 150 * MS
    while t < end:
        k = rng.random()
        if k < 0.3:
            faults.append(Fault(t, "add_server", node=new))
            new += 1
        elif k < 0.5:
            faults.append(Fault(t, "remove_server", node=rng.choice(["follower", "random", "leader"])))
        elif k < 0.65:
            faults.append(Fault(t, "crash", node=rng.choice(["leader", "random"])))
            faults.append(Fault(t + rng.randint(0, 300) * MS, "restart", node="all-crashed"))
        elif k < 0.75:
            faults.append(Fault(t, "isolate", node="leader"))
            faults.append(Fault(t + rng.randint(50, 400) * MS, "heal"))
        else:
            faults.append(Fault(t, "add_server", node=new))
            faults.append(Fault(t + rng.randint(0, 20) * MS, "remove_server", node="random"))
            new += 1
        t += rng.randint(20 * MS, 250 * MS)
    return [*faults, Fault(end, "heal"), Fault(end, "restart", node="all-crashed")]


def membership_run(seed: int, bug: str | None = None, nodes: int = 4) -> tuple[Violation | None, Violation | None]:
    sim = Simulation(
        ClusterConfig(
            nodes=nodes, raft=RaftConfig(election_timeout_min=100 * MS, election_timeout_max=140 * MS), bug=bug
        ),
        NetworkConfig(delay=Exponential(mean=8 * MS, minimum=2 * MS), drop=0.02),
        WorkloadConfig(clients=2, rate=60),
        seed=seed,
    )
    schedule(sim, membership_faults(random.Random(seed), nodes, 2 * S))
    ref = ReferenceChecker(sim)
    v = sim.run(3 * S, after_event=ref.check)
    if v is not None:
        ref.check(sim)
    assert len(sim.admin.changes) >= 2  # the run did change its membership
    return v, ref.violation


@pytest.mark.parametrize("seed", range(6))
def test_membership_changes_both_checkers_find_nothing(seed: int) -> None:
    v, r = membership_run(seed, nodes=3 + seed % 3)
    assert v is None and r is None, (v and v.report(), r)


def test_concurrent_config_changes_both_checkers_flag_the_same_event() -> None:
    found = 0
    for seed in range(30):
        v, r = membership_run(seed, "concurrent-config-changes")
        assert_agree(v, r, {"ConfigurationOverlap", "LeaderCompleteness", "StateMachineSafety", "ElectionSafety"})
        found += v is not None
        if found >= 2:
            break
    assert found >= 1, "none of the runs found it"


def test_the_2015_bug_both_checkers_flag_the_same_event() -> None:
    """config-before-term-commit needs the fuzzer's failover episode (a leader cut off just before two removals,
    sim.fuzz.draw.draw_membership); seed 50 of the default campaign is one (found by ``raftsim bench --bugs``)."""
    from sim.fuzz.campaign import Options, case_for_seed
    from sim.fuzz.case import build

    case = case_for_seed(50, Options(bug="config-before-term-commit"))
    sim = build(case, trace=True)
    ref = ReferenceChecker(sim)
    v = sim.run(case.duration, after_event=ref.check)
    if v is not None:
        ref.check(sim)
    assert v is not None and v.property == "ConfigurationOverlap", v and v.report()
    assert_agree(v, ref.violation, {"ConfigurationOverlap"})
