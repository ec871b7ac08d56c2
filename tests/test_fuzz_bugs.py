"""Every known bug is found by the fuzzer within a fixed seed budget, with the property it breaks."""

from __future__ import annotations

import pytest

from sim.fuzz import BUG_HUNTS, Options, hunt
from sim.nodes.bugs import BUGS

# (properties that can show the bug first, seed budget). The budgets are about twice the seeds the hunt needs today (see
# ``raftsim bench``), so a generator change that makes a bug markedly harder to find fails here.
EXPECTED = {
    "figure8-commit": (("LeaderCompleteness", "StateMachineSafety"), 220),
    "volatile-vote": (("ElectionSafety",), 280),
    "volatile-term": (("TermMonotonic",), 10),
    "vote-without-log-check": (("LeaderCompleteness",), 10),
    # Erased committed entries show as a deletion (StateMachineSafety), as a leader elected without them, as a
    # follower whose state machine never catches up, or as endless rejections (a storm).
    "truncate-on-match": (("StateMachineSafety", "LeaderCompleteness", "Convergence", "Livelock"), 10),
    # Acknowledged entries lost in a crash: a leader elected without them, or a follower that never catches up.
    "ack-before-persist": (("AckedDurable", "LeaderCompleteness", "ElectionSafety", "Convergence"), 170),
    "commit-beyond-match": (("StateMachineSafety",), 10),
    # Found by judging what the clients saw; with log compaction on, also by the state its snapshots hold.
    "duplicate-apply": (("Linearizability", "SnapshotIntegrity"), 20),
    "stale-leader-read": (("Linearizability",), 110),
    "follower-read": (("Linearizability",), 20),
    "ack-before-commit": (("AckedDurable", "Linearizability"), 10),
    # Log compaction (the fuzz family "compaction"); an older snapshot installed deletes committed entries, or only
    # takes the commit index back.
    "snapshot-last-index": (("SnapshotIntegrity",), 10),
    "snapshot-without-sessions": (("SnapshotIntegrity",), 10),
    "install-older-snapshot": (("StateMachineSafety", "CommitMonotonic"), 140),
    # Membership changes (the fuzz family "membership"): the 2015 bug needs its failover episode.
    "config-before-term-commit": (("ConfigurationOverlap",), 110),
    "concurrent-config-changes": (("ConfigurationOverlap",), 50),
    # Reads without a log entry, in their own families (ReadIndex with a hunt: see BUG_HUNTS).
    "lease-without-drift-margin": (("Linearizability",), 90),
    "readindex-before-term-commit": (("Linearizability",), 70),
}


def test_every_bug_has_a_hunt() -> None:
    assert set(EXPECTED) == set(BUGS) == set(BUG_HUNTS)


@pytest.mark.parametrize("bug", list(EXPECTED))
def test_fuzzer_finds_the_bug_within_its_budget(bug: str) -> None:
    props, budget = EXPECTED[bug]
    options = BUG_HUNTS[bug]
    assert options.bug == bug
    first = hunt(options, budget)
    assert first is not None, f"{bug}: no failure in {budget} seeds"
    assert first.property in props, (first.seed, first.property, first.detail)


def test_the_correct_protocol_passes_the_same_hunts() -> None:
    # The focused campaigns are not simply hostile: without the bug, the first seeds of each pass.
    for bug in ("figure8-commit", "volatile-vote", "ack-before-persist"):
        o = BUG_HUNTS[bug]
        assert hunt(Options(nodes=o.nodes, families=o.families), 25) is None, bug
