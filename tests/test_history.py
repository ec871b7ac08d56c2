"""sim.check.history: Operation values, and reading and writing Jepsen EDN histories."""

from __future__ import annotations

import dataclasses
import inspect
import io
import pickle
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.check.history import Keyword, Operation, format_edn, parse_edn, read_edn, write_edn
from sim.errors import UsageError

# A single-register history as Jepsen's etcd tutorial writes one: no :key, :read/:write/:cas, a nemesis, an :index.
JEPSEN_REGISTER = """\
{:type :invoke, :f :write, :value 3, :process 0, :time 1000, :index 0}
{:type :invoke, :f :read, :value nil, :process 1, :time 1500, :index 1}
{:type :ok, :f :write, :value 3, :process 0, :time 2000, :index 2}
{:type :info, :f :start, :value "partition [:n1] [:n2 :n3]", :process :nemesis, :time 2100, :index 3}
{:type :ok, :f :read, :value 3, :process 1, :time 2500, :index 4}
{:type :invoke, :f :cas, :value [3 1], :process 0, :time 3000, :index 5}
{:type :invoke, :f :cas, :value [4 2], :process 1, :time 3100, :index 6}
{:type :fail, :f :cas, :value [4 2], :process 1, :time 3900, :index 7, :error :precondition-failed}
{:type :info, :f :cas, :value [3 1], :process 0, :time 9000, :index 8, :error :timeout}
{:type :invoke, :f :read, :value nil, :process 5, :time 9100, :index 9}
{:type :ok, :f :read, :value 1, :process 5, :time 9900, :index 10}
{:type :invoke, :f :write, :value 0, :process 1, :time 10000, :index 11}
"""


def test_reads_a_jepsen_single_register_history() -> None:
    ops = parse_edn(JEPSEN_REGISTER, "history.edn")
    assert ops == [
        Operation(0, "put", None, 3, "ok", 1000, 2000),
        Operation(1, "get", None, 3, "ok", 1500, 2500),
        Operation(0, "cas", None, (3, 1), "info", 3000, None),
        Operation(1, "cas", None, (4, 2), "fail", 3100, 3900),
        Operation(5, "get", None, 1, "ok", 9100, 9900),
        Operation(1, "put", None, 0, "info", 10000, None),  # never completed
    ]


def test_reads_a_keyed_history_with_edn_syntax_variety() -> None:
    text = """\
; a comment line, then a blank one

{:type :invoke :f :cas :key "k1" :value [3 4] :process 2 :time 1234567}   ; commas are optional
{:type :ok, :f :cas, :key "k1", :value [3 4], :process 2, :time 1299000}
{:type :invoke, :f :put, :key :k2, :value "a \\"quoted\\" \\\\ line\\n\\u00e9", :process 0, :time 1300000}
{:type :ok, :f :put, :key :k2, :value "a \\"quoted\\" \\\\ line\\n\\u00e9", :process 0, :time 1400000}
{:type :invoke, :f :append, :key 7, :value "x", :process 3, :time 1500000, :meta {:retries [1 2] :ok true}}
{:type :ok, :f :append, :key 7, :value "x", :process 3, :time 1600000, :flag false, :tags #{:a :b}}
{:type :invoke, :f :get, :key "k1", :process 4, :time 1700000}
{:type :ok, :f :get, :key "k1", :value :some-keyword, :process 4, :time 1800000}
"""
    assert parse_edn(text, "kv.edn") == [
        Operation(2, "cas", "k1", (3, 4), "ok", 1234567, 1299000),
        Operation(0, "put", "k2", 'a "quoted" \\ line\n\u00e9', "ok", 1300000, 1400000),
        Operation(3, "append", "7", "x", "ok", 1500000, 1600000),
        Operation(4, "get", "k1", Keyword("some-keyword"), "ok", 1700000, 1800000),
    ]


def test_without_time_the_line_number_is_the_time() -> None:
    text = "{:type :invoke, :f :write, :value 1, :process 0}\n\n{:type :ok, :f :write, :value 1, :process 0}\n"
    assert parse_edn(text) == [Operation(0, "put", None, 1, "ok", 1, 3)]


def test_a_completion_value_replaces_the_invocations() -> None:
    text = (
        "{:type :invoke, :f :read, :value nil, :process 0, :time 5}\n"
        "{:type :ok, :f :read, :value [1 2], :process 0, :time 6}\n"
        "{:type :invoke, :f :write, :value 1, :process 0, :time 7}\n"
        "{:type :info, :f :write, :process 0, :time 8}\n"
    )  # an :info without :value keeps the argument
    assert parse_edn(text) == [
        Operation(0, "get", None, (1, 2), "ok", 5, 6),
        Operation(0, "put", None, 1, "info", 7, None),
    ]


def test_an_empty_history() -> None:
    assert parse_edn("") == []
    assert parse_edn("; nothing\n\n") == []
    assert format_edn([]) == ""


