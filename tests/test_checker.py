"""The incremental checker (sim.check.safety) on hand-built histories: every property has a history that breaks it
(the checker must name it) and legitimate histories that look suspicious (the checker must stay quiet).

Histories are fed through the checker's hooks exactly as the simulator calls them: ``observe`` after each
input a server handled (with the log suffix it rewrote), ``crashed``, ``restarted`` and ``acked``.
"""

from __future__ import annotations

import pytest

from sim.check.safety import PROPERTIES, Checker, Violation
from sim.raft import CANDIDATE, FOLLOWER, LEADER, Command, ConfigEntry, Configuration, Entry, KeyValueStore, Snapshot
from sim.raft.snapshot import encode_state


def E(term: int, client: str | None = None, seq: int = 0) -> Entry:
    return Entry(term, None if client is None else Command(client, seq, "put", "k", f"{client}{seq}"))


def fresh(n: int = 3) -> Checker:
    return Checker(range(1, n + 1))


def prop(c: Checker) -> str | None:
    return c.violation.property if c.violation else None


def leader_with(c: Checker, node: int, term: int, log: list[Entry], commit: int = 0) -> None:
    """``node`` becomes leader of ``term`` holding ``log`` (written from index 1)."""
    c.observe(node, term, CANDIDATE, 0)
    c.observe(node, term, LEADER, commit, 1, log)


# ------------------------------------------------------------------------------------------ ElectionSafety


def test_two_leaders_in_one_term() -> None:
    c = fresh()
    leader_with(c, 1, 2, [E(2)])
    leader_with(c, 2, 2, [E(2)])
    assert prop(c) == "ElectionSafety"
    assert set(c.violation.nodes) == {1, 2}


def test_two_leaders_in_one_term_even_if_the_first_crashed_meanwhile() -> None:
    c = fresh()
    leader_with(c, 1, 2, [E(2)])
    c.crashed(1)
    c.restarted(1, 2, [E(2)])
    leader_with(c, 3, 2, [E(2)])
    assert prop(c) == "ElectionSafety"


def test_leaders_of_different_terms_are_fine() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1)])
    leader_with(c, 2, 2, [E(1), E(2)])  # node 1 still believes it leads term 1: allowed
    c.observe(1, 1, LEADER, 0)
    assert c.violation is None


# ---------------------------------------------------------------------------------------- LeaderAppendOnly


def test_leader_overwrites_its_own_entry() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1), E(1, "a", 1)])
    c.observe(1, 1, LEADER, 0, 2, [E(1, "b", 1)])
    assert prop(c) == "LeaderAppendOnly"


def test_leader_truncates_its_log() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1), E(1, "a", 1)])
    c.observe(1, 1, LEADER, 0, 2, [])
    assert prop(c) == "LeaderAppendOnly"


def test_leader_that_stepped_down_may_truncate() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1), E(1, "a", 1)])
    c.observe(1, 2, FOLLOWER, 0)  # hears of term 2
    c.observe(1, 2, FOLLOWER, 0, 2, [E(2)])  # the new leader's entry replaces its uncommitted one
    assert c.violation is None
    # Stepping down and truncating in one input is fine too.
    c2 = fresh()
    leader_with(c2, 1, 1, [E(1), E(1, "a", 1)])
    c2.observe(1, 2, FOLLOWER, 0, 2, [E(2)])
    assert c2.violation is None


# ---------------------------------------------------------------------------------------------- LogMatching


def test_same_index_and_term_with_different_prefixes() -> None:
    c = fresh()
    c.observe(1, 2, FOLLOWER, 0, 1, [E(1, "a", 1), E(2)])
    c.observe(2, 2, FOLLOWER, 0, 1, [E(1, "b", 1), E(2)])
    assert prop(c) == "LogMatching"


def test_same_index_and_term_differ_across_time() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 0, 1, [E(1, "a", 1)])
    c.observe(1, 2, FOLLOWER, 0, 1, [E(2)])  # node 1's entry replaced (legit: never committed)
    c.observe(2, 2, FOLLOWER, 0, 1, [E(1, "b", 1)])  # but (1, term 1) named another entry before
    assert prop(c) == "LogMatching"


