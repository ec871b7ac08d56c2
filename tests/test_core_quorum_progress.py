"""Unit tests of the one majority rule (sim.raft.quorum) and the leader's per-follower state (sim.raft.progress)."""

from __future__ import annotations

import itertools

import pytest

from sim.raft.progress import PROBE, REPLICATE, SNAPSHOT, Progress
from sim.raft.quorum import (
    LOST,
    PENDING,
    UNBOUNDED,
    WON,
    Configuration,
    majority_committed_index,
    majority_vote_result,
)

# ------------------------------------------------------------------------------------------ committed index


@pytest.mark.parametrize(
    ("voters", "match", "expected"),
    [
        ((1,), {1: 7}, 7),
        ((1, 2), {1: 7, 2: 3}, 3),  # two servers: both
        ((1, 2, 3), {1: 7, 2: 3, 3: 5}, 5),
        ((1, 2, 3, 4), {1: 9, 2: 8, 3: 1, 4: 2}, 2),  # four: three of them
        ((1, 2, 3, 4, 5), {1: 9, 2: 8, 3: 1, 4: 2, 5: 8}, 8),
        ((1, 2, 3), {1: 7}, 0),  # a voter not heard of holds nothing
        ((1, 2, 3), {1: 7, 2: 7, 9: 100}, 7),  # ids outside the configuration do not count
    ],
)
def test_committed_index_is_held_by_a_majority(voters: tuple[int, ...], match: dict[int, int], expected: int) -> None:
    assert majority_committed_index(voters, match) == expected
    assert Configuration(voters).committed_index(match) == expected


def test_committed_index_agrees_with_counting_by_brute_force() -> None:
    for n in range(1, 6):
        voters = tuple(range(1, n + 1))
        for values in itertools.product(range(4), repeat=n):
            match = dict(zip(voters, values, strict=True))
            held = max(i for i in range(4) if sum(1 for v in values if v >= i) > n // 2)
            assert majority_committed_index(voters, match) == held, match


def test_joint_committed_index_is_the_smaller_of_the_two_halves() -> None:
    match = {1: 10, 2: 10, 3: 4, 4: 4, 5: 4}
    old, new = (1, 2, 3), (3, 4, 5)
    assert majority_committed_index(old, match) == 10 and majority_committed_index(new, match) == 4
    assert Configuration(new, old).committed_index(match) == 4
    assert Configuration(old, new).committed_index(match) == 4
    assert majority_committed_index((), match) == UNBOUNDED  # an empty half leaves the other's
    assert Configuration(old, ()).committed_index(match) == 10


# ------------------------------------------------------------------------------------------- vote results


def test_vote_result_won_lost_pending() -> None:
    voters = (1, 2, 3, 4, 5)
    assert majority_vote_result(voters, {1, 2, 3}, set()) == WON
    assert majority_vote_result(voters, {1, 2}, {3, 4}) == PENDING
    assert majority_vote_result(voters, {1}, {3, 4, 5}) == LOST
    assert majority_vote_result(voters, {1, 2, 8, 9}, set()) == PENDING  # strangers' votes do not count
    assert majority_vote_result((1,), {1}, set()) == WON
    assert majority_vote_result((1, 2), {1}, set()) == PENDING and majority_vote_result((1, 2), {1}, {2}) == LOST
    assert majority_vote_result((), set(), set()) == WON


def test_joint_vote_needs_both_halves_and_is_lost_when_either_is() -> None:
    c = Configuration(voters=(3, 4, 5), outgoing=(1, 2, 3))
    assert c.joint and c.ids() == (3, 4, 5, 1, 2)
    assert c.vote_result({1, 2, 3}) == PENDING  # the old half only
    assert c.vote_result({3, 4, 5}) == PENDING  # the new half only
    assert c.vote_result({1, 3, 4}) == WON
    assert c.vote_result({3, 4}, {1, 2}) == LOST  # the old half lost
    assert c.vote_result({1, 2}, {4, 5}) == LOST  # the new half lost
    assert c.vote_result({4}, {1}) == PENDING
    plain = Configuration((1, 2, 3))
    assert not plain.joint and plain.ids() == (1, 2, 3)


def test_is_quorum_for_check_quorum_and_read_acknowledgements() -> None:
    c = Configuration((1, 2, 3, 4, 5))
    assert c.is_quorum({1, 2, 3}) and not c.is_quorum({1, 2}) and not c.is_quorum({1, 2, 6, 7})
    joint = Configuration((1, 2, 3), (1, 4, 5))
    assert not joint.is_quorum({1, 2, 3}) and joint.is_quorum({1, 2, 4})


# ---------------------------------------------------------------------------------------------- progress


def test_progress_probes_then_replicates() -> None:
    pr = Progress(5)
    assert (pr.state, pr.next, pr.match, pr.probe_sent) == (PROBE, 5, 0, False)
    pr.probe_sent = True
    pr.acknowledge(4)
    assert (pr.state, pr.next, pr.match, pr.probe_sent) == (REPLICATE, 5, 4, False)
    pr.inflight.extend([(6, 0), (8, 1), (9, 2)])
    pr.next = 10
    pr.acknowledge(8)
    assert list(pr.inflight) == [(9, 2)] and pr.match == 8 and pr.next == 10
    pr.acknowledge(3)  # a stale acknowledgement: match never goes back
    assert pr.match == 8
    pr.become_probe(9)
    assert (pr.state, pr.next, pr.probe_sent, list(pr.inflight)) == (PROBE, 9, False, [])


def test_progress_in_snapshot_waits_for_the_snapshot_to_be_acknowledged() -> None:
    pr = Progress(3)
    pr.inflight.append((4, 0))
    pr.become_snapshot(100)
    assert (pr.state, pr.pending_snapshot, list(pr.inflight)) == (SNAPSHOT, 100, [])
    pr.acknowledge(50)  # short of the snapshot: still waiting
    assert (pr.state, pr.match) == (SNAPSHOT, 50)
    pr.acknowledge(100)
    assert (pr.state, pr.next, pr.match) == (PROBE, 101, 100)
