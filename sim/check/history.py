"""A client history as values, and Jepsen's EDN history files.

An ``Operation`` is one client request with its outcome, as a linearizability checker needs it: which process
issued it, what it asked (``f``, ``key``, ``value``), what came back (``status``, and for a read the value read) and
its real-time interval ``[invoke, complete]`` in integer nanoseconds. An operation whose outcome is unknown (Jepsen's
``:info``, or one that never completed) has ``complete=None``: it may take effect at any time after its invocation,
or never.

Jepsen writes a history as one EDN map per line, an invocation line and later a completion line per operation::

    {:type :invoke, :f :cas, :key "k1", :value [3 4], :process 2, :time 1234567}
    {:type :ok, :f :cas, :key "k1", :value [3 4], :process 2, :time 1299000}

``parse_edn`` pairs the two lines per process (a process has at most one outstanding operation) and ``format_edn``
writes operations back in the same form, so that ``parse_edn(format_edn(ops))`` gives back ``ops``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from sim.errors import UsageError

__all__ = [
    "FUNCTIONS",
    "STATUSES",
    "Keyword",
    "Operation",
    "format_edn",
    "format_value",
    "parse_edn",
    "read_edn",
    "write_edn",
]

FUNCTIONS = ("get", "put", "append", "cas")
STATUSES = ("ok", "fail", "info")

# Jepsen's register vocabulary, normalized on input and written on output.
_F_IN = {"read": "get", "write": "put", "get": "get", "put": "put", "append": "append", "cas": "cas"}
_F_OUT = {"get": "read", "put": "write", "append": "append", "cas": "cas"}
_TYPES = ("invoke", "ok", "fail", "info")


@dataclass(frozen=True, slots=True)
class Keyword:
    """An EDN keyword such as ``:foo`` used as a value (distinct from the string ``"foo"``)."""

    name: str

    def __str__(self) -> str:
        return ":" + self.name


@dataclass(frozen=True, init=False)
class Operation:
    """One client operation and its outcome.

    ``value`` is the argument of a put or append, the value read by a get (None when not known), and the pair
    ``(expected, new)`` of a cas. ``status`` is ``ok`` (it took effect; for a cas, the comparison succeeded),
    ``fail`` (it definitely did not take effect) or ``info`` (unknown). Invariant: ``complete`` is None exactly
    when the status is ``info``, and otherwise ``invoke <= complete``.
    """

    process: int
    f: str
    key: str | None
    value: Any
    status: str
    invoke: int
    complete: int | None

    def __init__(
        self, process: int, f: str, key: str | None, value: Any, status: str, invoke: int, complete: int | None
    ) -> None:
        """The generated ``__init__`` of a frozen dataclass (and its ``__post_init__`` checks), in one step: it
        would set the 7 fields one by one, each through a call of ``object.__setattr__``, and every seed of a
        campaign builds one per client operation to judge its history (``sim.world.clients.operations``). The
        fields are the ones declared above (tests/test_history.py holds the two to the same)."""
        if f not in FUNCTIONS:
            raise ValueError(f"f must be one of {', '.join(FUNCTIONS)}, not {f!r}")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if (complete is None) != (status == "info"):
            raise ValueError("complete must be None exactly for an info operation")
        if complete is not None and complete < invoke:
            raise ValueError(f"completes at {complete} before its invocation at {invoke}")
        if f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
            raise ValueError(f"a cas value must be a pair (expected, new), not {value!r}")
        object.__setattr__(
            self,
            "__dict__",
            {"process": process, "f": f, "key": key, "value": value, "status": status, "invoke": invoke,
             "complete": complete},
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Writing


_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(c: str) -> str:
    """A string character as EDN: quotes, backslashes and anything that could end a line escaped."""
    if c in _STRING_ESCAPES:
        return _STRING_ESCAPES[c]
    if c < " " or c in "\x7f\x85\u2028\u2029":
        return f"\\u{ord(c):04x}"
    return c


def format_value(value: Any) -> str:
    """``value`` as EDN: nil, true/false, numbers, quoted strings, keywords, tuples as vectors ``[a b]``."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_escape(c) for c in value) + '"'
    if isinstance(value, Keyword):
        return str(value)
    if isinstance(value, tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {value!r} as EDN")


def _line(kind: str, op: Operation, value: Any, time: int) -> str:
    key = "" if op.key is None else f", :key {format_value(op.key)}"
    return (
        f"{{:type :{kind}, :f :{_F_OUT[op.f]}{key}, :value {format_value(value)}, :process {op.process}, :time {time}}}"
    )


def format_edn(ops: Iterable[Operation]) -> str:
    """The operations as a Jepsen history: invocation and completion lines in time order, one map per line.

    A read's invocation carries ``:value nil`` and its completion the value read. An info operation's completion
    line (its time is not part of the operation) is written just before its process's next invocation, or at the
    end. Lines at equal times keep each process's own order, then go by process number: the output is a function
    of the operations alone. Raises ValueError when a process has two operations outstanding at once.
    """
    ops = list(ops)
    end = max((t for op in ops for t in (op.invoke, op.complete) if t is not None), default=0)
    by_process: dict[int, list[Operation]] = {}
    for op in ops:
        by_process.setdefault(op.process, []).append(op)
    events: list[tuple[int, int, int, str]] = []
    for process, mine in by_process.items():
        # Program order: by invocation, an operation at the same instant after one that completed in no time.
        mine.sort(key=lambda o: (o.invoke, o.invoke if o.complete is None else o.complete))
        for n, op in enumerate(mine):
            following = mine[n + 1].invoke if n + 1 < len(mine) else None
            done = op.complete if op.complete is not None else (end if following is None else following)
            if following is not None and done > following:
                raise ValueError(f"process {process} has two operations outstanding at time {following}")
            events.append(
                (op.invoke, process, 2 * n, _line("invoke", op, None if op.f == "get" else op.value, op.invoke))
            )
            events.append((done, process, 2 * n + 1, _line(op.status, op, op.value, done)))
    events.sort(key=lambda e: (e[0], e[2], e[1]))
    return "".join(e[3] + "\n" for e in events)


def write_edn(ops: Iterable[Operation], file: TextIO | str | os.PathLike[str]) -> None:
    """Write ``format_edn(ops)`` to an open text file or to a path."""
    text = format_edn(ops)
    if isinstance(file, str | os.PathLike):
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        file.write(text)


# ---------------------------------------------------------------------------------------------------------------
# Reading: a small EDN reader for one line, then the pairing of invocations with completions.


class _EdnError(Exception):
    """What a line should have held; ``parse_edn`` prefixes the file and line number."""


_TOKEN = re.compile(
    r"""
      (?P<skip>[\s,]+|;.*)
    | (?P<open>\#\{|[\[{(])
    | (?P<close>[\]})])
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<atom>[^\s,;()\[\]{}"]+)
    """,
    re.VERBOSE,
)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?")
_UNESCAPE = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}
_CLOSER = {"[": "]", "{": "}", "(": ")", "#{": "}"}
_DISCARD = object()


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _EdnError("unterminated string")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind != "skip":
            out.append((kind, m.group()))
    return out


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif e in _UNESCAPE:
            out.append(_UNESCAPE[e])
            i += 2
        else:
            raise _EdnError(f'expected a string escape such as \\n or \\", got \\{e}')
    return "".join(out)