def test_same_index_and_term_differ_for_a_term_not_first_seen_at_that_index() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 0, 1, [E(1)])  # index 1 is first seen in term 1
    c.observe(2, 2, FOLLOWER, 0, 1, [E(2, "a", 1)])  # then in term 2
    assert c.violation is None
    c.observe(3, 2, FOLLOWER, 0, 1, [E(2, "b", 1)])  # and in term 2 again, another entry
    assert prop(c) == "LogMatching"


def test_the_same_entry_object_after_different_prefixes() -> None:
    c = fresh()
    shared = E(2, "x", 1)
    c.observe(1, 2, FOLLOWER, 0, 1, [E(1, "a", 1), shared])
    c.observe(2, 2, FOLLOWER, 0, 1, [E(1, "a", 1), shared])  # equal prefix, other objects: fine
    assert c.violation is None
    c.observe(3, 2, FOLLOWER, 0, 1, [E(2, "b", 2)])  # another term at index 1: legal so far
    assert c.violation is None
    c.observe(3, 2, FOLLOWER, 0, 2, [shared])  # but the shared entry of (2, term 2) now follows another prefix
    assert prop(c) == "LogMatching" and "index 2" in c.violation.detail


def test_a_hole_in_the_log() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 0, 1, [E(1)])
    c.observe(1, 1, FOLLOWER, 0, 3, [E(1)])
    assert prop(c) == "LogMatching"


def test_matching_logs_are_fine() -> None:
    c = fresh()
    log = [E(1), E(1, "a", 1), E(2)]
    for n in (1, 2, 3):
        c.observe(n, 2, FOLLOWER, 0, 1, log[: n + 0])
    c.observe(3, 2, FOLLOWER, 0, 3, [E(2), E(2, "b", 1)])
    assert c.violation is None


# --------------------------------------------------------------------------------------- LeaderCompleteness


def test_new_leader_lacks_a_committed_entry() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1), E(1, "a", 1)], commit=2)
    c.observe(3, 2, CANDIDATE, 0, 1, [E(1)])
    c.observe(3, 2, LEADER, 0, 2, [E(2)])
    assert prop(c) == "LeaderCompleteness" and c.violation.nodes == (3,)


def test_leader_of_a_later_term_lacks_an_entry_committed_after_its_election() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1), E(1, "a", 1)])
    leader_with(c, 3, 2, [E(1), E(2)])  # holds index 1 only; nothing is committed yet
    assert c.violation is None
    c.observe(1, 1, LEADER, 2)  # the stale leader of term 1 now commits index 2, which leader 3 lacks
    assert prop(c) == "LeaderCompleteness" and c.violation.nodes == (3,)


def test_leader_of_an_older_term_may_lack_what_a_later_term_committed() -> None:
    """Late vote replies can elect a leader in term 1 after term 2 committed entries (see
    tests/test_core_node.py::test_late_vote_replies_may_elect_a_leader_of_an_old_term)."""
    c = fresh(5)
    leader_with(c, 2, 2, [E(2)], commit=1)
    leader_with(c, 1, 1, [E(1)])
    assert c.violation is None


def test_new_leader_holding_everything_committed_is_fine() -> None:
    c = fresh()
    leader_with(c, 1, 1, [E(1), E(1, "a", 1)], commit=2)
    c.observe(2, 1, FOLLOWER, 2, 1, [E(1), E(1, "a", 1), E(1, "b", 1)])  # plus an uncommitted entry
    c.observe(2, 2, CANDIDATE, 2)
    c.observe(2, 2, LEADER, 2, 4, [E(2)])
    assert c.violation is None


# ---------------------------------------------------------------------------------------- StateMachineSafety


def test_two_servers_commit_different_entries_at_one_index() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 1, 1, [E(1)])
    c.observe(2, 2, FOLLOWER, 1, 1, [E(2)])
    assert prop(c) == "StateMachineSafety"


def test_server_deletes_an_entry_it_committed() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 2, 1, [E(1), E(1, "a", 1)])
    c.observe(1, 2, FOLLOWER, 2, 2, [E(2)])
    assert prop(c) == "StateMachineSafety"
    c = fresh()
    c.observe(1, 1, FOLLOWER, 2, 1, [E(1), E(1, "a", 1)])
    c.observe(1, 1, FOLLOWER, 2, 2, [])  # a plain truncation below the commit index
    assert prop(c) == "StateMachineSafety"


