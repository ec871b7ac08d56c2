"""The actions of a scenario's ``[[events]]``: one entry per action, with its keys, how its table is read and
validated into a ``Fault``, how a ``Fault`` is written back, and a line of documentation.

``scenarios/README.md`` documents each action in a table that a test holds to this registry (every action and
every key appears there), ``sim.scenario.parse`` reads events through ``read``, and ``sim.scenario.emit`` writes
faults through ``write``: adding an action is one entry here (and its meaning in ``sim.world.faults``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.raft.kv import OPS
from sim.scenario.model import ScenarioError
from sim.scenario.values import Reader
from sim.units import format_ms, format_time
from sim.world.conditions import KIND_WORDS, Condition, ConditionSyntaxError
from sim.world.conditions import parse as parse_condition
from sim.world.faults import TARGET_WORDS, Fault, Guard, Submit, Target
from sim.world.network import Delay, Exponential, Fixed, Mixture, Uniform

Fields = dict[str, Any]  # the keyword arguments of a Fault (without ``at``)


@dataclass(frozen=True)
class Action:
    name: str
    summary: str  # what it does, for the documentation
    keys: tuple[str, ...]  # every key it takes besides ``at`` and ``do`` (and the keys any event may have)
    required: tuple[str, ...]
    read: Callable[[Reader, str, dict[str, Any]], Fields]  # (reader, the event's path, its table) -> a Fault's fields
    write: Callable[[Fault], dict[str, Any]]  # a Fault -> the keys of its table (without ``at`` and ``do``)
    # The key that undoes the action some time later (``restart_after``), and the undoing Fault's fields.
    undo: tuple[str, Callable[[Fields], Fields]] | None = None


# ------------------------------------------------------------------------------------------ shared values


NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_RULE = "a name: letters, digits and _, not starting with a digit"


def read_name(r: Reader, path: str, value: Any) -> str:
    """The name an ``as`` binds."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise r.fail(path, NAME_RULE, value)
    return value