def _atom(text: str) -> Any:
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if _INT.fullmatch(text):
        return int(text.rstrip("N"))
    if _FLOAT.fullmatch(text):
        return float(text.rstrip("M"))
    if text.startswith(":") and len(text) > 1:
        return Keyword(text[1:])
    if text.startswith("\\"):
        raise _EdnError(f"expected a value, got the character literal {text} (not supported)")
    return _Symbol(text)


@dataclass(frozen=True, slots=True)
class _Symbol:
    """A bare EDN symbol: readable (in keys the checker ignores) but never an operation's value."""

    name: str


def _read_form(tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
    """The form starting at ``tokens[pos]`` and the position after it (``_DISCARD`` for ``#_ form``)."""
    if pos >= len(tokens):
        raise _EdnError("unbalanced brackets")
    kind, text = tokens[pos]
    if kind == "close":
        raise _EdnError("unbalanced brackets")
    if kind == "string":
        return _unescape(text), pos + 1
    if kind == "atom":
        if text == "#_":
            _, after = _read_form(tokens, pos + 1)
            return _DISCARD, after
        if text.startswith("#_"):  # #_:foo discards the atom it is written against
            return _DISCARD, pos + 1
        if text.startswith("#") and not text.startswith("#{"):  # a tagged literal such as #inst "...": the value
            return _read_form(tokens, pos + 1)
        return _atom(text), pos + 1
    items = []
    pos += 1
    while True:
        if pos >= len(tokens):
            raise _EdnError("unbalanced brackets")
        kind, close = tokens[pos]
        if kind == "close":
            if close != _CLOSER[text]:
                raise _EdnError("unbalanced brackets")
            pos += 1
            break
        item, pos = _read_form(tokens, pos)
        if item is not _DISCARD:
            items.append(item)
    try:
        if text == "{":
            if len(items) % 2:
                raise _EdnError("expected a map with an even number of forms")
            return dict(zip(items[::2], items[1::2], strict=True)), pos
        if text == "#{":
            return frozenset(items), pos
    except TypeError:
        raise _EdnError("expected map keys and set members to be plain values") from None
    return tuple(items), pos


def _read_line(text: str) -> Any:
    """The one form on a line, or ``_DISCARD`` for a blank or comment line."""
    tokens = _tokens(text)
    forms = []
    pos = 0
    try:
        while pos < len(tokens):
            form, pos = _read_form(tokens, pos)
            if form is not _DISCARD:
                forms.append(form)
    except RecursionError:
        raise _EdnError("expected a map, got brackets nested too deeply") from None
    if len(forms) > 1:
        raise _EdnError("expected one map per line, got more than one form")
    return forms[0] if forms else _DISCARD


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str | Keyword):
        return True
    return isinstance(value, tuple) and all(_is_plain(v) for v in value)


