"""Writing a ``Scenario`` back as a TOML file that ``sim.scenario.parse.loads`` reads to an equal one."""

from __future__ import annotations

import json
import math
from typing import Any

from sim.scenario.model import Expectation, Scenario
from sim.units import format_time
from sim.world.faults import Fault, Target
from sim.world.network import Delay, Exponential, Fixed, Mixture, Uniform


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


def _delay_table(d: Delay) -> dict[str, Any]:
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
            "long": _delay_table(d.long),
            "short": _delay_table(d.short),
        }
    return {
        "dist": "lognormal",
        "median": format_time(d.median),
        "sigma": float(d.sigma),
        "min": format_time(d.minimum),
    }


def _target_value(node: Target) -> Any:
    return list(node) if isinstance(node, tuple) else node


def _fault_table(f: Fault) -> dict[str, Any]:
    t: dict[str, Any] = {"at": format_time(f.at), "do": f.do}
    if f.do in ("crash", "restart", "isolate", "transfer_leader"):
        t["node"] = _target_value(f.node)
    elif f.do == "drift":
        t["node"] = _target_value(f.node)
        t["rate"] = float(f.value if f.value is not None else 1.0)
    elif f.do == "partition":
        t["groups"] = [list(g) for g in f.groups]
    elif f.do in ("cut", "repair"):
        t["from"], t["to"] = f.src, f.dst
    elif f.do in ("drop", "duplicate"):
        t["value"] = float(f.value or 0.0)
    elif f.do == "delay":
        assert f.delay is not None
        t["delay"] = _delay_table(f.delay)
        if f.src is not None and f.dst is not None:
            t["from"], t["to"] = f.src, f.dst
    return t


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
        return {e.kind: [format_time(e.start), format_time(e.end)]}
    if e.kind == "latency_p99_below":
        return {e.kind: format_time(int(e.value))}  # type: ignore[call-overload]
    return {e.kind: e.value}


def to_toml(s: Scenario) -> str:
    """The scenario as a TOML file that ``loads`` reads back to an equal Scenario. Every key is written out, with
    times as ``"123ms"`` strings (``"123456us"`` when not whole milliseconds)."""
    c, raft, n, w = s.cluster, s.cluster.raft, s.network, s.workload
    out = [
        f"name = {_toml_value(s.name)}",
        f"description = {_toml_value(s.description)}",
        f"seed = {s.seed}",
        f'duration = "{format_time(s.duration)}"',
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
    if c.bug:
        out.append(f"bug = {_toml_value(c.bug)}")
    if c.max_events_per_ms:
        out.append(f"max_events_per_ms = {c.max_events_per_ms}")
    if raft.read != "log":  # written only when not the default, so files of runs without it stay as they were
        out.append(f"read = {_toml_value(raft.read)}")
        if raft.read == "lease":
            out.append(f"lease_drift = {_toml_value(float(raft.lease_drift))}")
    out += [
        "",
        "[network]",
        f"delay = {_toml_value(_delay_table(n.delay))}",
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
    if w.weights is None:
        out.append(f"ops = {_toml_value(list(w.ops))}")
    else:
        out.append(f"ops = {_toml_value(dict(zip(w.ops, map(float, w.weights), strict=True)))}")
    for f in s.faults:
        out += ["", "[[events]]"] + [f"{k} = {_toml_value(v)}" for k, v in _fault_table(f).items()]
    for e in s.expectations:
        out += ["", "[[expect]]"] + [f"{k} = {_toml_value(v)}" for k, v in _expectation_table(e).items()]
    return "\n".join(out) + "\n"