def read_bound_name(r: Reader, path: str, value: str) -> str:
    """``"@name"``: a name bound to servers by an ``as`` somewhere in the file; returns the name."""
    name = value[1:]
    if not NAME_RE.match(name):
        raise r.fail(path, f'"@name" with {NAME_RULE}', value)
    if name not in r.names:
        bound = [f"@{n}" for n, servers in r.names.items() if servers]
        close = difflib.get_close_matches(f"@{name}", bound, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = f"; bound: {', '.join(bound)}" if bound else "; no event binds one"
        raise r.fail(path, f"a name bound by an event's `as`{known}{hint}", value)
    if not r.names[name]:
        raise r.fail(path, "a name bound to servers (its `as` is on an action with no target)", value)
    return name


CONDITION_EXAMPLE = 'a condition such as "alive < 3"'


def read_condition(r: Reader, path: str, value: Any) -> Condition:
    """A condition (``sim.world.conditions``), its ``@name``s bound somewhere in the file."""
    if not isinstance(value, str):
        raise r.fail(path, f"{CONDITION_EXAMPLE} (a string)", value)
    try:
        condition = parse_condition(value)
    except ConditionSyntaxError as e:
        raise ScenarioError(f"{r.fail(path, CONDITION_EXAMPLE, value)}: {e}") from None
    for name in sorted(condition.servers()):
        read_bound_name(r, path, f"@{name}")
    for name in sorted(condition.moments()):
        if name not in r.names:
            raise r.fail(path, f"a moment bound by an `as` (@{name} is bound nowhere)", value)
    return condition


def read_kinds(r: Reader, path: str, value: Any) -> tuple[str, ...]:
    """Message kinds: a kind or group name (``"requests"``, ``"AppendEntries"``), or a list of them."""
    words = ", ".join(KIND_WORDS)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise r.fail(path, f"a message kind or a list of them: {words}", value)
    out: list[str] = []
    for i, v in enumerate(items):
        if v not in KIND_WORDS:
            where = f"{path}[{i + 1}]" if isinstance(value, list) else path
            raise r.fail(where, f"a message kind: one of {words}", v)
        if v in out:
            raise r.fail(path, "each kind once", value)
        out.append(v)
    return tuple(out)


def write_kinds(kinds: tuple[str, ...]) -> Any:
    return kinds[0] if len(kinds) == 1 else list(kinds)


def _target_text() -> str:
    words = ", ".join(f'"{w}"' for w in TARGET_WORDS)
    return f'a node id, a list of node ids or one of {words}, or "@name" (bound by an `as`)'


def read_target(r: Reader, path: str, value: Any) -> Target:
    """A node id, a list of distinct node ids, a target word or ``"@name"`` (resolved when the action happens)."""
    if isinstance(value, str):
        if value.startswith("@"):
            read_bound_name(r, path, value)
            return value
        if value not in TARGET_WORDS:
            raise r.fail(path, _target_text(), value)
        return value
    if isinstance(value, list):
        if not value:
            raise r.fail(path, "a non-empty list of node ids", value)
        ids = tuple(r.node_id(f"{path}[{i + 1}]", v) for i, v in enumerate(value))
        if len(set(ids)) != len(ids):
            raise r.fail(path, "a list of distinct node ids", value)
        return ids
    if isinstance(value, int) and not isinstance(value, bool):
        return r.node_id(path, value)
    raise r.fail(path, _target_text(), value)


def write_target(node: Target) -> Any:
    return list(node) if isinstance(node, tuple) else node


def read_groups(r: Reader, path: str, value: Any) -> tuple[tuple[int | str, ...], ...]:
    """Partition groups: lists of node ids, target words and ``"@name"``s (the words and names resolved when the
    partition happens). A node id may be in one group only."""
    if not isinstance(value, list) or not value:
        raise r.fail(path, "a list of groups of node ids, such as [[1, 2], [3, 4, 5]]", value)
    seen: dict[int, int] = {}
    groups = []
    for i, group in enumerate(value):
        gpath = f"{path}[{i + 1}]"
        if not isinstance(group, list) or not group:
            raise r.fail(gpath, "a non-empty list of node ids", group)
        items: list[int | str] = []
        for j, v in enumerate(group):
            ipath = f"{gpath}[{j + 1}]"
            if isinstance(v, str):
                target = read_target(r, ipath, v)
                assert isinstance(target, str)
                if target in items:
                    raise r.fail(gpath, "each item once", group)
                items.append(target)
                continue
            n = r.node_id(ipath, v)
            if n in seen:
                raise r.fail(
                    path, f"each node in at most one group, but node {n} is in groups {seen[n]} and {i + 1}", value
                )
            seen[n] = i + 1
            items.append(n)
        groups.append(tuple(items))
    return tuple(groups)


def read_ends(r: Reader, path: str, e: dict[str, Any]) -> tuple[Target, Target]:
    """``from`` and ``to`` of a cut or repair: node ids (two different ones), lists, words or ``"@name"``s."""
    for key in ("from", "to"):
        if key not in e:
            raise r.fail(f"{path}.{key}", "a node id (missing)")
    src = read_target(r, f"{path}.from", e["from"])
    dst = read_target(r, f"{path}.to", e["to"])
    if isinstance(src, int) and src == dst:
        raise r.fail(f"{path}.to", "a node other than 'from'", dst)
    return src, dst


def delay_table(d: Delay) -> dict[str, Any]:
    """A delay distribution as the table that ``Reader.delay`` reads back to an equal one."""
    if isinstance(d, Fixed):
        return {"dist": "fixed", "value": format_time(d.value)}
    if isinstance(d, Uniform):
        return {"dist": "uniform", "min": format_time(d.low), "max": format_time(d.high)}
    if isinstance(d, Exponential):
        return {"dist": "exponential", "mean": format_time(d.mean), "min": format_time(d.minimum)}
    if isinstance(d, Mixture):
        return {
            "dist": "mixture",
            "share": float(d.share),
            "long": delay_table(d.long),
            "short": delay_table(d.short),
        }
    return {
        "dist": "lognormal",
        "median": format_time(d.median),
        "sigma": float(d.sigma),
        "min": format_time(d.minimum),
    }


# ------------------------------------------------------------------------------------- reading one occurrence

# The keys any event or step that carries out an action may have, whatever the action.
OCCURRENCE_KEYS = ("do", "as", "pick", "probability", "when")
# Targets that ``pick`` cannot narrow: they name at most one server, or a number of servers of their own.
_UNPICKABLE = ("leader", "majority")


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an action as read from an event or a step: the Fault's fields (without ``at``), the
    undoing fault (offset, fields) if it has one, and what decides whether it happens."""

    fields: Fields
    undo: tuple[int, Fields] | None
    probability: float
    when: Condition | None

    @property
    def guarded(self) -> bool:
        return self.probability < 1.0 or self.when is not None

    def guard(self, every: tuple[int, int] | None, count: int) -> Guard:
        then = () if self.undo is None else (Fault(self.undo[0], **self.undo[1]),)
        return Guard(self.probability, self.when, every, count, then)


def read_action(r: Reader, path: str, e: dict[str, Any], other_keys: tuple[str, ...]) -> Action:
    """The action a table names with ``do``, its keys checked (``other_keys``: what the table may have besides
    the action's own keys and ``OCCURRENCE_KEYS``)."""
    if "do" not in e:
        raise r.fail(f"{path}.do", f"an action: one of {', '.join(ACTIONS)} (missing)")
    do = e["do"]
    action = ACTIONS.get(do) if isinstance(do, str) else None
    if action is None:
        raise r.fail(f"{path}.do", f"one of {', '.join(ACTIONS)}", do)
    r.check_keys(path, e, (*other_keys, *OCCURRENCE_KEYS, *action.keys))
    for key in action.required:
        if key not in e:
            raise r.fail(f"{path}.{key}", f"a value: do = {do!r} needs {', '.join(action.required)}")
    return action


def read_occurrence(r: Reader, path: str, e: dict[str, Any], action: Action, gap: int, gap_name: str) -> Occurrence:
    """One occurrence of ``action`` from ``e`` (its keys already checked); ``gap`` (if not 0) is the shortest time
    to the next occurrence, which an undo must come before (``gap_name`` says where it is set)."""
    fields = action.read(r, path, e)
    if "pick" in e:
        node = fields.get("node")
        if "node" not in action.keys or isinstance(node, int) or node in _UNPICKABLE:
            raise r.fail(
                f"{path}.pick", "no pick here: it narrows a target that names several servers (a list, a word but "
                '"leader" and "majority", or a name) to that many', e["pick"]
            )  # fmt: skip
        fields["pick"] = r.integer(f"{path}.pick", e["pick"], 1, 99)
    if "as" in e:
        fields["bind"] = read_name(r, f"{path}.as", e["as"])
    undo = None
    if action.undo is not None and action.undo[0] in e:
        key, undo_fields = action.undo
        after = r.time(f"{path}.{key}", e[key], positive=True)
        if gap and after >= gap:
            raise r.fail(f"{path}.{key}", f"a time shorter than {gap_name} ({format_ms(gap)})", e[key])
        undo = (after, undo_fields(fields))
    probability = r.probability(f"{path}.probability", e["probability"]) if "probability" in e else 1.0
    when = read_condition(r, f"{path}.when", e["when"]) if "when" in e else None
    return Occurrence(fields, undo, probability, when)


def write_occurrence(f: Fault) -> dict[str, Any]:
    """The keys of an event or step for a Fault (without ``at``), its guard's included."""
    action = ACTIONS[f.do]
    t: dict[str, Any] = {"do": f.do, **action.write(f)}
    if f.pick is not None:
        t["pick"] = f.pick
    if f.bind is not None:
        t["as"] = f.bind
    g = f.guard
    if g is not None:
        if g.probability < 1.0:
            t["probability"] = float(g.probability)
        if g.when is not None:
            t["when"] = g.when.text
        if g.every is not None:
            t["every"] = [format_time(g.every[0]), format_time(g.every[1])]
            t["count"] = g.count
        for then in g.then:
            assert action.undo is not None
            t[action.undo[0]] = format_time(then.at)
    return t


# ---------------------------------------------------------------------------------------------- the actions


def _node(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    return {"do": e["do"], "node": read_target(r, f"{path}.node", e["node"])}


def _write_node(f: Fault) -> dict[str, Any]:
    return {"node": write_target(f.node)}


def _restart_undo(fields: Fields) -> Fields:
    # A word target ("leader", ...) names whoever it named when the crash happened: the restart names them by the
    # crash's `as` if it has one; without, it cannot name that server again, so it restarts every crashed server.
    node = fields["node"]
    if isinstance(node, int | tuple) or node.startswith("@"):
        return {"do": "restart", "node": node}
    if fields.get("bind"):
        return {"do": "restart", "node": "@" + fields["bind"]}
    return {"do": "restart", "node": "all-crashed"}


def _reconnect_undo(fields: Fields) -> Fields:
    # As for a crash's restart: the same servers if the target names them (or the event has an `as`), else every
    # disconnected server.
    node = fields["node"]
    if isinstance(node, int | tuple) or node.startswith("@"):
        return {"do": "reconnect", "node": node}
    if fields.get("bind"):
        return {"do": "reconnect", "node": "@" + fields["bind"]}
    return {"do": "reconnect", "node": "disconnected"}


def _link(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    src, dst = read_ends(r, path, e)
    return {"do": e["do"], "src": src, "dst": dst}


def _write_link(f: Fault) -> dict[str, Any]:
    return {"from": write_target(f.src), "to": write_target(f.dst)}


def _probability(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    return {"do": e["do"], "value": r.probability(f"{path}.value", e["value"])}


def _write_probability(f: Fault) -> dict[str, Any]:
    return {"value": float(f.value or 0.0)}


def _drop(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    fields = _probability(r, path, e)
    if "kind" in e:
        fields["kinds"] = read_kinds(r, f"{path}.kind", e["kind"])
    return fields


def _write_drop(f: Fault) -> dict[str, Any]:
    t = _write_probability(f)
    if f.kinds:
        t["kind"] = write_kinds(f.kinds)
    return t


def _delay(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    fields: Fields = {"do": "delay", "delay": r.delay(f"{path}.delay", e["delay"])}
    if ("from" in e) != ("to" in e):
        raise r.fail(path, "both 'from' and 'to' (one link) or neither (every link)", None)
    if "from" in e:
        if "kind" in e:
            raise r.fail(f"{path}.kind", "no kind with 'from' and 'to' (a link's delay is its messages')", e["kind"])
        fields["src"], fields["dst"] = r.link(path, e)
    if "kind" in e:
        fields["kinds"] = read_kinds(r, f"{path}.kind", e["kind"])
    return fields


def _write_delay(f: Fault) -> dict[str, Any]:
    assert f.delay is not None
    t: dict[str, Any] = {"delay": delay_table(f.delay)}
    if f.src is not None and f.dst is not None:
        t["from"], t["to"] = f.src, f.dst
    if f.kinds:
        t["kind"] = write_kinds(f.kinds)
    return t


def _drift(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    return {**_node(r, path, e), "value": r.number(f"{path}.rate", e["rate"], 0.01, 100.0)}


def _write_drift(f: Fault) -> dict[str, Any]:
    return {"node": write_target(f.node), "rate": float(f.value if f.value is not None else 1.0)}


# Targets ``beside`` accepts: one server.
_ONE_SERVER = ("leader", "follower", "random")


def _submit(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    fields = _node(r, path, e)
    op = e.get("op", "put")
    if op not in OPS:
        raise r.fail(f"{path}.op", f"one of {', '.join(OPS)}", op)
    key = None
    if "key" in e:
        key = r.string(f"{path}.key", e["key"])
        if not key:
            raise r.fail(f"{path}.key", "a non-empty key", key)
    beside: Target = None
    if "beside" in e:
        beside = read_target(r, f"{path}.beside", e["beside"])
        if not (isinstance(beside, int) or beside in _ONE_SERVER or str(beside).startswith("@")):
            words = ", ".join(f'"{w}"' for w in _ONE_SERVER)
            raise r.fail(f"{path}.beside", f'one server: a node id, "@name" or one of {words}', e["beside"])
    ops = r.integer(f"{path}.ops", e.get("ops", 1), 1, 100_000)
    follow = r.boolean(f"{path}.follow", e.get("follow", True))
    fields["submit"] = Submit(ops, op, key, follow, beside)
    return fields


def _write_submit(f: Fault) -> dict[str, Any]:
    spec = f.submit or Submit()
    t: dict[str, Any] = {"node": write_target(f.node), "ops": spec.ops, "op": spec.op, "follow": spec.follow}
    if spec.key is not None:
        t["key"] = spec.key
    if spec.beside is not None:
        t["beside"] = write_target(spec.beside)
    return t


def _transfer(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    node = read_target(r, f"{path}.node", e["node"])
    if not (isinstance(node, int) or node in ("follower", "random") or str(node).startswith("@")):
        raise r.fail(
            f"{path}.node", 'one server to hand leadership to: a node id, "@name", "follower" or "random"', e["node"]
        )
    return {"do": "transfer_leader", "node": node}


def _heal_undo(fields: Fields) -> Fields:
    return {"do": "heal"}


def _repair_undo(fields: Fields) -> Fields:
    return {"do": "repair", "src": fields["src"], "dst": fields["dst"]}


_ACTIONS = (
    Action(
        "crash",
        "crash the target(s); with `restart_after`, restart them that much later",
        ("node", "restart_after"),
        ("node",),
        _node,
        _write_node,
        ("restart_after", _restart_undo),
    ),
    Action(
        "restart",
        "restart crashed server(s) from their durable state (a live one is crashed first)",
        ("node",),
        ("node",),
        _node,
        _write_node,
    ),
    Action(
        "partition",
        "split the network into groups; servers in no group form one more group; replaces an earlier partition",
        ("groups", "heal_after"),
        ("groups",),
        lambda r, path, e: {"do": "partition", "groups": read_groups(r, f"{path}.groups", e["groups"])},
        lambda f: {"groups": [list(g) for g in f.groups]},
        ("heal_after", _heal_undo),
    ),
    Action(
        "isolate",
        "cut each target off from every other server (a partition: replaces an earlier one)",
        ("node", "heal_after"),
        ("node",),
        _node,
        _write_node,
        ("heal_after", _heal_undo),
    ),
    Action(
        "cut",
        "one way: messages from `from` to `to` are lost, the other direction works (between every pair when they are "
        "lists, words or names)",
        ("from", "to", "repair_after"),
        ("from", "to"),
        _link,
        _write_link,
        ("repair_after", _repair_undo),
    ),
    Action("repair", "undo one cut", ("from", "to"), ("from", "to"), _link, _write_link),
    Action(
        "heal", "undo every partition, cut and disconnection", (), (), lambda r, path, e: {"do": "heal"}, lambda f: {}
    ),
    Action(
        "drop",
        "change the loss probability, of every message or (`kind`) of some kinds only",
        ("value", "kind"),
        ("value",),
        _drop,
        _write_drop,
    ),
    Action("duplicate", "change the duplication probability", ("value",), ("value",), _probability, _write_probability),
    Action(
        "delay",
        "change the delay distribution, for every link, one (`from`, `to`: both or neither) or some kinds of message "
        "(`kind`)",
        ("delay", "from", "to", "kind"),
        ("delay",),
        _delay,
        _write_delay,
    ),
    Action(
        "drift",
        "the target's clock runs `rate` (0.01..100) times as fast as real time (its timers fire early when > 1)",
        ("node", "rate"),
        ("node", "rate"),
        _drift,
        _write_drift,
    ),
    Action(
        "disconnect",
        "cut each target off from every other server, both ways, until it is reconnected; disconnections compose "
        "with each other and with partitions and cuts",
        ("node", "reconnect_after"),
        ("node",),
        _node,
        _write_node,
        ("reconnect_after", _reconnect_undo),
    ),
    Action(
        "reconnect",
        'undo `disconnect` for each target (`"disconnected"`: all of them)',
        ("node",),
        ("node",),
        _node,
        _write_node,
    ),
    Action(
        "submit",
        "client operations sent now to each target, each from a client of its own: `ops` of them (1), of kind `op` "
        '(`"put"`), on `key` (the workload\'s keys in turn); with `follow` (true) a client follows leader hints and '
        "retries as workload clients do, without it makes one attempt (a refusal: the operation failed; no answer: "
        'unknown); `beside` (a node id, `"@name"`, `"leader"`, `"follower"` or `"random"`): the clients sit '
        "beside that server, on its side of every partition",
        ("node", "ops", "op", "key", "follow", "beside"),
        ("node",),
        _submit,
        _write_submit,
    ),
    Action(
        "add_server",
        "ask the cluster to add a server (see [Membership changes](#membership-changes)): an id above "
        "`cluster.nodes` is a new machine, booted empty at that moment; a known id (a server removed earlier) is added "
        "back as it is. Later events may name a new id",
        ("node",),
        ("node",),
        lambda r, path, e: {"do": "add_server", "node": r.server_to_add(f"{path}.node", e["node"])},
        _write_node,
    ),
    Action(
        "remove_server",
        'ask the cluster to remove the target(s), one change each (`"leader"` removes whoever leads when the event '
        "fires); a removed server keeps running",
        ("node",),
        ("node",),
        _node,
        _write_node,
    ),
    Action(
        "transfer_leader",
        "tell the leader of the moment to hand leadership to the target, one server (see [Leadership "
        "transfer](#leadership-transfer)); nothing happens when there is no leader or the target leads",
        ("node",),
        ("node",),
        _transfer,
        _write_node,
    ),
)

ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}
