"""Unit tests of the replicated log (sim.raft.log), the key-value state machine (sim.raft.kv) and the values
nodes exchange (sim.raft.messages)."""

from __future__ import annotations

import copy
import pickle

import pytest

from sim.raft import AppendEntries, Command, Entry, KeyValueStore, RaftLog, RequestVoteReply


def log_of(*terms: int) -> RaftLog:
    return RaftLog(Entry(t) for t in terms)


# ------------------------------------------------------------------------------------------------ RaftLog


def test_empty_log_has_only_the_sentinel() -> None:
    log = RaftLog()
    assert log.last_index == 0
    assert log.last_term == 0
    assert log.term_at(0) == 0
    assert log.term_at(1) == -1  # no entry: never equal to a real term
    assert log.term_at(-1) == -1
    assert list(log.entries()) == []


def test_append_slice_and_terms() -> None:
    log = RaftLog()
    assert log.append(Entry(1)) == 1
    assert log.append(Entry(1, Command("c", 1, "put", "k", "v"))) == 2
    assert log.append(Entry(3)) == 3
    assert (log.last_index, log.last_term) == (3, 3)
    assert [log.term_at(i) for i in range(5)] == [0, 1, 1, 3, -1]
    assert [e.term for e in log.slice(2, 4)] == [1, 3]
    assert log.slice(4, 9) == ()
    assert log.entry(2).command == Command("c", 1, "put", "k", "v")


def test_truncate_keeps_the_sentinel() -> None:
    log = log_of(1, 1, 2, 2)
    log.truncate_from(3)
    assert [e.term for e in log.entries()] == [1, 1]
    assert log.last_index == 2
    log.truncate_from(1)
    assert log.last_index == 0 and log.last_term == 0
    with pytest.raises(IndexError):
        log.truncate_from(0)


# ------------------------------------------------------------------------------- RaftLog after a snapshot point


def test_a_log_after_a_snapshot_point_translates_every_index() -> None:
    log = RaftLog([Entry(3), Entry(4, Command("c", 1, "put", "k", "v")), Entry(4)], snapshot_index=10, snapshot_term=3)
    assert (log.snapshot_index, log.snapshot_term, log.first_index, log.last_index, log.last_term) == (10, 3, 11, 13, 4)
    assert [log.term_at(i) for i in range(8, 15)] == [-1, -1, 3, 3, 4, 4, -1]  # compacted, point, held, beyond
    assert log.entry(12).command == Command("c", 1, "put", "k", "v")
    assert log.entry(10) == Entry(3)  # the point's sentinel: a no-op of its term
    with pytest.raises(IndexError):
        log.entry(9)
    with pytest.raises(IndexError):
        log.entry(14)
    assert [e.term for e in log.slice(11, 13)] == [3, 4]
    assert log.slice(12, 99) == (log.entry(12), log.entry(13))
    with pytest.raises(IndexError):
        log.slice(10, 12)  # from the point itself: its entry is gone
    assert [e.term for e in log.entries()] == [3, 4, 4]
    assert log.append(Entry(5)) == 14 and log.term_at(14) == 5
    log.extend([Entry(5), Entry(6)])
    assert (log.last_index, log.last_term) == (16, 6)
    log.truncate_from(13)
    assert (log.last_index, log.last_term) == (12, 4)
    with pytest.raises(IndexError):
        log.truncate_from(10)  # the point cannot be deleted
    log.truncate_from(11)
    assert (log.last_index, log.last_term, list(log.entries())) == (10, 3, [])


def test_term_searches_count_the_snapshot_point() -> None:
    log = RaftLog([Entry(2), Entry(2), Entry(5)], snapshot_index=20, snapshot_term=2)
    assert log.first_index_of_term(2) == 20  # the term began at or before the point
    assert log.first_index_of_term(5) == 23
    assert log.first_index_of_term(3) == 23  # where it would be
    assert log.last_index_of_term(2) == 22
    assert log.last_index_of_term(5) == 23
    assert log.last_index_of_term(1) == 0 and log.last_index_of_term(3) == 0 and log.last_index_of_term(9) == 0
    point_only = RaftLog(snapshot_index=7, snapshot_term=4)
    assert point_only.last_index_of_term(4) == 7 and point_only.last_index_of_term(3) == 0
    assert point_only.is_up_to_date(7, 4) and not point_only.is_up_to_date(6, 4) and point_only.is_up_to_date(1, 5)


