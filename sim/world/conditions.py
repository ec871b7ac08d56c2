"""Conditions: a small language of integer expressions over the simulation's state, for schedules that decide
(``when = "alive < 3"``), wait (``until = "leader != 0"``) and check (``check = "connected_leaders == 1"``).

Parsed by its own small parser (never Python's ``eval``) into a tree of immutable nodes, and evaluated against a
``State``: everything the vocabulary can read, captured from a ``Simulation`` at one moment. Every value is an
integer: a comparison is 1 or 0, ``and``/``or``/``not`` treat any non-zero value as true, and a condition holds when
its value is not 0.

Grammar, from the loosest binding to the tightest::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum (("<" | "<=" | "==" | "!=" | ">=" | ">") sum)?
    sum        := product (("+" | "-") product)*
    product    := moment ("*" moment)*
    moment     := atom ("@" NAME)?          # the atom's value at the moment NAME was bound (an ``as``)
    atom       := INTEGER | "@" NAME | QUANTITY | FUNCTION "(" argument ")" | "(" condition ")"
                | "messages" ("(" KIND ")")?     # messages sent so far, of a kind or group (KIND_GROUPS)

``@name`` alone is the server a name is bound to (0 while it is bound to none, or not yet bound). ``QUANTITIES``
and ``FUNCTIONS`` list the vocabulary with what each means; ``scenarios/README.md`` documents it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.world.names import Names
from sim.world.network import KIND_GROUPS, MESSAGE_KINDS

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


class ConditionSyntaxError(ValueError):
    """A condition that does not parse: ``str(e)`` says where and what was expected."""


class ConditionError(Exception):
    """A condition that cannot be evaluated now: it reads a moment not bound yet, or a name bound to several
    servers where one is needed."""


# ================================================================================================ the state


class State:
    """What conditions can read, captured at one moment (``State.of``): per server (by id) whether it is alive and
    disconnected, its role (None when crashed), term, commit index, last log index and the leader it follows; and
    for the cluster the clients' acknowledged and pending operations, the leaders elected so far, the highest
    commit index reached and the messages sent so far per kind (counted only once the network is told to:
    ``Network.count_sent``)."""

    __slots__ = (
        "_established",
        "acked",
        "alive",
        "commit",
        "committed",
        "disconnected",
        "elections",
        "last_index",
        "leader_id",
        "messages",
        "pending",
        "role",
        "term",
        "time",
    )

    def __init__(self) -> None:
        self._established: int | None = None

    @classmethod
    def of(cls, sim: Simulation) -> State:
        st = cls()
        st.time = sim.now
        off = set(sim.network.disconnected())
        st.alive, st.disconnected, st.role, st.term, st.commit, st.last_index, st.leader_id = {}, {}, {}, {}, {}, {}, {}
        for i, server in sim.servers.items():
            st.alive[i] = server.alive
            st.disconnected[i] = i in off
            st.role[i], st.term[i], st.commit[i], st.leader_id[i] = _volatile(server)
            st.last_index[i] = len(server.storage.entries)
        st.acked = sim.acked()
        st.pending = sim.pending_commands()
        st.elections = len(sim.elections)
        st.committed = sim.committed
        st.messages = sim.network.sent()
        return st

    def commits(self) -> dict[int, int]:
        """The live servers' commit indexes."""
        return {n: self.commit[n] for n in self.servers() if self.alive[n]}

    def servers(self) -> Iterator[int]:
        return iter(self.alive)

    def connected(self, n: int) -> bool:
        return self.alive.get(n, False) and not self.disconnected[n]

    def leads(self, n: int) -> bool:
        return self.role.get(n) == "leader"

    def established(self) -> int:
        """The leader followed by a majority of all servers (itself included) in its term, or 0: as
        ``Simulation.established_leader``."""
        if self._established is None:
            self._established = 0
            need = len(self.alive) // 2 + 1
            for n in self.servers():
                if self.leads(n):
                    followers = sum(
                        1
                        for o in self.servers()
                        if o != n and self.role[o] == "follower" and self.term[o] == self.term[n]
                        and self.leader_id[o] == n
                    )  # fmt: skip
                    if 1 + followers >= need:
                        self._established = n
                        break
        return self._established


