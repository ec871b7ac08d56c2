"""Writing a ``Scenario`` back as a TOML file that ``sim.scenario.parse.loads`` reads to an equal one."""

from __future__ import annotations

import json
import math
from typing import Any

from sim.scenario.actions import delay_table, write_kinds, write_occurrence
from sim.scenario.model import Expectation, Scenario, Step
from sim.units import format_time
from sim.world.faults import Fault


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _fault_table(f: Fault) -> dict[str, Any]:
    return {"at": format_time(f.at), **write_occurrence(f)}


def _step_tables(step: Step, header: str) -> list[str]:
    """A step as its ``[[header]]`` table and, for a repetition, its steps' tables after it."""
    t: dict[str, Any]
    if step.action is not None:
        t = write_occurrence(step.action)
    elif step.wait is not None:
        t = {"wait": format_time(step.wait)}
    elif step.until is not None:
        assert step.within is not None
        t = {"until": step.until.text, "within": format_time(step.within)}
    elif step.check is not None:
        t = {"check": step.check.text}
    elif step.repeat is not None:
        t = {"repeat": step.repeat}
    else:
        t = {}
    if step.bind is not None:
        t["as"] = step.bind
    out = ["", f"[[{header}]]"] + [f"{k} = {_toml_value(v)}" for k, v in t.items()]
    for inner in step.steps:
        out += _step_tables(inner, f"{header}.steps")
    return out


def _expectation_table(e: Expectation) -> dict[str, Any]:
    if e.kind == "leader_within":
        t: dict[str, Any] = {e.kind: format_time(int(e.value))}  # type: ignore[call-overload]
        if e.start is not None:
            t["after"] = format_time(e.start)
        return t
    if e.kind == "logs_converge_by":
        t = {e.kind: format_time(int(e.value))}  # type: ignore[call-overload]
        if e.lag is not None:
            t["lag"] = format_time(e.lag)
        return t
    if e.kind in ("no_leader", "no_commit"):
        assert e.start is not None and e.end is not None
        t = {e.kind: [format_time(e.start), format_time(e.end)]}
        if e.among is not None:
            t["among"] = e.among
        return t
    if e.kind in ("committed_at_least", "is_leader", "not_leader"):
        t = {e.kind: e.value}
        if e.servers is not None:
            t["on"] = e.servers
        if e.start is not None:
            t["at"] = format_time(e.start)
        return t
    if e.kind in ("max_messages", "min_messages"):
        t = {e.kind: e.value}
        if e.kinds:
            t["kind"] = write_kinds(e.kinds)
        first = format_time(e.start) if e.start is not None else f"@{e.start_name}" if e.start_name else None
        last = format_time(e.end) if e.end is not None else f"@{e.end_name}" if e.end_name else None
        if first is not None or last is not None:
            t["during"] = [first, last]
        return t
    if e.kind == "latency_p99_below":
        return {e.kind: format_time(int(e.value))}  # type: ignore[call-overload]
    return {e.kind: e.value}


def to_toml(s: Scenario) -> str:
    """The scenario as a TOML file that ``loads`` reads back to an equal Scenario. Every key is written out, with
    times as ``"123ms"`` strings (``"123456us"`` when not whole milliseconds); ``duration`` is left out when the
    scenario ends with its steps."""
    c, raft, n, w = s.cluster, s.cluster.raft, s.network, s.workload
    out = [
        f"name = {_toml_value(s.name)}",
        f"description = {_toml_value(s.description)}",
        f"seed = {s.seed}",
        *([] if s.ends_with_steps else [f'duration = "{format_time(s.duration)}"']),
        "",
        "[cluster]",
        f"nodes = {c.nodes}",
        f'election_timeout = ["{format_time(raft.election_timeout_min)}", "{format_time(raft.election_timeout_max)}"]',
        f'heartbeat = "{format_time(raft.heartbeat_interval)}"',
        f"prevote = {_toml_value(raft.prevote)}",
        f"check_quorum = {_toml_value(raft.check_quorum)}",
        f'disk_latency = "{format_time(c.disk_latency)}"',
        f"max_batch = {raft.max_batch}",
        f"max_inflight = {raft.max_inflight}",
        f"early_vote_requests = {_toml_value(raft.early_vote_requests)}",
    ]
    if raft.snapshot_every:
        out += [f"snapshot_every = {raft.snapshot_every}", f"snapshot_chunk = {raft.snapshot_chunk}"]
    if c.bug:
        out.append(f"bug = {_toml_value(c.bug)}")
    if c.implementation:
        out.append(f"implementation = {_toml_value(c.implementation)}")
    if c.implementation_cmd:
        out.append(f"implementation_cmd = {_toml_value(c.implementation_cmd)}")
    if c.max_events_per_ms:
        out.append(f"max_events_per_ms = {c.max_events_per_ms}")
    if raft.read != "log":  # written only when not the default, so files of runs without it stay as they were
        out.append(f"read = {_toml_value(raft.read)}")
        if raft.read == "lease":
            out.append(f"lease_drift = {_toml_value(float(raft.lease_drift))}")
    out += [
        "",
        "[network]",
        f"delay = {_toml_value(delay_table(n.delay))}",
        f"drop = {_toml_value(float(n.drop))}",
        f"duplicate = {_toml_value(float(n.duplicate))}",
        f"fifo = {_toml_value(n.fifo)}",
        "",
        "[workload]",
        f"clients = {w.clients}",
        f"mode = {_toml_value(w.mode)}",
        f"rate = {_toml_value(float(w.rate))}" if w.mode == "open" else f'think = "{format_time(w.think)}"',
        f'timeout = "{format_time(w.timeout)}"',
        f'redirect_backoff = "{format_time(w.redirect_backoff)}"',
        f"keys = {w.keys}",
        f'start = "{format_time(w.start)}"',
    ]
    if w.stop is not None:
        out.append(f'stop = "{format_time(w.stop)}"')
    if w.give_up is not None:
        out.append(f'give_up = "{format_time(w.give_up)}"')
    if w.beside:
        out.append(f"beside = {_toml_value(list(w.beside))}")
    if w.weights is None:
        out.append(f"ops = {_toml_value(list(w.ops))}")
    else:
        out.append(f"ops = {_toml_value(dict(zip(w.ops, map(float, w.weights), strict=True)))}")
    for f in s.faults:
        out += ["", "[[events]]"] + [f"{k} = {_toml_value(v)}" for k, v in _fault_table(f).items()]
    for step in s.steps:
        out += _step_tables(step, "steps")
    for e in s.expectations:
        out += ["", "[[expect]]"] + [f"{k} = {_toml_value(v)}" for k, v in _expectation_table(e).items()]
    return "\n".join(out) + "\n"