def test_rewriting_identical_committed_entries_loses_nothing() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 2, 1, [E(1), E(1, "a", 1)])
    c.observe(1, 1, FOLLOWER, 2, 2, [E(1, "a", 1), E(1, "b", 1)])  # one atomic write: index 2 unchanged
    assert c.violation is None


def test_commit_beyond_the_log() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 0, 1, [E(1)])
    c.observe(1, 1, FOLLOWER, 3)
    assert prop(c) == "StateMachineSafety"


def test_applying_an_uncommitted_entry() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 1, 1, [E(1), E(1, "a", 1)], [(1, E(1))])
    assert c.violation is None
    c.observe(1, 1, FOLLOWER, 1, None, (), [(2, E(1, "a", 1))])
    assert prop(c) == "StateMachineSafety"


def test_follower_truncating_an_uncommitted_conflicting_suffix_is_fine() -> None:
    c = fresh()
    c.observe(2, 1, FOLLOWER, 1, 1, [E(1), E(1, "a", 1), E(1, "a", 2)])
    c.observe(1, 2, FOLLOWER, 1, 1, [E(1), E(2)])
    c.observe(2, 2, FOLLOWER, 1, 2, [E(2)])  # deletes indexes 2..3 (uncommitted) for the leader's entry
    c.observe(2, 2, FOLLOWER, 2)
    c.observe(1, 2, LEADER, 2)
    assert c.violation is None


# ------------------------------------------------------------------------------------ TermMonotonic, commit


def test_term_goes_back() -> None:
    c = fresh()
    c.observe(1, 3, FOLLOWER, 0)
    c.observe(1, 2, FOLLOWER, 0)
    assert prop(c) == "TermMonotonic"


def test_term_goes_back_across_a_restart() -> None:
    c = fresh()
    c.observe(1, 3, CANDIDATE, 0)
    c.crashed(1)
    c.restarted(1, 2, [])
    assert prop(c) == "TermMonotonic"


def test_restart_in_the_same_term_is_fine() -> None:
    c = fresh()
    c.observe(1, 3, CANDIDATE, 0, 1, [E(1)])
    c.crashed(1)
    c.restarted(1, 3, [E(1)])
    c.observe(1, 3, FOLLOWER, 0)
    assert c.violation is None


def test_commit_index_goes_back() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 2, 1, [E(1), E(1)])
    c.observe(1, 1, FOLLOWER, 1)
    assert prop(c) == "CommitMonotonic"


def test_commit_index_restarts_from_zero_after_a_crash() -> None:
    c = fresh()
    c.observe(1, 1, FOLLOWER, 2, 1, [E(1), E(1)])
    c.crashed(1)
    c.restarted(1, 1, [E(1), E(1)])
    c.observe(1, 1, FOLLOWER, 0)
    c.observe(1, 1, FOLLOWER, 2)
    assert c.violation is None


# -------------------------------------------------------------------------------------------- AckedDurable


def test_ack_for_an_index_nobody_committed() -> None:
    c = fresh()
    c.observe(1, 1, LEADER, 0, 1, [E(1), E(1, "a", 1)])
    c.acked("a", 1, 2)
    assert prop(c) == "AckedDurable" and c.violation.nodes == ("a",)


def test_ack_naming_another_entry() -> None:
    c = fresh()
    c.observe(1, 1, LEADER, 2, 1, [E(1), E(1, "a", 1)])
    c.acked("b", 1, 2)
    assert prop(c) == "AckedDurable"
    c = fresh()
    c.observe(1, 1, LEADER, 2, 1, [E(1), E(1, "a", 1)])
    c.acked("a", 2, 2)  # right client, wrong command
    assert prop(c) == "AckedDurable"


def test_ack_of_a_committed_command_is_fine() -> None:
    c = fresh()
    c.observe(1, 1, LEADER, 2, 1, [E(1), E(1, "a", 1)])
    c.acked("a", 1, 2)
    assert c.violation is None


# -------------------------------------------------------------------------------------- ConfigurationOverlap