_BAD = [
    (
        "{:type :foo, :f :read, :process 0, :time 1}",
        "bad.edn:1: expected :type to be one of :invoke, :ok, :fail, :info, got :foo",
    ),
    ("{:type :ok, :f :read, :value 1, :process 3, :time 1}", "bad.edn:1: completion for process 3 with no invocation"),
    ("{:type :invoke, :f :read, :process 0, :time 1", "bad.edn:1: unbalanced brackets"),
    ("{:type :invoke, :f :read, :process 0, :time 1]]", "bad.edn:1: unbalanced brackets"),
    ('{:type :invoke, :f :read, :value "oops, :process 0}', "bad.edn:1: unterminated string"),
    ("[:type :invoke]", "bad.edn:1: expected a map such as {:type :invoke, :f :read, :process 0, ...}"),
    ("{:type :invoke} {:type :ok}", "bad.edn:1: expected one map per line, got more than one form"),
    (
        '{:type :invoke, :f :read, :process "p0", :time 1}',
        "bad.edn:1: expected :process to be an integer (a client) or a keyword (:nemesis)",
    ),
    (
        "{:type :invoke, :f :delete, :process 0, :time 1}",
        "bad.edn:1: expected :f to be one of :read, :write, :get, :put, :append, :cas, got :delete",
    ),
    (
        "{:type :invoke, :process 0, :time 1}",
        "bad.edn:1: expected :f to be one of :read, :write, :get, :put, :append, :cas, got nothing",
    ),
    (
        "{:type :invoke, :f :cas, :value 3, :process 0, :time 1}",
        "bad.edn:1: expected the :value of a :cas to be a vector [expected new], got 3",
    ),
    (
        "{:type :invoke, :f :cas, :process 0, :time 1}",
        "bad.edn:1: expected the :value of a :cas to be a vector [expected new], got nil",
    ),
    (
        "{:type :invoke, :f :write, :value {:a 1}, :process 0, :time 1}",
        "bad.edn:1: expected :value to be nil, a boolean, a number, a string, a keyword or a vector of those",
    ),
    (
        "{:type :invoke, :f :write, :key [1], :value 1, :process 0, :time 1}",
        "bad.edn:1: expected :key to be a string, a keyword or an integer",
    ),
    (
        "{:type :invoke, :f :read, :process 0, :time -5}",
        "bad.edn:1: expected :time to be a non-negative integer (nanoseconds)",
    ),
    (
        "{:type :invoke, :f :read, :process 0, :time 1}\n{:type :invoke, :f :read, :process 0, :time 2}",
        "bad.edn:2: invocation for process 0, whose invocation on line 1 has not completed",
    ),
    (
        "{:type :invoke, :f :read, :process 0, :time 1}\n{:type :ok, :f :write, :value 1, :process 0, :time 2}",
        "bad.edn:2: completion for process 0 does not match its invocation on line 1 (expected :f :read)",
    ),
    (
        '{:type :invoke, :f :read, :key "a", :process 0, :time 1}\n'
        '{:type :ok, :f :read, :key "b", :process 0, :time 2}',
        'bad.edn:2: completion for process 0 does not match its invocation on line 1 (expected :f :read, :key "a")',
    ),
    (
        "{:type :invoke, :f :read, :process 0, :time 9}\n{:type :ok, :f :read, :process 0, :time 2}",
        "bad.edn:2: completion at :time 2, before its invocation at 9 (line 1)",
    ),
    (
        "{:type :invoke, :f :read, :process 0, :time 1}\n{:type :ok, :f :read, :process 0}",
        "bad.edn:2: expected :time, as line 1 has",
    ),
    (
        "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 0, :time 5}",
        "bad.edn:2: expected no :time, as line 1 has none",
    ),
    (
        '{:type :invoke, :f :write, :value "a\\qb", :process 0}',
        'bad.edn:1: expected a string escape such as \\n or \\", got \\q',
    ),
    ("{:type :invoke, :f :write, :value 1 :process}", "bad.edn:1: expected a map with an even number of forms"),
    ("[" * 5000, "bad.edn:1: expected a map, got brackets nested too deeply"),
]


