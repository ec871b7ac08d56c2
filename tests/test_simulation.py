"""Whole-cluster tests: sim.world.cluster.Simulation with faults from sim.world.faults, the checker after every
event.

Every test asserts outcomes, not just the absence of a violation: who leads, that logs converge, that
committed entries and acknowledged commands survive. ``settle`` ends a test the same way each time: heal the
network, restart crashed servers, stop losing messages, let the cluster run quietly, then compare every log.
"""

from __future__ import annotations

import contextlib
import gc
import itertools

from sim.raft import FOLLOWER, LEADER, AppendEntriesReply, ClientReply, ClientRequest, Command, Entry, RaftConfig
from sim.world.cluster import Simulation
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault, schedule
from sim.world.network import Exponential, Fixed, LogNormal

MS = 1_000
S = 1_000_000


def run(sim: Simulation, until: int) -> None:
    v = sim.run(until)
    assert v is None, v.report()


def log_of(sim: Simulation, i: int) -> tuple[Entry, ...]:
    node = sim.servers[i].node
    assert node is not None
    return tuple(node.log.entries())


def acked_commands(sim: Simulation) -> list[tuple[str, int, int]]:
    """(client, seq, index) of every acknowledgement, from the trace."""
    return [(r[2], r[3]["seq"], r[3]["index"]) for r in sim.trace.records if r[1] == "ack"]


def committed_prefix(sim: Simulation) -> tuple[Entry, ...]:
    """The longest log prefix that some live server has committed."""
    best: tuple[Entry, ...] = ()
    for s in sim.servers.values():
        if s.node is not None and s.node.commit > len(best):
            best = tuple(s.node.log.entries())[: s.node.commit]
    return best


def settle(sim: Simulation, quiet: int = 3 * S) -> tuple[Entry, ...]:
    """Heal everything, let the cluster run ``quiet`` more, and check that it converged: one leader, identical
    logs, everything committed, every acknowledged command in place. Returns the common log."""
    sim.heal()
    sim.set_drop(0.0)
    sim.set_duplicate(0.0)
    for i, s in sim.servers.items():
        if not s.alive:
            sim.restart(i)
    # Clients issue no new command after the workload's ``stop``; the quiet period starts from then.
    stop = sim.workload.stop
    assert stop is not None or not sim.clients, "give the workload a stop time"
    run(sim, max(sim.now, stop or 0) + quiet)
    assert sim.pending_commands() == 0
    leaders = sim.leaders()
    assert len(leaders) == 1, leaders
    logs = {log_of(sim, i) for i in sim.servers}
    assert len(logs) == 1, [len(log) for log in logs]
    (log,) = logs
    assert all(s.node is not None and s.node.commit == len(log) for s in sim.servers.values())
    for client, seq, index in acked_commands(sim):
        c = log[index - 1].command
        assert c is not None and (c.client, c.seq) == (client, seq)
    return log