def CE(term: int, *voters: int) -> ConfigEntry:
    return ConfigEntry(term, Configuration(voters))


def test_sibling_configurations_without_a_common_quorum() -> None:
    """The 2015 bug's state: on {1, 2, 3, 4}, leader 1 of term 1 left {1, 2, 3, 4, 5} on itself; leader 2 of term 2
    appends {1, 2, 3} before committing anything of its term. Majorities {1, 4, 5} and {2, 3} do not meet."""
    c = fresh(4)
    c.observe(1, 1, LEADER, 1, 1, [E(1), CE(1, 1, 2, 3, 4, 5)])
    leader_with(c, 2, 2, [E(1), E(2)], commit=1)
    assert c.violation is None  # {1, 2, 3, 4} and {1, 2, 3, 4, 5}: one server apart
    c.observe(2, 2, LEADER, 1, 3, [CE(2, 1, 2, 3)])
    assert prop(c) == "ConfigurationOverlap" and set(c.violation.nodes) == {1, 2}


def test_a_crashed_servers_configuration_counts() -> None:
    c = fresh(4)
    c.observe(1, 1, LEADER, 1, 1, [E(1), CE(1, 1, 2, 3, 4, 5)])
    c.crashed(1)  # it will come back with what it wrote
    leader_with(c, 2, 2, [E(1), E(2), CE(2, 1, 2, 3)], commit=1)
    assert prop(c) == "ConfigurationOverlap"


def test_a_sibling_barred_by_the_new_leaders_term_counts_no_more() -> None:
    """With the 2015 fix: leader 2 first gets its term's entry onto {2, 3, 4}, whose logs are then ahead of node
    1's: every majority of {1, 2, 3, 4, 5} holds one of them, node 1 cannot be elected again, and its configuration
    decides nothing."""
    c = fresh(4)
    c.observe(1, 1, LEADER, 1, 1, [E(1), CE(1, 1, 2, 3, 4, 5)])
    leader_with(c, 2, 2, [E(1), E(2)], commit=1)
    for n in (3, 4):
        c.observe(n, 2, FOLLOWER, 1, 1, [E(1), E(2)])
    c.observe(2, 2, LEADER, 2)
    c.observe(2, 2, LEADER, 2, 3, [CE(2, 1, 2, 3)])  # appended after the commit
    assert c.violation is None
    # Committing and appending in the same step is the same thing: what counts is the logs.
    c = fresh(4)
    c.observe(1, 1, LEADER, 1, 1, [E(1), CE(1, 1, 2, 3, 4, 5)])
    leader_with(c, 2, 2, [E(1), E(2)], commit=1)
    for n in (3, 4):
        c.observe(n, 2, FOLLOWER, 1, 1, [E(1), E(2)])
    c.observe(2, 2, LEADER, 2, 3, [CE(2, 1, 2, 3)])
    assert c.violation is None


def test_a_lagging_servers_old_configuration_counts_no_more_once_a_majority_of_it_is_ahead() -> None:
    """3 never heard of {1, 2, 3, 4} (committed by {1, 2, 4}), and the leader goes on to {1, 2, 3, 4, 5}: {1, 2, 3}
    and {1, 2, 3, 4, 5} have majorities that do not meet, but 3 cannot be elected: 1 and 2 hold more than it."""
    c = fresh(3)
    c.joined(4)
    c.joined(5)
    c.observe(1, 1, LEADER, 1, 1, [E(1), CE(1, 1, 2, 3, 4)])
    for n in (2, 4):
        c.observe(n, 1, FOLLOWER, 1, 1, [E(1), CE(1, 1, 2, 3, 4)])
    c.observe(3, 1, FOLLOWER, 1, 1, [E(1)])
    c.observe(1, 1, LEADER, 2)
    assert c.violation is None
    c.observe(1, 1, LEADER, 2, 3, [CE(1, 1, 2, 3, 4, 5)])
    assert c.violation is None


