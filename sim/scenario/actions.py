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

from sim.scenario.values import Reader
from sim.units import format_time
from sim.world.faults import TARGET_WORDS, Fault, Target
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


def _delay(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    fields: Fields = {"do": "delay", "delay": r.delay(f"{path}.delay", e["delay"])}
    if ("from" in e) != ("to" in e):
        raise r.fail(path, "both 'from' and 'to' (one link) or neither (every link)", None)
    if "from" in e:
        fields["src"], fields["dst"] = r.link(path, e)
    return fields


def _write_delay(f: Fault) -> dict[str, Any]:
    assert f.delay is not None
    t: dict[str, Any] = {"delay": delay_table(f.delay)}
    if f.src is not None and f.dst is not None:
        t["from"], t["to"] = f.src, f.dst
    return t


def _drift(r: Reader, path: str, e: dict[str, Any]) -> Fields:
    return {**_node(r, path, e), "value": r.number(f"{path}.rate", e["rate"], 0.01, 100.0)}


def _write_drift(f: Fault) -> dict[str, Any]:
    return {"node": write_target(f.node), "rate": float(f.value if f.value is not None else 1.0)}


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
    Action("drop", "change the loss probability", ("value",), ("value",), _probability, _write_probability),
    Action(
        "duplicate", "change the duplication probability", ("value",), ("value",), _probability, _write_probability
    ),
    Action(
        "delay",
        "change the delay distribution, for every link or one (`from`, `to`: both or neither)",
        ("delay", "from", "to"),
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
        "undo `disconnect` for each target (`\"disconnected\"`: all of them)",
        ("node",),
        ("node",),
        _node,
        _write_node,
    ),
)

ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}