def workload(clients: int = 3, rate: float = 60, stop: int = 4 * S, **kw: object) -> WorkloadConfig:
    return WorkloadConfig(clients=clients, rate=rate, stop=stop, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ elections


def test_first_election() -> None:
    sim = Simulation(seed=1)
    run(sim, 1 * S)
    assert len(sim.elections) == 1
    t, leader, term = sim.elections[0]
    raft = sim.cluster.raft
    assert raft.election_timeout_min <= t <= raft.election_timeout_max + 100 * MS
    assert term == 1 and sim.leaders() == [leader]
    for i, s in sim.servers.items():
        assert s.node is not None and s.node.term == 1
        if i != leader:
            assert s.node.role == FOLLOWER and s.node.leader_id == leader
    # The leader's term-1 no-op is everywhere and committed.
    assert all(log_of(sim, i) == (Entry(1),) for i in sim.servers)
    assert sim.committed == 1


def test_reelection_after_the_leader_crashes() -> None:
    sim = Simulation(workload=workload(), seed=2)
    run(sim, 1 * S)
    old = sim.leader()
    assert old is not None
    before = committed_prefix(sim)
    sim.crash(old)
    run(sim, 2 * S)
    new = sim.leader()
    assert new is not None and new != old
    assert sim.servers[new].node.term > sim.elections[0][2]
    assert log_of(sim, new)[: len(before)] == before
    acked = sim.acked()
    run(sim, 3 * S)
    assert sim.acked() > acked  # clients found the new leader
    log = settle(sim)
    assert log[: len(before)] == before
    assert sim.leader() == new  # the restarted old leader rejoined as a follower


def test_disconnected_leader_rejoins_without_disrupting() -> None:
    sim = Simulation(workload=workload(clients=4, rate=80), seed=3)
    run(sim, 1 * S)
    old = sim.leader()
    assert old is not None
    old_term = sim.servers[old].node.term
    sim.isolate(old)
    run(sim, 2500 * MS)
    new = sim.leader()
    assert new != old and sim.servers[old].node.role == LEADER  # it does not know yet
    new_term = sim.servers[new].node.term
    stale_tail = len(log_of(sim, old)) - sim.servers[old].node.commit
    assert stale_tail > 0  # it accepted commands it could not commit
    sim.heal()
    run(sim, 3 * S)
    assert sim.servers[old].node.role == FOLLOWER and sim.servers[old].node.term == new_term > old_term
    assert sim.leaders() == [new]
    assert [e for e in sim.elections if e[1] != new and e[2] > new_term] == []  # no election after the heal
    settle(sim)


def test_partitioned_follower_rejoining_does_not_depose_the_leader_with_prevote() -> None:
    outcomes = {}
    for prevote in (True, False):
        sim = Simulation(ClusterConfig(raft=RaftConfig(prevote=prevote)), workload=workload(), seed=4)
        run(sim, 1 * S)
        leader = sim.leader()
        term = sim.servers[leader].node.term
        follower = next(i for i in sim.servers if i != leader)
        sim.isolate(follower)
        run(sim, 3 * S)
        sim.heal()
        run(sim, 4 * S)
        outcomes[prevote] = (sim.leader() == leader, sim.servers[leader].node.term == term)
        settle(sim)
    assert outcomes[True] == (True, True)  # PreVote: nothing happened to the leader
    assert outcomes[False][1] is False  # without it, the follower's inflated term forced a new election


def test_check_quorum_leader_in_a_minority_steps_down() -> None:
    sim = Simulation(ClusterConfig(raft=RaftConfig(check_quorum=True, prevote=True)), seed=5)
    run(sim, 1 * S)
    old = sim.leader()
    others = [i for i in sim.servers if i != old]
    sim.partition([[old, others[0]]])
    run(sim, 2 * S)
    assert sim.servers[old].node.role != LEADER  # stepped down on its own
    assert sim.leaders() and sim.leaders()[0] in others[1:]
    settle(sim)


# ---------------------------------------------------------------------------------------------- majorities


def test_no_leader_and_no_commit_without_a_majority() -> None:
    sim = Simulation(workload=workload(), seed=6)
    run(sim, 1 * S)
    leader = sim.leader()
    followers = [i for i in sim.servers if i != leader]
    for i in (leader, followers[0], followers[1]):
        sim.crash(i)
    run(sim, sim.now + 50 * MS)  # replies the leader sent before it crashed may still arrive
    committed, acked = sim.committed, sim.acked()
    elections = len(sim.elections)
    run(sim, 3 * S)
    assert sim.leaders() == []
    assert len(sim.elections) == elections
    assert sim.acked() == acked
    assert all(sim.servers[i].node.commit <= committed for i in sim.alive())
    assert sim.pending_commands() > 0
    sim.restart(leader)
    run(sim, 5 * S)
    assert sim.leader() is not None and sim.acked() > acked
    settle(sim)


def test_minority_side_of_a_partition_commits_nothing() -> None:
    sim = Simulation(workload=workload(clients=4, rate=80), seed=7)
    run(sim, 1 * S)
    leader = sim.leader()
    minority = [leader, next(i for i in sim.servers if i != leader)]
    sim.partition([minority])
    commits = {i: sim.servers[i].node.commit for i in minority}
    # What was already stored on a majority at the split may still be committed by the minority's leader, once a
    # reply that left before the split arrives; nothing beyond that.
    lengths = sorted((s.node.log.last_index for s in sim.servers.values()), reverse=True)
    on_a_majority = lengths[len(lengths) // 2]
    run(sim, 3 * S)
    assert all(sim.servers[i].node.commit <= on_a_majority for i in minority)
    assert all(sim.servers[i].node.commit >= commits[i] for i in minority)
    majority_leader = sim.leader()
    assert majority_leader not in minority
    assert sim.servers[majority_leader].node.commit > max(commits.values())
    settle(sim)


def test_agreement_despite_a_failed_follower() -> None:
    sim = Simulation(workload=workload(), seed=8)
    run(sim, 1 * S)
    follower = next(i for i in sim.servers if i != sim.leader())
    sim.crash(follower)
    acked = sim.acked()
    run(sim, 3 * S)
    assert sim.acked() > acked
    live = [log_of(sim, i) for i in sim.alive()]
    shortest = min(len(log) for log in live)
    assert len({log[:shortest] for log in live}) == 1
    log = settle(sim)
    assert log_of(sim, follower) == log  # caught up after its restart


# --------------------------------------------------------------------------------------------- catching up


def test_far_behind_follower_catches_up_with_fast_backoff() -> None:
    """An old leader in a minority accumulates 150 entries that never commit; meanwhile the majority commits
    250 entries under a second leader, which then crashes; a third leader must replace the old leader's
    conflicting suffix. The back-off hint skips the conflicting term in one step instead of 150."""
    # Two idle clients (they issue nothing themselves) receive the replies to the commands injected below.
    sim = Simulation(workload=WorkloadConfig(clients=2, rate=1, stop=0), seed=9)
    run(sim, 1 * S)
    old = sim.leader()
    sim.isolate(old)
    for k in range(150):
        sim.servers[old].deliver(ClientRequest("c1", old, Command("c1", 100_000 + k, "put", "k", "stale")))
    run(sim, 1500 * MS)
    second = sim.leader()
    assert second != old
    for k in range(250):
        sim.servers[second].deliver(ClientRequest("c2", second, Command("c2", 100_000 + k, "put", "k", "new")))
    run(sim, 2 * S)
    committed = committed_prefix(sim)
    assert len(committed) > 250
    sim.crash(second)
    run(sim, 3 * S)
    third = sim.leader()
    assert third not in (old, second)
    healed = sim.now
    sim.heal()
    run(sim, 4 * S)
    rejections = [
        r
        for r in sim.trace.records
        if r[0] >= healed and r[1] == "deliver" and type(r[3]) is AppendEntriesReply and r[3].src == old
        if not r[3].success
    ]
    assert len(rejections) < 15
    assert log_of(sim, old)[: len(committed)] == committed
    assert not any(e.command and e.command.value == "stale" for e in log_of(sim, old))
    settle(sim)


# --------------------------------------------------------------------------------------------- crashes


def test_crash_and_restart_of_every_node_loses_nothing_committed() -> None:
    sim = Simulation(workload=workload(clients=4, rate=100), seed=10)
    for t in (1 * S, 2 * S):
        run(sim, t)
        before = committed_prefix(sim)
        acked = acked_commands(sim)
        assert len(before) > 10 and acked
        for i in sim.servers:
            sim.crash(i)
        run(sim, t + 200 * MS)
        for i in sim.servers:
            sim.restart(i)
        run(sim, t + 800 * MS)
        assert sim.leader() is not None
        for i in sim.servers:
            assert log_of(sim, i)[: len(before)] == before or len(log_of(sim, i)) < len(before)
        assert committed_prefix(sim)[: len(before)] == before
    log = settle(sim)
    assert log[: len(before)] == before


def test_whole_cluster_restart_staggered_with_disk_latency() -> None:
    sim = Simulation(ClusterConfig(disk_latency=3 * MS), workload=workload(clients=4, rate=100), seed=11)
    faults = [Fault(1 * S + k * 37 * MS, "crash", node=k + 1) for k in range(5)]
    faults += [Fault(1500 * MS + k * 53 * MS, "restart", node=k + 1) for k in range(5)]
    schedule(sim, faults)
    run(sim, 1 * S)
    before = committed_prefix(sim)
    run(sim, 3 * S)
    log = settle(sim)
    assert log[: len(before)] == before


# ------------------------------------------------------------------------------------------------ network


def test_agreement_on_a_network_that_drops_duplicates_and_reorders() -> None:
    net = NetworkConfig(delay=Exponential(mean=10 * MS, minimum=1 * MS), drop=0.2, duplicate=0.2)
    sim = Simulation(network=net, workload=workload(clients=4, rate=100), seed=12)
    run(sim, 5 * S)
    assert sim.acked() > 20
    dropped = sum(1 for r in sim.trace.records if r[1] == "drop")
    duplicated = sum(1 for r in sim.trace.records if r[1] == "duplicate")
    assert dropped > 100 and duplicated > 100
    # Reordering: some AppendEntries to one follower overtook an earlier one.
    seen: dict[int, int] = {}
    overtaken = 0
    for r in sim.trace.records:
        if r[1] == "deliver" and type(r[3]).__name__ == "AppendEntries":
            m = r[3]
            if m.prev_index < seen.get(m.dst, -1):
                overtaken += 1
            seen[m.dst] = max(seen.get(m.dst, -1), m.prev_index)
    assert overtaken > 0
    settle(sim)


def test_one_way_cut_from_the_leader() -> None:
    sim = Simulation(workload=workload(), seed=13)
    run(sim, 1 * S)
    leader = sim.leader()
    follower = next(i for i in sim.servers if i != leader)
    sim.cut(leader, follower)  # the follower hears nothing, but its messages still reach the leader
    run(sim, 3 * S)
    sim.repair(leader, follower)
    run(sim, 4 * S)
    settle(sim)


def test_random_churn() -> None:
    for seed in (14, 15):
        sim = Simulation(
            network=NetworkConfig(delay=LogNormal(6 * MS, 0.6, 1 * MS), drop=0.05, duplicate=0.05),
            workload=workload(clients=4, rate=80, stop=5 * S),
            seed=seed,
        )
        rng = sim.fault_rng
        faults = []
        t = 300 * MS
        while t < 5 * S:
            kind = rng.choice(["crash", "restart", "partition", "heal", "isolate"])
            if kind == "crash":
                faults.append(Fault(t, "crash", node=rng.choice(["leader", "random"])))
            elif kind == "restart":
                faults.append(Fault(t, "restart", node="all-crashed"))
            elif kind == "partition":
                faults.append(Fault(t, "partition", groups=(tuple(rng.sample(range(1, 6), 2)),)))
            elif kind == "isolate":
                faults.append(Fault(t, "isolate", node="leader"))
            else:
                faults.append(Fault(t, "heal"))
            t += rng.randint(100 * MS, 400 * MS)
        schedule(sim, faults)
        run(sim, 5 * S)
        assert len(sim.faults) > 10
        assert len({term for _, _, term in sim.elections}) > 2
        before = committed_prefix(sim)
        log = settle(sim)
        assert log[: len(before)] == before and sim.acked() > 20


def test_a_run_makes_no_cyclic_garbage_except_crashed_processes() -> None:
    """Simulation.run turns the cyclic garbage collector off while it runs, on the grounds that the simulator
    leaves no reference cycles behind except those of the process of a crashed server."""
    sim = Simulation(
        network=NetworkConfig(delay=LogNormal(6 * MS, 0.6, 1 * MS), drop=0.05, duplicate=0.05),
        workload=workload(clients=4, rate=200, stop=3 * S),
        seed=5,
    )
    for k in range(6):
        sim.at(200 * MS + k * 400 * MS, lambda: sim.crash(sim.leader() or 1))
        sim.at(400 * MS + k * 400 * MS, lambda: [sim.restart(i) for i in sim.servers if not sim.servers[i].alive])
    gc.collect()
    assert gc.isenabled()
    run(sim, 3 * S)
    assert gc.isenabled()  # restored
    crashes = sum(1 for r in sim.trace.records if r[1] == "crash")
    assert crashes == 6 and sim.acked() > 20
    assert gc.collect() <= 8 * crashes  # measured: 4 objects per crash


def test_messages_arrive_as_they_were_sent() -> None:
    """Messages are immutable by contract (sim.raft.messages), not frozen: nothing may change one once it is sent,
    not the nodes, the network (duplicates share the object), the trace or the checker."""
    sim = Simulation(
        network=NetworkConfig(delay=LogNormal(6 * MS, 0.6, 1 * MS), drop=0.05, duplicate=0.1),
        workload=workload(clients=10, rate=1000, stop=2 * S),
        seed=9,
    )
    sim.at(700 * MS, lambda: sim.crash(sim.leader() or 1))
    sim.at(900 * MS, lambda: sim.partition([[1, 2]]))
    sim.at(1300 * MS, sim.heal)
    sim.at(1400 * MS, lambda: [sim.restart(i) for i in sim.servers if not sim.servers[i].alive])
    records = sim.trace.records
    seen = 0
    snapshots = []

    def snapshot(_: Simulation) -> None:
        nonlocal seen
        for r in records[seen:]:
            if r[1] == "send":
                snapshots.append((r[3], repr(r[3])))  # repr shows nested entries and commands too
        seen = len(records)

    sim.run(2 * S, after_event=snapshot)
    assert sim.violation is None
    assert len(snapshots) > 1000 and sum(1 for r in records if r[1] == "duplicate") > 50
    assert all(repr(m) == before for m, before in snapshots)


def test_a_server_crashed_before_its_process_starts_stays_silent() -> None:
    sim = Simulation(ClusterConfig(nodes=3), seed=4)
    server = sim.servers[1]
    sim.at(100 * MS, lambda: sim.crash(1))

    def boot_and_crash() -> None:
        server.boot()
        server.crash()  # in the same callback: before the new process has run at all

    sim.at(200 * MS, boot_and_crash)
    run(sim, 2 * S)
    assert not server.alive
    assert not [r for r in sim.trace.records if r[0] > 200 * MS and r[1] in ("send", "state") and r[2] == 1]


def link_orders(sim: Simulation) -> tuple[int, int]:
    """(links whose deliveries came in send order, links where some message overtook another)."""
    sent: dict[int, int] = {}
    last: dict[tuple[object, object], int] = {}
    in_order, overtaken = set(), set()
    for r in sim.trace.records:
        if r[1] == "send":
            sent.setdefault(id(r[3]), len(sent))
        elif r[1] == "deliver":
            m = r[3]
            link = (m.src, m.dst)
            position = sent[id(m)]
            (overtaken if position < last.get(link, -1) else in_order).add(link)
            last[link] = max(position, last.get(link, -1))
    return len(in_order - overtaken), len(overtaken)


def test_fifo_links_deliver_in_send_order() -> None:
    def simulation(fifo: bool) -> Simulation:
        sim = Simulation(
            network=NetworkConfig(delay=LogNormal(4 * MS, 0.8, 1 * MS), duplicate=0.05, fifo=fifo),
            workload=workload(clients=10, rate=1000, stop=2 * S),
            seed=6,
        )
        sim.at(800 * MS, lambda: sim.crash(sim.leader() or 1))
        sim.at(1200 * MS, lambda: [sim.restart(i) for i in sim.servers if not sim.servers[i].alive])
        run(sim, 2 * S)
        return sim

    reordering, fifo = simulation(False), simulation(True)
    assert link_orders(reordering)[1] > 10  # without fifo, messages overtake one another on most links
    in_order, overtaken = link_orders(fifo)
    assert overtaken == 0 and in_order > 20

    # So, until the crash, no follower lacks the predecessor of an AppendEntries: none is rejected.
    def rejections_before_the_crash(sim: Simulation) -> int:
        return sum(
            1
            for t, kind, _, m in sim.trace.records
            if t < 800 * MS and kind == "deliver" and type(m) is AppendEntriesReply and not m.success
        )

    assert rejections_before_the_crash(reordering) > 20
    assert rejections_before_the_crash(fifo) == 0
    assert fifo.acked() > 100


def test_clock_drift_keeps_safety_and_a_fast_clock_wins_elections() -> None:
    sim = Simulation(workload=workload(), seed=16)
    sim.set_drift(1, 0.5)
    sim.set_drift(2, 1.5)
    sim.set_drift(3, 3.0)  # its timers fire three times as early
    run(sim, 2 * S)
    assert sim.elections[0][1] == 3
    # A leader whose clock runs slow still leads as long as its heartbeats beat the others' timeouts.
    sim.crash(3)
    run(sim, 4 * S)
    assert sim.leader() is not None
    settle(sim)


def crash_storm(count: int, period: int, down: int, start: int = 400 * MS) -> list[Fault]:
    """Every ``period`` from ``start``: crash the leader or a random server (alternately), restart after ``down``."""
    faults = []
    for k in range(count):
        faults.append(Fault(start + k * period, "crash", node="leader" if k % 2 else "random"))
        faults.append(Fault(start + down + k * period, "restart", node="all-crashed"))
    return faults


def test_disk_latency_with_crashes_stays_safe() -> None:
    for seed in (17, 18):
        sim = Simulation(
            ClusterConfig(disk_latency=8 * MS),
            NetworkConfig(delay=Fixed(2 * MS)),
            workload(clients=4, rate=100, stop=5 * S),
            seed=seed,
        )
        schedule(sim, crash_storm(count=12, period=300 * MS, down=150 * MS))
        run(sim, 5 * S)
        lost = sum(r[3]["lost_writes"] for r in sim.trace.records if r[1] == "crash")
        assert lost > 0  # some crashes did hit a write in progress
        settle(sim)


def test_early_vote_requests_with_disk_latency_and_crashes_stay_safe() -> None:
    """RaftConfig.early_vote_requests: a candidate's RequestVotes leave while its own term and vote are being
    written; crashes during those writes lose the candidacy, never safety."""
    elections = []
    for seed in (21, 22, 23):
        sim = Simulation(
            ClusterConfig(raft=RaftConfig(early_vote_requests=True), disk_latency=10 * MS),
            NetworkConfig(delay=Fixed(1 * MS)),
            workload(clients=4, rate=100, stop=5 * S),
            seed=seed,
        )
        schedule(sim, crash_storm(count=14, period=250 * MS, down=120 * MS))
        run(sim, 5 * S)
        # RequestVotes went out before the candidate's write was durable: the first election's requests leave a
        # disk latency before the candidacy is recorded (the trace records state once it is durable).
        first = next(r for r in sim.trace.records if r[1] == "state" and r[3]["role"] == "candidate")
        sends = [r for r in sim.trace.records if r[1] == "send" and type(r[3]).__name__ == "RequestVote"]
        assert sends and sends[0][0] == first[0] - 10 * MS
        elections.append(len(sim.elections))
        settle(sim)
    assert min(elections) > 5  # the crashes did force many elections


def test_stale_timer_expiry_does_not_start_an_election() -> None:
    """With a disk latency, inputs queue up while a write is in progress; an election timeout that expired then
    is superseded if a queued AppendEntries re-armed the timer (regression: it used to start an election)."""
    for seed in range(6):
        sim = Simulation(ClusterConfig(disk_latency=20 * MS), workload=workload(clients=4, rate=150), seed=seed)
        run(sim, 4 * S)
        assert len(sim.elections) == 1, sim.elections


def test_clients_retry_after_the_leader_steps_down_with_pending_commands() -> None:
    sim = Simulation(workload=workload(clients=4, rate=100, stop=3 * S), seed=19)
    run(sim, 1 * S)
    leader = sim.leader()
    sim.isolate(leader)  # commands sent to it now can never commit there
    run(sim, 1300 * MS)
    sim.heal()
    run(sim, 6 * S)
    assert sim.pending_commands() == 0  # every command was eventually acknowledged
    settle(sim)
    seqs: dict[str, set[int]] = {}
    for client, seq, _ in acked_commands(sim):
        seqs.setdefault(client, set()).add(seq)
    for client, got in seqs.items():
        assert got == set(range(1, sim.clients[client].seq + 1))


def test_client_ignores_a_refusal_from_a_server_an_earlier_attempt_went_to() -> None:
    sim = Simulation(workload=workload(clients=1, rate=20), seed=20)
    client = sim.clients["c1"]
    run(sim, 1 * S)

    class Outstanding(Exception):
        pass

    def stop_when_outstanding(_: Simulation) -> None:
        if client.outstanding is not None and client.waiting_for_reply:
            raise Outstanding

    with contextlib.suppress(Outstanding):
        sim.run(3 * S, after_event=stop_when_outstanding)
    assert client.outstanding is not None
    seq, target = client.outstanding.seq, client.target
    other = next(i for i in sim.servers if i != target)
    sent = sim.network.delivered, len(sim.trace.records)
    # A duplicated or late refusal from another server must not end the current attempt...
    client.on_reply(ClientReply(other, "c1", seq, False, None, other))
    assert client.waiting_for_reply and client.target == target
    assert (sim.network.delivered, len(sim.trace.records)) == sent  # nothing happened
    # ...but the current target's answer does: the client goes to the leader it names (a new attempt, waiting).
    client.on_reply(ClientReply(target, "c1", seq, False, None, other))
    assert client.target == other and client.outstanding.seq == seq and client.waiting_for_reply


# --------------------------------------------------------------------------- modelling a testbed's disk and timers


def test_fsync_disk_charges_each_write_as_logcabin_made_it() -> None:
    """sim.world.storage.FsyncDisk: a metadata update is 2 fsyncs, an appended entry 4, a vote in a term the voter
    has just learned two updates (LogCabin's stepDown, then the vote), a truncation one more update."""
    from sim.raft.node import Output
    from sim.world.storage import FsyncDisk, Storage

    disk = FsyncDisk(fsync=1_000)
    storage = Storage()
    storage.term, storage.voted_for, storage.entries = 3, 2, [Entry(1), Entry(3)]

    def cost(hard: tuple[int, int | None] | None = None, log_from: int | None = None, n: int = 0) -> int:
        out = Output()
        out.hard_state = hard
        out.log_from = log_from
        out.log_entries = tuple(Entry(4) for _ in range(n))
        return disk.latency(storage, out, node_id=1) // 1_000

    assert cost((4, 1)) == 2  # a candidate: its new term and its own vote in one update
    assert cost((4, 5)) == 4  # a voter in a new term: the term, then the vote
    assert cost((4, None)) == 2  # a new term, no vote
    assert cost((3, 2)) == 0  # nothing changed
    assert cost((3, None)) == 2  # ... votedFor changed alone (cannot happen, but is one update)
    assert cost(log_from=3, n=2) == 8  # two entries appended
    assert cost(log_from=2, n=1) == 2 + 4  # one entry rewritten: the metadata first, then the entry
    assert cost((4, None), log_from=3, n=1) == 2 + 4  # a follower adopting a leader's term and its entry


def isolated_campaigns(**cluster: object) -> list[int]:
    """When server 1, alone from the start, starts its first three elections (the trace's records of its
    candidacy come once the candidacy is durable)."""
    sim = Simulation(ClusterConfig(nodes=3, **cluster), NetworkConfig(delay=Fixed(1 * MS)), seed=5)  # type: ignore[arg-type]
    sim.isolate(1)
    run(sim, 2 * S)
    return [r[0] for r in sim.trace.records if r[1] == "state" and r[2] == 1 and r[3]["role"] == "candidate"][:3]


def test_timers_from_input_count_from_the_input_not_from_its_write() -> None:
    """ClusterConfig.timers_from_input: a timer counts from the input that armed it (LogCabin's setElectionTimer
    runs before the write it then waits for); by default from when the input's writes are durable. An isolated
    candidate re-arms its timer with each campaign, whose write takes the disk latency: from the input, each
    campaign comes a disk latency sooner than the last."""
    after_write = isolated_campaigns(disk_latency=30 * MS)
    from_input = isolated_campaigns(disk_latency=30 * MS, timers_from_input=True)
    assert len(after_write) == len(from_input) == 3
    assert from_input[0] == after_write[0]  # the first timer was armed at boot, which writes nothing
    assert [a - b for a, b in zip(after_write, from_input, strict=True)] == [0, 30 * MS, 60 * MS]
    # Without disk latency the two are the same run.
    assert isolated_campaigns(timers_from_input=True) == isolated_campaigns()


def test_a_timer_due_during_a_write_expires_as_the_write_completes() -> None:
    """With timers from the input and a write longer than the timeout, the election timer is due while the
    candidate still writes: it expires as soon as the write is durable (as LogCabin's timer thread, waiting for
    the lock the write holds)."""
    sim = Simulation(
        ClusterConfig(
            nodes=3,
            raft=RaftConfig(election_timeout_min=10 * MS, election_timeout_max=12 * MS, heartbeat_interval=5 * MS),
            disk_latency=20 * MS,
            timers_from_input=True,
        ),
        NetworkConfig(delay=Fixed(1 * MS)),
        seed=3,
    )
    sim.isolate(1)
    run(sim, 200 * MS)
    times = [r[0] for r in sim.trace.records if r[1] == "state" and r[2] == 1 and r[3]["role"] == "candidate"]
    assert len(times) > 5
    assert all(b - a == 20 * MS for a, b in itertools.pairwise(times))  # one campaign per write, back to back