def _keyword_field(entry: dict[Any, Any], name: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    value = entry.get(Keyword(name))
    if not isinstance(value, Keyword) or value.name not in allowed:
        got = "nothing" if Keyword(name) not in entry else format_value(value) if _is_plain(value) else "a collection"
        raise _EdnError(f"expected :{name} to be one of {', '.join(':' + a for a in allowed)}, got {got}")
    return value.name


def _value_field(entry: dict[Any, Any], f: str) -> Any:
    value = entry.get(Keyword("value"))
    if not _is_plain(value):
        raise _EdnError("expected :value to be nil, a boolean, a number, a string, a keyword or a vector of those")
    if f == "cas" and value is not None and not (isinstance(value, tuple) and len(value) == 2):
        raise _EdnError(f"expected the :value of a :cas to be a vector [expected new], got {format_value(value)}")
    return value


def _key_field(entry: dict[Any, Any]) -> str | None:
    key = entry.get(Keyword("key"))
    if key is None or isinstance(key, str):
        return key
    if isinstance(key, Keyword):
        return key.name
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise _EdnError("expected :key to be a string, a keyword or an integer")


@dataclass(slots=True)
class _Pending:
    line: int
    f: str
    key: str | None
    value: Any
    time: int


def parse_edn(text: str, source: str = "<history>") -> list[Operation]:
    """The operations of a Jepsen history, in the order of their invocation lines.

    Lines whose ``:process`` is a keyword (``:nemesis``) are skipped, as are blank and comment lines and keys other
    than ``:type :f :key :value :process :time``. ``:time`` is in nanoseconds; a history without it is timed by
    line number. An invocation left without a completion becomes an ``info`` operation. Raises UsageError, one
    line naming ``source`` and the line number, for anything else.
    """
    ops: list[Operation | None] = []
    outstanding: dict[int, tuple[int, _Pending]] = {}  # process -> (index in ops, invocation)
    timed: tuple[bool, int] | None = None  # (lines have :time, first such line)
    number = 0
    try:
        for number, raw in enumerate(text.split("\n"), start=1):
            entry = _read_line(raw)
            if entry is _DISCARD:
                continue
            if not isinstance(entry, dict):
                raise _EdnError("expected a map such as {:type :invoke, :f :read, :process 0, ...}")
            process = entry.get(Keyword("process"))
            if isinstance(process, Keyword):
                continue  # the nemesis, or another non-client actor
            if not isinstance(process, int) or isinstance(process, bool):
                raise _EdnError("expected :process to be an integer (a client) or a keyword (:nemesis)")
            kind = _keyword_field(entry, "type", _TYPES)
            f = _F_IN[_keyword_field(entry, "f", _F_IN)]
            key = _key_field(entry)
            value = _value_field(entry, f)
            time = entry.get(Keyword("time"))
            if timed is None:
                timed = (time is not None, number)
            if time is None:
                if timed[0]:
                    raise _EdnError(f"expected :time, as line {timed[1]} has")
                time = number
            elif not timed[0]:
                raise _EdnError(f"expected no :time, as line {timed[1]} has none")
            elif not isinstance(time, int) or isinstance(time, bool) or time < 0:
                raise _EdnError("expected :time to be a non-negative integer (nanoseconds)")
            if kind == "invoke":
                if process in outstanding:
                    raise _EdnError(
                        f"invocation for process {process}, whose invocation on line "
                        f"{outstanding[process][1].line} has not completed"
                    )
                if f == "cas" and value is None:
                    raise _EdnError("expected the :value of a :cas to be a vector [expected new], got nil")
                outstanding[process] = (len(ops), _Pending(number, f, key, value, time))
                ops.append(None)
                continue
            if process not in outstanding:
                raise _EdnError(f"completion for process {process} with no invocation")
            index, call = outstanding.pop(process)
            if f != call.f or key != call.key:
                raise _EdnError(
                    f"completion for process {process} does not match its invocation on line "
                    f"{call.line} (expected :f :{_F_OUT[call.f]}"
                    + ("" if call.key is None else f", :key {format_value(call.key)}")
                    + ")"
                )
            if time < call.time:
                raise _EdnError(f"completion at :time {time}, before its invocation at {call.time} (line {call.line})")
            if f != "get" and value is None:
                value = call.value
            ops[index] = Operation(process, f, key, value, kind, call.time, None if kind == "info" else time)
    except _EdnError as e:
        raise UsageError(f"{source}:{number}: {e}") from None
    for process, (index, call) in outstanding.items():
        ops[index] = Operation(
            process, call.f, call.key, None if call.f == "get" else call.value, "info", call.time, None
        )
    return [op for op in ops if op is not None]


def read_edn(path: str | os.PathLike[str]) -> list[Operation]:
    """``parse_edn`` of a file; an unreadable file is a UsageError too."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: expected UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_edn(text, os.fspath(path))