def _volatile(server: Any) -> tuple[str | None, int, int, int | None]:
    """A server's role (None while crashed), term (its durable one while crashed), commit index (0 while crashed)
    and the leader it follows: the one place conditions and scoped expectations read a server's volatile state."""
    if server.node is None:
        return None, server.storage.term, 0, None
    role, term, leader_id, commit, _ = server.state  # what the node's Outputs reported (the node contract)
    return role, term, commit, leader_id


# ================================================================================================ vocabulary

# name -> (what it is, for the documentation and reports; how to read it)
QUANTITIES: dict[str, tuple[str, Callable[[State], int]]] = {
    "alive": ("live servers", lambda s: sum(s.alive.values())),
    "crashed": ("crashed servers", lambda s: sum(not a for a in s.alive.values())),
    "connected": ("live servers that are not disconnected", lambda s: sum(s.connected(n) for n in s.servers())),
    "disconnected": ("disconnected servers (live or not)", lambda s: sum(s.disconnected.values())),
    "leaders": ("live servers that believe they lead", lambda s: sum(s.leads(n) for n in s.servers())),
    "connected_leaders": (
        "connected servers that believe they lead",
        lambda s: sum(s.leads(n) and s.connected(n) for n in s.servers()),
    ),
    "leader": ("the leader a majority follows in its term (its id), 0 if none", State.established),
    "term": (
        "the highest term of a live server",
        lambda s: max((s.term[n] for n in s.servers() if s.alive[n]), default=0),
    ),
    "commit": ("the highest commit index any server has reached", lambda s: s.committed),
    "acked": ("client operations acknowledged", lambda s: s.acked),
    "pending": ("client operations outstanding", lambda s: s.pending),
    "elections": ("leaders elected so far", lambda s: s.elections),
}

# name -> (what it is, how to read it from the argument's value)
FUNCTIONS: dict[str, tuple[str, Callable[[State, int], int]]] = {
    "is_leader": ("1 if server n is alive and believes it leads", lambda s, n: int(s.leads(n))),
    "is_alive": ("1 if server n is alive", lambda s, n: int(s.alive.get(n, False))),
    "is_connected": ("1 if server n is alive and not disconnected", lambda s, n: int(s.connected(n))),
    "term": ("server n's term (its durable term while crashed)", lambda s, n: s.term.get(n, 0)),
    "commit": ("server n's commit index (0 while crashed)", lambda s, n: s.commit.get(n, 0)),
    "log": ("server n's last durable log index", lambda s, n: s.last_index.get(n, 0)),
    "committed_on": (
        "how many live servers have committed index i",
        lambda s, i: sum(1 for n in s.servers() if s.alive[n] and s.commit[n] >= i),
    ),
}

COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


# ================================================================================================ the tree


class _Node:
    def value(self, state: State, names: Names | None) -> int:
        raise NotImplementedError

    def parts(self) -> Iterator[_Node]:
        """This node and every node under it."""
        yield self


@dataclass(frozen=True)
class Number(_Node):
    n: int

    def value(self, state: State, names: Names | None) -> int:
        return self.n

    def __str__(self) -> str:
        return str(self.n)


@dataclass(frozen=True)
class Server(_Node):
    """``@name``: the server a name is bound to."""

    name: str

    def value(self, state: State, names: Names | None) -> int:
        nodes = names.nodes(self.name) if names is not None else None
        if not nodes:
            return 0
        if len(nodes) > 1:
            raise ConditionError(f"@{self.name} names servers {', '.join(map(str, nodes))}; a condition needs one")
        return nodes[0]

    def __str__(self) -> str:
        return f"@{self.name}"


@dataclass(frozen=True)
class Quantity(_Node):
    name: str

    def value(self, state: State, names: Names | None) -> int:
        return QUANTITIES[self.name][1](state)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Call(_Node):
    name: str
    arg: _Node

    def value(self, state: State, names: Names | None) -> int:
        return FUNCTIONS[self.name][1](state, self.arg.value(state, names))

    def parts(self) -> Iterator[_Node]:
        yield self
        yield from self.arg.parts()

    def __str__(self) -> str:
        return f"{self.name}({self.arg})"