def test_a_commit_by_the_wrong_quorum_hides_nothing() -> None:
    """A second change started before the first committed: {1, 2, 3, 4, 5} appended after {1, 2, 3, 4}, and both
    committed by {1, 4, 5}, which is no majority of {1, 2, 3, 4}. 2 and 3, still on {1, 2, 3}, could elect one of
    themselves: only 1 is ahead of them. The older configuration still counts, and cannot meet the newest."""
    c = fresh(3)
    c.joined(4)
    c.joined(5)
    c.observe(1, 1, LEADER, 1, 1, [E(1), CE(1, 1, 2, 3, 4)])
    for n in (4, 5):
        c.observe(n, 1, FOLLOWER, 1, 1, [E(1), CE(1, 1, 2, 3, 4)])
    c.observe(1, 1, LEADER, 3, 3, [CE(1, 1, 2, 3, 4, 5)])
    assert prop(c) == "ConfigurationOverlap"


def test_a_joining_servers_empty_configuration_decides_nothing() -> None:
    c = fresh(3)
    c.joined(4)
    c.restarted(4, 0, [])
    c.observe(4, 1, FOLLOWER, 0, 1, [E(1)])


# ------------------------------------------------------------------------------- SnapshotIntegrity, compaction


def compacting(n: int = 3) -> Checker:
    return Checker(range(1, n + 1), snapshots=True)


def snapshot_of(log: list[Entry], index: int, term: int | None = None, sessions: bool = True) -> Snapshot:
    """The snapshot at ``index`` of a server holding ``log``: its state after applying log[0:index]."""
    kv = KeyValueStore()
    for i, e in enumerate(log[:index], start=1):
        if e.command is not None:
            kv.apply(e.command, i)
    state = encode_state(kv.data, kv.sessions if sessions else {})
    return Snapshot(index, log[index - 1].term if term is None else term, Configuration((1, 2, 3)), state)


def applied(log: list[Entry], start: int, stop: int) -> list[tuple[int, Entry]]:
    return [(i, log[i - 1]) for i in range(start, stop + 1)]


LOG = [E(1), E(1, "a", 1), E(1, "a", 2), E(1, "b", 1), E(1, "a", 3)]


def test_snapshot_without_its_client_sessions() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 3, 1, LOG, applied(LOG, 1, 3), snapshot_of(LOG, 3, sessions=False))
    assert prop(c) == "SnapshotIntegrity" and "client sessions" in c.violation.detail


def test_snapshot_with_other_data() -> None:
    c = compacting()
    wrong = snapshot_of([E(1), E(1, "a", 1), E(1, "b", 2)], 3)  # the same term, another state
    c.observe(1, 1, LEADER, 3, 1, LOG, applied(LOG, 1, 3), wrong)
    assert prop(c) == "SnapshotIntegrity" and "key-value data and client sessions" in c.violation.detail


def test_snapshot_beyond_the_commit_index() -> None:
    """Labelled with the last log index (3) instead of the last applied (2)."""
    c = compacting()
    c.observe(1, 1, LEADER, 2, 1, LOG[:3], applied(LOG, 1, 2), snapshot_of(LOG, 3))
    assert prop(c) == "SnapshotIntegrity" and "beyond its commit index 2" in c.violation.detail


def test_snapshot_of_another_term() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 3, 1, LOG, applied(LOG, 1, 3), snapshot_of(LOG, 3, term=2))
    assert prop(c) == "SnapshotIntegrity" and "another term" in c.violation.detail


def test_installed_snapshot_beyond_anything_committed() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 2, 1, LOG, applied(LOG, 1, 2))
    c.observe(2, 1, FOLLOWER, 4, 5, [], (), snapshot_of(LOG, 4))  # only 2 committed anywhere
    assert prop(c) == "SnapshotIntegrity"


def test_a_snapshot_that_changes_the_configuration_in_force_is_checked() -> None:
    """Node 3's log holds {1, 2, 3, 4, 5} at index 2 when it takes in a snapshot through index 2 whose configuration
    is {1, 2, 3}: that is its configuration in force from then on, and its majority {2, 3} misses {1, 4, 5}."""
    c = compacting(5)
    log = [E(1), CE(1, 1, 2, 3, 4, 5)]
    c.observe(1, 1, LEADER, 2, 1, log, applied(log, 1, 2))
    c.observe(3, 1, FOLLOWER, 2, 1, log, applied(log, 1, 2))
    assert c.violation is None
    c.observe(3, 1, FOLLOWER, 2, None, (), (), Snapshot(2, 1, Configuration((1, 2, 3)), encode_state({}, {})))
    assert prop(c) == "ConfigurationOverlap" and 3 in c.violation.nodes