@pytest.mark.parametrize(("text", "message"), _BAD, ids=[m.split(": ", 1)[1][:40] for _, m in _BAD])
def test_bad_input_is_one_line_naming_file_and_line(text: str, message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_edn(text, "bad.edn")
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_read_edn_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.edn"
    path.write_text(JEPSEN_REGISTER + "{:type :bogus}\n")
    with pytest.raises(UsageError, match=r"^.*history\.edn:13: expected :process"):
        read_edn(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="expected UTF-8 text"):
        read_edn(path)
    with pytest.raises(UsageError, match="cannot read"):
        read_edn(tmp_path / "missing.edn")


def test_format_edn_writes_jepsen_lines_in_time_order() -> None:
    ops = [
        Operation(1, "get", "k", "ab", "ok", 15, 40),
        Operation(0, "cas", "k", ("a", "ab"), "ok", 10, 20),
        Operation(2, "put", None, None, "info", 12, None),
    ]
    assert format_edn(ops) == (
        '{:type :invoke, :f :cas, :key "k", :value ["a" "ab"], :process 0, :time 10}\n'
        "{:type :invoke, :f :write, :value nil, :process 2, :time 12}\n"
        '{:type :invoke, :f :read, :key "k", :value nil, :process 1, :time 15}\n'
        '{:type :ok, :f :cas, :key "k", :value ["a" "ab"], :process 0, :time 20}\n'
        '{:type :ok, :f :read, :key "k", :value "ab", :process 1, :time 40}\n'
        "{:type :info, :f :write, :value nil, :process 2, :time 40}\n"
    )


def test_write_edn_to_a_file_or_a_path(tmp_path: Path) -> None:
    ops = parse_edn(JEPSEN_REGISTER)
    buffer = io.StringIO()
    write_edn(ops, buffer)
    path = tmp_path / "out.edn"
    write_edn(ops, path)
    assert path.read_text() == buffer.getvalue() == format_edn(ops)
    assert read_edn(path) == ops


def test_format_edn_refuses_overlapping_operations_of_one_process() -> None:
    with pytest.raises(ValueError, match="process 0 has two operations outstanding"):
        format_edn([Operation(0, "put", None, 1, "ok", 0, 10), Operation(0, "put", None, 2, "ok", 5, 20)])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((0, "delete", None, 1, "ok", 0, 1), "f must be one of"),
        ((0, "put", None, 1, "maybe", 0, 1), "status must be one of"),
        ((0, "put", None, 1, "info", 0, 1), "complete must be None exactly for an info operation"),
        ((0, "put", None, 1, "ok", 0, None), "complete must be None exactly for an info operation"),
        ((0, "put", None, 1, "ok", 5, 1), "completes at 1 before its invocation at 5"),
        ((0, "cas", None, 1, "ok", 0, 1), "a cas value must be a pair"),
    ],
)
def test_operation_invariants(fields: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Operation(*fields)  # type: ignore[arg-type]


def test_an_operation_is_the_frozen_dataclass_its_fields_declare() -> None:
    """``Operation`` writes its ``__init__`` out (one step instead of a call per field): its parameters are the
    declared fields, in order, and it behaves as the generated one would (immutable, equal by value, hashable, its
    repr, ``replace`` checked like a new one, and pickling)."""
    params = list(inspect.signature(Operation.__init__).parameters.values())[1:]
    assert [(p.name, p.default) for p in params] == [
        (f.name, inspect.Parameter.empty) for f in dataclasses.fields(Operation)
    ]
    op = Operation(2, "cas", "k", ("a", "b"), "ok", 10, 20)
    assert op == Operation(2, "cas", "k", ("a", "b"), "ok", 10, 20) and op != Operation(
        2, "cas", "k", ("a", "c"), "ok", 10, 20
    )
    assert hash(op) == hash(Operation(2, "cas", "k", ("a", "b"), "ok", 10, 20))
    assert len({op, Operation(2, "cas", "k", ("a", "b"), "ok", 10, 20)}) == 1
    assert repr(op) == "Operation(process=2, f='cas', key='k', value=('a', 'b'), status='ok', invoke=10, complete=20)"
    assert dataclasses.replace(op, complete=30) == Operation(2, "cas", "k", ("a", "b"), "ok", 10, 30)
    with pytest.raises(ValueError, match="complete must be None exactly for an info operation"):
        dataclasses.replace(op, status="info")
    assert pickle.loads(pickle.dumps(op)) == op and dataclasses.asdict(op)["value"] == ("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.status = "fail"  # type: ignore[misc]


_keywords = st.builds(Keyword, st.text("abcxyz-?!", min_size=1, max_size=4).map(lambda s: "k" + s))
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.text(max_size=6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _keywords,
    lambda inner: st.tuples(inner, inner) | st.lists(inner, max_size=3).map(tuple),
    max_leaves=4,
)


@st.composite
def _histories(draw: st.DrawFn) -> list[Operation]:
    ops = []
    for process in draw(st.lists(st.integers(0, 50), max_size=4, unique=True)):
        t = draw(st.integers(0, 10**12))
        for _ in range(draw(st.integers(0, 4))):
            f = draw(st.sampled_from(["get", "put", "append", "cas"]))
            value = draw(st.tuples(_values, _values) if f == "cas" else _values)
            status = draw(st.sampled_from(["ok", "fail", "info"]))
            key = draw(st.none() | st.text(max_size=3))
            duration = draw(st.integers(0, 5))
            complete = None if status == "info" else t + duration
            ops.append(Operation(process, f, key, value, status, t, complete))
            t += duration + draw(st.integers(0, 3))
    return draw(st.permutations(ops))


@settings(derandomize=True, deadline=None, max_examples=300)
@given(_histories())
def test_format_then_parse_gives_back_the_operations(ops: list[Operation]) -> None:
    text = format_edn(ops)
    back = parse_edn(text, "roundtrip.edn")
    assert Counter(back) == Counter(ops)
    assert format_edn(back) == text
    assert [int(line.rsplit(":time ", 1)[1].rstrip("}")) for line in text.splitlines()] == sorted(
        int(line.rsplit(":time ", 1)[1].rstrip("}")) for line in text.splitlines()
    )