@dataclass(frozen=True)
class Messages(_Node):
    """``messages`` or ``messages(kind)``: how many messages of those kinds have been sent so far."""

    kind: str  # a kind name or a group (KIND_GROUPS)

    def value(self, state: State, names: Names | None) -> int:
        return sum(state.messages.get(k, 0) for k in kinds_of(self.kind))

    def __str__(self) -> str:
        return "messages" if self.kind == "all" else f"messages({self.kind})"


def kinds_of(kind: str) -> tuple[str, ...]:
    """The message kind names a kind or a group names."""
    return KIND_GROUPS.get(kind, (kind,))


KIND_WORDS = (*KIND_GROUPS, *MESSAGE_KINDS)


@dataclass(frozen=True)
class Moment(_Node):
    """``x@name``: the value ``x`` had when ``name`` was bound (names keep the state of that moment)."""

    expr: _Node
    name: str

    def value(self, state: State, names: Names | None) -> int:
        then = names.state(self.name) if names is not None else None
        if then is None:
            raise ConditionError(f"@{self.name} is not bound yet: its event or step has not happened")
        return self.expr.value(then, names)

    def parts(self) -> Iterator[_Node]:
        yield self
        yield from self.expr.parts()

    def __str__(self) -> str:
        inner = str(self.expr)
        return f"({inner})@{self.name}" if isinstance(self.expr, Binary | Not) else f"{inner}@{self.name}"


@dataclass(frozen=True)
class Not(_Node):
    x: _Node

    def value(self, state: State, names: Names | None) -> int:
        return int(not self.x.value(state, names))

    def parts(self) -> Iterator[_Node]:
        yield self
        yield from self.x.parts()

    def __str__(self) -> str:
        return f"not {self.x}"


@dataclass(frozen=True)
class Binary(_Node):
    op: str
    a: _Node
    b: _Node

    def value(self, state: State, names: Names | None) -> int:
        op = self.op
        if op == "and":
            return int(bool(self.a.value(state, names)) and bool(self.b.value(state, names)))
        if op == "or":
            return int(bool(self.a.value(state, names)) or bool(self.b.value(state, names)))
        a, b = self.a.value(state, names), self.b.value(state, names)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return int(COMPARISONS[op](a, b))

    def parts(self) -> Iterator[_Node]:
        yield self
        yield from self.a.parts()
        yield from self.b.parts()

    def __str__(self) -> str:
        def wrap(x: _Node) -> str:
            return f"({x})" if isinstance(x, Binary) else str(x)

        return f"{wrap(self.a)} {self.op} {wrap(self.b)}"


@dataclass(frozen=True)
class Condition:
    """A parsed condition: its text as written (``str``) and its tree."""

    text: str
    tree: _Node

    def value(self, state: State, names: Names | None = None) -> int:
        return self.tree.value(state, names)

    def holds(self, state: State, names: Names | None = None) -> bool:
        return self.tree.value(state, names) != 0

    def servers(self) -> set[str]:
        """The names it reads as servers (``@name``)."""
        return {p.name for p in self.tree.parts() if isinstance(p, Server)}

    def counts_messages(self) -> bool:
        """Whether it reads message counts (which the network counts only when asked to)."""
        return any(isinstance(p, Messages) for p in self.tree.parts())

    def moments(self) -> set[str]:
        """The names whose moment it reads (``x@name``)."""
        return {p.name for p in self.tree.parts() if isinstance(p, Moment)}

    def explain(self, state: State, names: Names | None = None) -> str:
        """The value of each quantity, call, name and moment in it, now: why it holds or not."""
        shown: list[str] = []
        for p in self.tree.parts():
            if isinstance(p, Quantity | Call | Server | Moment | Messages):
                try:
                    text = f"{p} = {p.value(state, names)}"
                except ConditionError as e:
                    text = f"{p}: {e}"
                if text not in shown:
                    shown.append(text)
        return ", ".join(shown)

    def __str__(self) -> str:
        return self.text


# ================================================================================================ parsing