def test_snapshots_taken_and_installed_are_fine_and_the_chain_carries_across_them() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 4, 1, LOG, applied(LOG, 1, 4), snapshot_of(LOG, 3))
    # Node 2, whose log ends before the snapshot, installs it: its log after it goes (log_from 4, nothing).
    c.observe(2, 1, FOLLOWER, 3, 4, [], (), snapshot_of(LOG, 3))
    # Node 3 holds the snapshot's last entry and more: it keeps them (Figure 13, step 6).
    c.observe(3, 1, FOLLOWER, 0, 1, LOG)
    c.observe(3, 1, FOLLOWER, 3, None, (), (), snapshot_of(LOG, 3))
    assert c.violation is None
    # The chain goes on from the snapshot: node 2 appends index 4 and 5 as node 1 has them...
    c.observe(2, 1, FOLLOWER, 5, 4, LOG[3:], applied(LOG, 4, 5))
    assert c.violation is None
    # ... and an entry of the same index and term after another prefix is still caught.
    c.observe(3, 2, FOLLOWER, 3, 4, [E(2, "z", 1)])
    c.observe(2, 2, FOLLOWER, 5, 6, [E(2, "z", 1)])
    c.observe(1, 2, FOLLOWER, 4, 5, [E(1, "y", 1), E(2, "z", 1)])
    assert prop(c) == "LogMatching"


def test_restart_from_a_snapshot_then_the_log_after_it() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 5, 1, LOG, applied(LOG, 1, 5), snapshot_of(LOG, 3))
    c.crashed(1)
    c.restarted(1, 1, LOG[3:], snapshot_of(LOG, 3))
    c.observe(1, 1, FOLLOWER, 3)  # a snapshot holds committed entries: the node comes back with them committed
    c.observe(1, 1, FOLLOWER, 5, None, (), applied(LOG, 4, 5))
    assert c.violation is None
    c.observe(1, 2, FOLLOWER, 5, 6, [E(2)])
    c.observe(1, 2, FOLLOWER, 5, 5, [E(2)])  # deletes committed index 5
    assert prop(c) == "StateMachineSafety"


def test_a_kept_log_after_a_snapshot_must_follow_it() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 3, 1, LOG[:3], applied(LOG, 1, 3))
    c.observe(2, 1, FOLLOWER, 0, 1, [E(1), E(1, "x", 1), E(1, "x", 2), E(1, "x", 3)])
    c.observe(2, 1, FOLLOWER, 3, None, (), (), snapshot_of(LOG, 3))  # keeps index 4, which followed another log
    assert prop(c) == "LogMatching"


def test_an_older_snapshot_than_the_commit_index_drops_the_commit_index() -> None:
    c = compacting()
    c.observe(1, 1, LEADER, 4, 1, LOG, applied(LOG, 1, 4))
    c.observe(2, 1, FOLLOWER, 4, 1, LOG, applied(LOG, 1, 4))
    c.observe(2, 1, FOLLOWER, 2, None, (), (), snapshot_of(LOG, 2))
    assert prop(c) == "CommitMonotonic"


def test_a_snapshot_needs_a_checker_told_of_snapshots() -> None:
    c = fresh()
    with pytest.raises(ValueError, match="snapshots=True"):
        c.observe(1, 1, LEADER, 3, 1, LOG, applied(LOG, 1, 3), snapshot_of(LOG, 3))
    assert "SnapshotIntegrity" not in fresh().properties and "SnapshotIntegrity" in compacting().properties


def long_history(c: Checker, rounds: int, every: int = 2) -> list[Entry]:
    """Three servers share one log that grows by one command a round, commit and apply it, and snapshot every
    ``every`` rounds; the same Entry objects everywhere (as followers append what the leader sent)."""
    log = [E(1)]
    for n in c.servers:
        c.observe(n, 1, LEADER if n == 1 else FOLLOWER, 1, 1, log, applied(log, 1, 1))
    for k in range(1, rounds + 1):
        log.append(E(1, f"c{k % 3}", k))
        index = len(log)
        snap = snapshot_of(log, index) if k % every == 0 else None
        for n in c.servers:
            c.observe(n, 1, LEADER if n == 1 else FOLLOWER, index, index, log[-1:], applied(log, index, index), snap)
    return log