def test_compact_discards_a_prefix_and_keeps_the_term_of_its_last_entry() -> None:
    log = log_of(1, 1, 2, 2, 3)
    log.compact(0)  # to the current point: nothing
    assert (log.first_index, log.last_index) == (1, 5)
    log.compact(3)
    assert (log.snapshot_index, log.snapshot_term, log.first_index, log.last_index) == (3, 2, 4, 5)
    assert [log.term_at(i) for i in range(1, 7)] == [-1, -1, 2, 2, 3, -1]
    assert [e.term for e in log.entries()] == [2, 3]
    log.compact(3)
    assert log.first_index == 4
    with pytest.raises(IndexError):
        log.compact(2)  # behind the point
    with pytest.raises(IndexError):
        log.compact(6)  # beyond the end
    log.compact(5)  # everything
    assert (log.snapshot_index, log.snapshot_term, log.last_index, log.last_term, log.first_index) == (5, 3, 5, 3, 6)
    assert log.append(Entry(4)) == 6 and log.entry(6) == Entry(4)


def test_restore_replaces_everything_by_an_empty_log_after_the_point() -> None:
    log = log_of(1, 1, 2)
    log.restore(40, 7)
    assert (log.snapshot_index, log.snapshot_term, log.first_index, log.last_index, log.last_term) == (40, 7, 41, 40, 7)
    assert log.term_at(3) == -1 and log.term_at(40) == 7 and list(log.entries()) == []
    assert log.append(Entry(8)) == 41
    log.restore(2, 1)  # a point behind the old one is just as well a fresh start
    assert (log.last_index, log.term_at(2), log.term_at(41)) == (2, 1, -1)


def test_term_searches_used_by_fast_backoff() -> None:
    log = log_of(1, 1, 2, 2, 2, 4, 5, 5)
    assert log.first_index_of_term(1) == 1
    assert log.first_index_of_term(2) == 3
    assert log.first_index_of_term(4) == 6
    assert log.first_index_of_term(5) == 7
    assert log.last_index_of_term(1) == 2
    assert log.last_index_of_term(2) == 5
    assert log.last_index_of_term(4) == 6
    assert log.last_index_of_term(5) == 8
    # A term the log does not hold: no last index.
    assert log.last_index_of_term(3) == 0
    assert log.last_index_of_term(6) == 0
    assert log_of().last_index_of_term(1) == 0


@pytest.mark.parametrize(
    ("mine", "theirs_index", "theirs_term", "expected"),
    [
        ((1, 1, 2), 3, 2, True),  # identical
        ((1, 1, 2), 4, 2, True),  # same last term, longer
        ((1, 1, 2), 2, 2, False),  # same last term, shorter
        ((1, 1, 2), 1, 3, True),  # higher last term wins whatever the length
        ((1, 1, 2), 9, 1, False),  # lower last term loses whatever the length
        ((), 0, 0, True),  # two empty logs
        ((1,), 0, 0, False),  # an empty log is behind any non-empty one
    ],
)
def test_up_to_date_rule_of_section_5_4_1(
    mine: tuple[int, ...], theirs_index: int, theirs_term: int, expected: bool
) -> None:
    assert log_of(*mine).is_up_to_date(theirs_index, theirs_term) is expected


# ------------------------------------------------------------------------------------------- KeyValueStore


def test_kv_operations() -> None:
    kv = KeyValueStore()
    assert kv.apply(Command("a", 1, "get", "x"), 1) == ("", 1)  # a key never written reads as ""
    assert kv.apply(Command("a", 2, "put", "x", "1"), 2) == ("1", 2)
    assert kv.apply(Command("a", 3, "append", "x", "2"), 3) == ("12", 3)
    assert kv.apply(Command("b", 1, "append", "y", "z"), 4) == ("z", 4)
    assert kv.apply(Command("b", 2, "get", "x"), 5) == ("12", 5)
    assert kv.data == {"x": "12", "y": "z"}
    with pytest.raises(ValueError):
        kv.apply(Command("a", 4, "delete", "x"), 6)