_TOKEN = re.compile(r"\s*(?:(?P<int>\d+)|(?P<name>@?[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|==|!=|[<>()+\-*]))")
_KEYWORDS = ("and", "or", "not")


def parse(text: str) -> Condition:
    """Parse a condition, or raise ConditionSyntaxError saying where and what was expected."""
    if not isinstance(text, str):
        raise ConditionSyntaxError("a string")
    tokens: list[tuple[str, str, int]] = []  # (kind, text, column)
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            column = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            raise ConditionSyntaxError(f"at column {column}: unexpected {text[column - 1]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    if not tokens:
        raise ConditionSyntaxError("it is empty")
    parser = _Parser(tokens, len(text) + 1)
    tree = parser.condition()
    if parser.i < len(tokens):
        kind, word, column = tokens[parser.i]
        raise ConditionSyntaxError(f"at column {column}: expected an operator or the end, got {word!r}")
    return Condition(text, tree)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], end: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.end = end

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def column(self) -> int:
        return self.tokens[self.i][2] if self.i < len(self.tokens) else self.end

    def fail(self, expected: str) -> ConditionSyntaxError:
        got = repr(self.peek()) if self.peek() is not None else "the end"
        return ConditionSyntaxError(f"at column {self.column()}: expected {expected}, got {got}")

    def take(self, word: str) -> bool:
        if self.peek() == word:
            self.i += 1
            return True
        return False

    def condition(self) -> _Node:
        node = self.conjunction()
        while self.take("or"):
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self) -> _Node:
        node = self.negation()
        while self.take("and"):
            node = Binary("and", node, self.negation())
        return node

    def negation(self) -> _Node:
        if self.take("not"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> _Node:
        node = self.sum()
        op = self.peek()
        if op in COMPARISONS:
            self.i += 1
            node = Binary(op, node, self.sum())
            if self.peek() in COMPARISONS:
                raise self.fail('"and" or "or" between comparisons (a < b < c is not allowed)')
        return node

    def sum(self) -> _Node:
        node = self.product()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.i][1]
            self.i += 1
            node = Binary(op, node, self.product())
        return node

    def product(self) -> _Node:
        node = self.moment()
        while self.take("*"):
            node = Binary("*", node, self.moment())
        return node

    def moment(self) -> _Node:
        node = self.atom()
        word = self.peek()
        if word is not None and word.startswith("@"):
            if isinstance(node, Number | Server):
                raise self.fail("an operator (a number or a name has no value at a moment)")
            self.i += 1
            node = Moment(node, word[1:])
        return node

    def atom(self) -> _Node:
        word = self.peek()
        if word is None:
            raise self.fail('a number, a quantity, a name or "("')
        kind = self.tokens[self.i][0]
        if kind == "int":
            self.i += 1
            return Number(int(word))
        if word == "(":
            self.i += 1
            node = self.condition()
            if not self.take(")"):
                raise self.fail('")"')
            return node
        if kind == "name" and word.startswith("@"):
            self.i += 1
            return Server(word[1:])
        if word == "messages":
            self.i += 1
            if not self.take("("):
                return Messages("all")
            kind = self.peek()
            if kind not in KIND_WORDS:
                raise self.fail(f"a message kind: one of {', '.join(KIND_WORDS)}")
            self.i += 1
            if not self.take(")"):
                raise self.fail('")"')
            return Messages(kind)
        if kind == "name" and word not in _KEYWORDS:
            self.i += 1
            if self.peek() == "(":
                if word not in FUNCTIONS:
                    raise ConditionSyntaxError(
                        f"at column {self.tokens[self.i - 1][2]}: expected a function: one of {', '.join(FUNCTIONS)}, "
                        f"got {word!r}"
                    )
                self.i += 1
                arg = self.condition()
                if not self.take(")"):
                    raise self.fail('")"')
                return Call(word, arg)
            if word not in QUANTITIES:
                raise ConditionSyntaxError(
                    f"at column {self.tokens[self.i - 1][2]}: expected a quantity: one of {', '.join(QUANTITIES)}, "
                    f"got {word!r}"
                )
            return Quantity(word)
        raise self.fail('a number, a quantity, a name or "("')