def test_the_tables_forget_what_every_server_compacted_and_keep_checking() -> None:
    c = compacting()
    c.REBASE_MIN = 8
    log = long_history(c, 200)
    assert c.violation is None
    assert c._base >= 150 and len(c._committed) < 60 and all(len(v.chain) < 60 for v in c.servers.values())
    assert len(c._first_entries) < 60 and c._state is not None and len(c._state.digests) < 60
    # Late acknowledgements of indexes every server compacted: right and wrong.
    old = 20
    c.acked(log[old - 1].command.client, log[old - 1].command.seq, old)
    assert c.violation is None
    c.acked("c0", 999, old)
    assert prop(c) == "AckedDurable"


def test_after_the_tables_forget_a_prefix_violations_are_still_caught() -> None:
    c = compacting()
    c.REBASE_MIN = 8
    log = long_history(c, 100)
    index = len(log) + 1
    c.observe(2, 2, FOLLOWER, len(log), index, [E(2, "x", 1)])
    c.observe(3, 2, FOLLOWER, len(log), index, [E(2, "y", 1)])
    assert prop(c) == "LogMatching"
    c = compacting()
    c.REBASE_MIN = 8
    log = long_history(c, 100)
    c.observe(2, 2, FOLLOWER, index, index, [E(2, "x", 1)])
    c.observe(3, 3, FOLLOWER, index, index, [E(3, "y", 1)])
    assert prop(c) == "StateMachineSafety" and str(index) in c.violation.detail
    c = compacting()
    c.REBASE_MIN = 8
    log = long_history(c, 100)
    c.observe(2, 2, FOLLOWER, index, index, [E(2, "x", 1)])
    c.observe(3, 3, CANDIDATE, len(log))
    c.observe(3, 3, LEADER, len(log), index, [E(3)])  # lacks the entry committed at index in term 2
    assert prop(c) == "LeaderCompleteness"
    c = compacting()
    c.REBASE_MIN = 8
    long_history(c, 100)
    c.crashed(3)
    c.restarted(3, 1, [], snapshot_of(log, 100))
    c.observe(3, 1, FOLLOWER, 100)
    assert c.violation is None


# ------------------------------------------------------------------------------------------------ reporting


VIOLATING = {
    "ElectionSafety": test_two_leaders_in_one_term,
    "LeaderAppendOnly": test_leader_overwrites_its_own_entry,
    "LogMatching": test_same_index_and_term_with_different_prefixes,
    "LeaderCompleteness": test_new_leader_lacks_a_committed_entry,
    "StateMachineSafety": test_two_servers_commit_different_entries_at_one_index,
    "TermMonotonic": test_term_goes_back,
    "CommitMonotonic": test_commit_index_goes_back,
    "AckedDurable": test_ack_for_an_index_nobody_committed,
    "ConfigurationOverlap": test_sibling_configurations_without_a_common_quorum,
    "SnapshotIntegrity": test_snapshot_without_its_client_sessions,
}


def test_every_property_has_a_violating_history() -> None:
    assert set(VIOLATING) == set(PROPERTIES)


def test_first_violation_sticks_and_later_calls_are_ignored() -> None:
    c = fresh()
    c.observe(1, 3, FOLLOWER, 0)
    c.observe(1, 2, FOLLOWER, 0)
    first = c.violation
    leader_with(c, 1, 2, [E(1)])
    leader_with(c, 2, 2, [E(1)])
    c.acked("x", 1, 9)
    assert c.violation is first


@pytest.mark.parametrize("with_tail", [False, True])
def test_violation_report(with_tail: bool) -> None:
    v = Violation("ElectionSafety", "nodes 1 and 2 lead term 3", (1, 2), 12_345, 678, "tail" if with_tail else "")
    text = v.report()
    assert text.startswith("invariant violated: ElectionSafety at t=12.345ms (event 678), nodes 1, 2: nodes 1 and 2")
    assert ("last events:\ntail" in text) is with_tail