def test_kv_compare_and_set() -> None:
    kv = KeyValueStore()
    assert kv.apply(Command("a", 1, "cas", "x", "1", expected=""), 1) == ("1", 1)  # "" is the unwritten value
    assert kv.apply(Command("a", 2, "cas", "x", "2", expected="0"), 2) == (None, 2)  # comparison failed
    assert kv.data == {"x": "1"}
    assert kv.apply(Command("b", 1, "cas", "x", "3", expected="1"), 3) == ("3", 3)
    assert kv.data == {"x": "3"}
    # A failed cas is still a command applied once: its retry is answered from the session.
    assert kv.apply(Command("a", 2, "cas", "x", "2", expected="3"), 4) == (None, 2)
    assert kv.data == {"x": "3"}


def test_a_command_without_cas_keeps_its_trace_form() -> None:
    assert "expected" not in Command("a", 1, "put", "x", "v").asdict()
    assert Command("a", 1, "cas", "x", "v", "u").asdict()["expected"] == "u"
    c = Command("a", 1, "cas", "x", "v", "u")
    assert c.replace(seq=2) == Command("a", 2, "cas", "x", "v", "u")


def test_kv_session_makes_a_retry_idempotent() -> None:
    kv = KeyValueStore()
    first = Command("a", 1, "append", "x", "!")
    assert kv.apply(first, 3) == ("!", 3)
    # The same (client, seq) again, at a later index (a retry that was appended twice): not applied again, and
    # answered with the first result and the index it was first applied at.
    assert kv.apply(first, 7) == ("!", 3)
    assert kv.data == {"x": "!"}
    assert kv.applied("a", 1) == ("!", 3)
    assert kv.applied("a", 2) is None
    assert kv.applied("b", 1) is None


def test_kv_stale_commands_are_ignored() -> None:
    kv = KeyValueStore()
    kv.apply(Command("a", 1, "put", "x", "1"), 1)
    kv.apply(Command("a", 2, "put", "x", "2"), 2)
    assert kv.is_stale("a", 1) and kv.is_stale("a", 2) and not kv.is_stale("a", 3)
    assert not kv.is_stale("b", 1)
    # An old retry that arrives late changes nothing.
    assert kv.apply(Command("a", 1, "put", "x", "1"), 3) == ("2", 2)
    assert kv.data == {"x": "2"}


def test_values_compare_by_type_and_fields_and_copy_with_replace() -> None:
    c = Command("c", 1, "put", "k", "v")
    assert c == Command("c", 1, "put", "k", "v") and hash(c) == hash(Command("c", 1, "put", "k", "v"))
    assert c != Command("c", 2, "put", "k", "v")
    # Same fields, another type: not equal.
    assert RequestVoteReply(1, 2, 3, True) != AppendEntries(1, 2, 3, True, 0, 0, 0)  # type: ignore[arg-type]
    m = AppendEntries(2, 1, 3, 4, 1, (Entry(2, c),), 4)
    changed = m.replace(commit=5)
    assert changed.commit == 5 and m.commit == 4 and changed.entries is m.entries
    assert m.asdict()["entries"] == (Entry(2, c),) and list(m.asdict()) == list(AppendEntries._fields)
    assert pickle.loads(pickle.dumps(m)) == m == copy.deepcopy(m)
    assert repr(c) == "Command(client='c', seq=1, op='put', key='k', value='v', expected='')"


def test_matching_prefix_counts_the_entries_already_held() -> None:
    log = log_of(1, 1, 2, 2)
    assert log.matching_prefix(1, [Entry(1), Entry(2)]) == 2  # both held
    assert log.matching_prefix(1, [Entry(1), Entry(3)]) == 1  # the second conflicts
    assert log.matching_prefix(3, [Entry(2), Entry(2), Entry(2)]) == 1  # the rest is new
    assert log.matching_prefix(4, [Entry(3)]) == 0 and log.matching_prefix(2, []) == 0
    after = RaftLog([Entry(2), Entry(3)], snapshot_index=10, snapshot_term=2)
    assert after.matching_prefix(10, [Entry(2), Entry(3), Entry(3)]) == 2
    assert after.matching_prefix(11, [Entry(4)]) == 0
