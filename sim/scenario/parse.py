"""Scenario files: a cluster, its network, a client workload, a timeline of faults and what must hold.

A scenario is a TOML file (the format is documented key by key in ``scenarios/README.md``). ``load``/``loads``
validate it completely and build a ``Scenario`` out of the core's own configuration objects
(``ClusterConfig``, ``NetworkConfig``, ``WorkloadConfig``, ``Fault``); ``run_scenario`` runs it and judges every
expectation; ``raftsim run`` is the command line on top. ``to_toml`` writes a ``Scenario`` back (the fuzzer uses
it to save failures as replayable scenario files).

Every problem in a file is one ``ScenarioError`` whose text is a single line
``<file>:<line>: <key>: expected ..., got ...`` (the line where it can be found), so ``raftsim run`` answers bad
input with that line and exit code 2, never a traceback.

Times are integer microseconds inside; in files they are milliseconds when written as numbers, or strings with a
unit: ``"500us"``, ``"150ms"``, ``"2.5s"``, ``"1min"``, ``"1h"``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sim.check.properties import EXPECTABLE
from sim.raft.kv import OPS
from sim.raft.node import RaftConfig
from sim.raft.read_only import DEFAULT_LEASE_DRIFT, LEASE, LOG, READ_MODES
from sim.rng import SEED_RULE, is_seed
from sim.scenario.model import (
    EXPECTATION_KINDS,
    EXPECTATION_MODIFIERS,
    MAX_NODES,
    MODIFIER_NAMES,
    Expectation,
    Scenario,
    ScenarioError,
)
from sim.units import TIME_RE, UNITS, format_ms, format_time
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import ACTIONS, TARGET_WORDS, Fault, Target
from sim.world.network import Delay, Exponential, Fixed, LogNormal, Mixture, Uniform

# ====================================================================================== TOML locations


def _key_lines(text: str) -> dict[str, int]:
    """Map key paths (``cluster.nodes``, ``events[2].at``, ``events[2]``) to the line that defines them.

    tomllib gives no positions for valid documents, so this scans the text: table headers, array-of-tables
    headers (counted, 1-based) and ``key =`` lines, skipping the insides of multi-line arrays, inline tables and
    multi-line strings. Keys inside an inline table map to their parent key's line (the lookup falls back to the
    longest known prefix)."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    depth = 0
    in_multiline: str | None = None
    key_re = re.compile(r"""^((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if depth > 0:
            depth += _bracket_balance(line)
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            name = _dotted(line[2 : line.find("]]")])
            counts[name] = counts.get(name, 0) + 1
            table = f"{name}[{counts[name]}]"
            lines.setdefault(table, number)
            lines.setdefault(name, number)
            continue
        if line.startswith("["):
            table = _dotted(line[1 : line.find("]")])
            lines.setdefault(table, number)
            continue
        match = key_re.match(line)
        if not match:
            continue
        key = _dotted(match.group(1))
        path = f"{table}.{key}" if table else key
        lines.setdefault(path, number)
        rest = line[match.end() :]
        for quote in ('"""', "'''"):
            if rest.count(quote) % 2 == 1:
                in_multiline = quote
        if in_multiline is None:
            depth = max(0, _bracket_balance(rest))
    return lines


def _dotted(key: str) -> str:
    parts = [p.strip().strip("\"'") for p in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", key)]
    return ".".join(parts)


def _bracket_balance(s: str) -> int:
    """Open minus closed brackets and braces outside strings and comments."""
    balance = 0
    quote: str | None = None
    escaped = False
    for ch in s:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            balance += 1
        elif ch in "]}":
            balance -= 1
    return balance


# ============================================================================================ parsing


def _show(value: Any) -> str:
    """A value as it would look in TOML, shortened to stay on one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "a table {" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    else:
        text = repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


class _Parser:
    """Validates one parsed TOML document and builds a Scenario, raising ScenarioError at the first problem."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = _key_lines(text)
        self.nodes = 5

    # ---------------------------------------------------------------------------- errors

    def line_of(self, path: str) -> int | None:
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return None

    def fail(self, path: str, expected: str, got: Any = None, *, show: bool = True) -> ScenarioError:
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line else self.source
        tail = f", got {_show(got) if show else got}" if got is not None else ""
        return ScenarioError(f"{where}: {path}: expected {expected}{tail}")

    def unknown(self, path: str, key: str, allowed: Iterable[str]) -> ScenarioError:
        allowed = list(allowed)
        full = f"{path}.{key}" if path else key
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        line = self.line_of(full)
        where = f"{self.source}:{line}" if line else self.source
        return ScenarioError(f"{where}: {full}: unknown key{hint}; expected one of: {', '.join(allowed)}")

    def check_keys(self, path: str, table: dict[str, Any], allowed: Sequence[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.unknown(path, key, allowed)

    # ----------------------------------------------------------------------- value types

    def table(self, path: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "a table", value)
        return value

    def string(self, path: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(path, "a string", value)
        return value

    def boolean(self, path: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, "true or false", value)
        return value

    def integer(self, path: str, value: Any, low: int | None = None, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, "an integer" + _range_text(low, high), value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, "an integer" + _range_text(low, high), value)
        return value

    def number(self, path: str, value: Any, low: float | None = None, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(path, "a number" + _range_text(low, high), value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, "a number" + _range_text(low, high), value)
        return float(value)

    def probability(self, path: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise self.fail(path, "a probability between 0 and 1", value)
        return float(value)

    def time(self, path: str, value: Any, *, positive: bool = False) -> int:
        """A time: a number of milliseconds or a string with a unit; returns integer microseconds."""
        what = "a positive time" if positive else "a time"
        what += ' (milliseconds, or a string such as "150ms", "2.5s", "500us")'
        if isinstance(value, bool):
            raise self.fail(path, what, value)
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise self.fail(path, what, value)
            amount = value * 1000
        elif isinstance(value, str):
            match = TIME_RE.match(value)
            if not match:
                raise self.fail(path, what, value)
            amount = float(match.group(1)) * UNITS[match.group(2)]
            if not math.isfinite(amount):
                raise self.fail(path, what, value)
        else:
            raise self.fail(path, what, value)
        if amount < 0:
            raise self.fail(path, "a non-negative time", value)
        us = round(amount)
        if positive and us <= 0:
            raise self.fail(path, what, value)
        return us

    def node_id(self, path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= self.nodes:
            raise self.fail(path, f"a node id from 1 to {self.nodes} (cluster.nodes)", value)
        return value

    def target(self, path: str, value: Any) -> Target:
        words = ", ".join(f'"{w}"' for w in TARGET_WORDS)
        if isinstance(value, str):
            if value not in TARGET_WORDS:
                raise self.fail(path, f"a node id, a list of node ids or one of {words}", value)
            return value
        if isinstance(value, list):
            if not value:
                raise self.fail(path, "a non-empty list of node ids", value)
            ids = tuple(self.node_id(f"{path}[{i + 1}]", v) for i, v in enumerate(value))
            if len(set(ids)) != len(ids):
                raise self.fail(path, "a list of distinct node ids", value)
            return ids
        if isinstance(value, int) and not isinstance(value, bool):
            return self.node_id(path, value)
        raise self.fail(path, f"a node id, a list of node ids or one of {words}", value)

    def delay(self, path: str, value: Any) -> Delay:
        dists = {
            "fixed": (("value",), ()),
            "uniform": (("min", "max"), ()),
            "exponential": (("mean",), ("min",)),
            "lognormal": (("median", "sigma"), ("min",)),
            "mixture": (("share", "long", "short"), ()),
        }
        if not isinstance(value, dict):
            raise self.fail(path, 'a distribution table such as { dist = "uniform", min = "5ms", max = "15ms" }', value)
        if "dist" not in value:
            raise self.fail(f"{path}.dist", f"one of {', '.join(dists)} (missing)", None)
        dist = value["dist"]
        if dist not in dists:
            raise self.fail(f"{path}.dist", f"one of {', '.join(dists)}", dist)
        required, optional = dists[dist]
        for key in value:
            if key != "dist" and key not in required and key not in optional:
                raise self.unknown(path, key, ("dist", *required, *optional))
        for key in required:
            if key not in value:
                raise self.fail(f"{path}.{key}", f"a value: a {dist} distribution needs {', '.join(required)}")
        if dist == "mixture":
            share = self.probability(f"{path}.share", value["share"])
            return Mixture(
                share, self.delay(f"{path}.long", value["long"]), self.delay(f"{path}.short", value["short"])
            )
        minimum = self.time(f"{path}.min", value["min"]) if "min" in value else 0
        if dist == "fixed":
            return Fixed(self.time(f"{path}.value", value["value"]))
        if dist == "uniform":
            high = self.time(f"{path}.max", value["max"])
            if high < minimum:
                raise self.fail(f"{path}.max", f"a time not below min ({format_time(minimum)})", value["max"])
            return Uniform(minimum, high)
        if dist == "exponential":
            return Exponential(self.time(f"{path}.mean", value["mean"], positive=True), minimum)
        median = self.time(f"{path}.median", value["median"], positive=True)
        sigma = self.number(f"{path}.sigma", value["sigma"], 0.0, 10.0)
        return LogNormal(median, sigma, minimum)

    # -------------------------------------------------------------------------- sections

    def scenario(self, doc: dict[str, Any], default_name: str) -> Scenario:
        top = ("name", "description", "seed", "duration", "cluster", "network", "workload", "events", "expect")
        self.check_keys("", doc, top)
        name = self.string("name", doc["name"]) if "name" in doc else default_name
        description = self.string("description", doc.get("description", ""))
        seed = doc.get("seed", 0)
        if not is_seed(seed):
            raise self.fail("seed", SEED_RULE, seed)
        if "duration" not in doc:
            raise self.fail("duration", 'a duration for the run, such as duration = "5s" (missing)')
        duration = self.time("duration", doc["duration"], positive=True)
        cluster = self.cluster(self.table("cluster", doc.get("cluster", {})))
        network, link_faults = self.network(self.table("network", doc.get("network", {})))
        workload = self.workload(self.table("workload", doc.get("workload", {})), duration)
        events = doc.get("events", [])
        if not isinstance(events, list):
            raise self.fail("events", "an array of tables ([[events]])", events)
        faults = tuple(link_faults + self.events(events, duration))
        expects = doc.get("expect", [])
        if not isinstance(expects, list):
            raise self.fail("expect", "an array of tables ([[expect]])", expects)
        expectations = tuple(self.expectation(f"expect[{i + 1}]", e, duration) for i, e in enumerate(expects))
        return Scenario(
            name, description, seed, duration, cluster, network, workload, faults, expectations, self.source
        )

    def cluster(self, t: dict[str, Any]) -> ClusterConfig:
        from sim.nodes.bugs import BUGS

        keys = (
            "nodes",
            "election_timeout",
            "heartbeat",
            "prevote",
            "check_quorum",
            "disk_latency",
            "max_batch",
            "max_inflight",
            "early_vote_requests",
            "bug",
            "max_events_per_ms",
            "read",
            "lease_drift",
        )
        self.check_keys("cluster", t, keys)
        self.nodes = nodes = self.integer("cluster.nodes", t.get("nodes", 5), 1, MAX_NODES)
        low, high = 150_000, 300_000
        if "election_timeout" in t:
            value = t["election_timeout"]
            if not isinstance(value, list) or len(value) != 2:
                raise self.fail("cluster.election_timeout", 'a [min, max] pair such as ["150ms", "300ms"]', value)
            low = self.time("cluster.election_timeout[1]", value[0], positive=True)
            high = self.time("cluster.election_timeout[2]", value[1], positive=True)
            if high < low:
                raise self.fail("cluster.election_timeout", "[min, max] with min <= max", value)
        heartbeat = self.time("cluster.heartbeat", t.get("heartbeat", 50), positive=True)
        read, lease_drift = self.reads(t)
        raft = RaftConfig(
            election_timeout_min=low,
            election_timeout_max=high,
            heartbeat_interval=heartbeat,
            max_batch=self.integer("cluster.max_batch", t.get("max_batch", 64), 1, 1_000_000),
            max_inflight=self.integer("cluster.max_inflight", t.get("max_inflight", 16), 1, 1_000_000),
            prevote=self.boolean("cluster.prevote", t.get("prevote", False)),
            check_quorum=self.boolean("cluster.check_quorum", t.get("check_quorum", False)),
            early_vote_requests=self.boolean("cluster.early_vote_requests", t.get("early_vote_requests", False)),
            read=read,
            lease_drift=lease_drift,
        )
        bug = None
        if "bug" in t:
            bug = self.string("cluster.bug", t["bug"])
            if bug not in BUGS:
                raise self.fail("cluster.bug", f"one of {', '.join(BUGS)}", bug)
        disk = self.time("cluster.disk_latency", t.get("disk_latency", 0))
        budget = self.integer("cluster.max_events_per_ms", t.get("max_events_per_ms", 0), 0, 1_000_000_000)
        return ClusterConfig(nodes=nodes, raft=raft, disk_latency=disk, bug=bug, max_events_per_ms=budget)

    def reads(self, t: dict[str, Any]) -> tuple[str, float]:
        """``read`` (how a leader answers a get) and ``lease_drift`` (lease mode's clock-drift bound)."""
        read = t.get("read", LOG)
        if read not in READ_MODES:
            modes = ", ".join(f'"{m}"' for m in READ_MODES)
            raise self.fail("cluster.read", f"one of {modes}", read)
        if "lease_drift" not in t:
            return read, DEFAULT_LEASE_DRIFT
        if read != LEASE:
            raise self.fail(
                "cluster.lease_drift", f'no lease_drift unless read = "{LEASE}" (it bounds the lease)', t["lease_drift"]
            )
        return read, self.number("cluster.lease_drift", t["lease_drift"], 0.0, 100.0)

    def network(self, t: dict[str, Any]) -> tuple[NetworkConfig, list[Fault]]:
        self.check_keys("network", t, ("delay", "drop", "duplicate", "fifo", "links"))
        delay: Delay = NetworkConfig.delay
        if "delay" in t:
            delay = self.delay("network.delay", t["delay"])
        drop = self.probability("network.drop", t.get("drop", 0.0))
        duplicate = self.probability("network.duplicate", t.get("duplicate", 0.0))
        fifo = self.boolean("network.fifo", t.get("fifo", False))
        links = t.get("links", [])
        if not isinstance(links, list):
            raise self.fail("network.links", "an array of tables ([[network.links]])", links)
        faults = []
        for i, link in enumerate(links):
            path = f"network.links[{i + 1}]"
            link = self.table(path, link)
            self.check_keys(path, link, ("from", "to", "delay"))
            src, dst = self.link(path, link)
            if "delay" not in link:
                raise self.fail(f"{path}.delay", "a delay distribution for this link (missing)")
            faults.append(Fault(0, "delay", src=src, dst=dst, delay=self.delay(f"{path}.delay", link["delay"])))
        return NetworkConfig(delay=delay, drop=drop, duplicate=duplicate, fifo=fifo), faults

    def link(self, path: str, t: dict[str, Any]) -> tuple[int, int]:
        for key in ("from", "to"):
            if key not in t:
                raise self.fail(f"{path}.{key}", "a node id (missing)")
        src = self.node_id(f"{path}.from", t["from"])
        dst = self.node_id(f"{path}.to", t["to"])
        if src == dst:
            raise self.fail(f"{path}.to", "a node other than 'from'", dst)
        return src, dst

    def workload(self, t: dict[str, Any], duration: int) -> WorkloadConfig:
        keys = (
            "clients", "mode", "rate", "think", "timeout", "give_up", "redirect_backoff", "keys", "start", "stop",
            "ops",
        )  # fmt: skip
        self.check_keys("workload", t, keys)
        clients = self.integer("workload.clients", t.get("clients", 0), 0, 10_000)
        mode = t.get("mode", "open")
        if mode not in ("open", "closed"):
            raise self.fail("workload.mode", '"open" (Poisson arrivals at rate) or "closed" (one after another)', mode)
        rate = self.number("workload.rate", t.get("rate", 0.0), 0.0, 1e7)
        if mode == "open":
            if clients and not rate:
                raise self.fail(
                    "workload.rate", "a positive rate (operations per second) when clients > 0", t.get("rate", 0)
                )
            if rate and not clients:
                raise self.fail("workload.clients", "at least 1 client when rate > 0", clients)
            if "think" in t:
                raise self.fail(
                    "workload.think", 'no think time in mode "open" (it is for mode = "closed")', t["think"]
                )
        else:
            if "rate" in t:
                raise self.fail(
                    "workload.rate", 'no rate in mode "closed" (each client waits for the previous one)', t["rate"]
                )
            if not clients:
                raise self.fail("workload.clients", 'at least 1 client in mode "closed"', clients)
        think = self.time("workload.think", t.get("think", 0))
        start = self.time("workload.start", t.get("start", 0))
        stop = None
        if "stop" in t:
            stop = self.time("workload.stop", t["stop"])
            if stop < start:
                raise self.fail("workload.stop", f"a time not before workload.start ({format_time(start)})", t["stop"])
        ops, weights = self.operations(t.get("ops", list(OPS)))
        give_up = self.time("workload.give_up", t["give_up"], positive=True) if "give_up" in t else None
        return WorkloadConfig(
            clients=clients,
            rate=rate if mode == "open" else 0.0,
            timeout=self.time("workload.timeout", t.get("timeout", 500), positive=True),
            redirect_backoff=self.time("workload.redirect_backoff", t.get("redirect_backoff", 20), positive=True),
            keys=self.integer("workload.keys", t.get("keys", 8), 1, 1_000_000),
            start=start,
            stop=stop,
            ops=ops,
            weights=weights,
            mode=mode,
            think=think,
            give_up=give_up,
        )

    def operations(self, value: Any) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
        """``ops``: a list of operations drawn alike (``["get", "put"]``), or a table of relative weights
        (``{ get = 3, put = 1 }``)."""
        expected = (
            f"a non-empty list of operations from {', '.join(OPS)}, "
            "or a table of weights such as { get = 3, put = 1 }"
        )
        if isinstance(value, dict):
            if not value:
                raise self.fail("workload.ops", expected, value)
            weights = []
            for op, w in value.items():
                if op not in OPS:
                    raise self.unknown("workload.ops", op, OPS)
                weights.append(self.number(f"workload.ops.{op}", w, 0.0, 1e9))
            if not any(weights):
                raise self.fail("workload.ops", "at least one positive weight", value)
            return tuple(value), tuple(weights)
        if not isinstance(value, list) or not value:
            raise self.fail("workload.ops", expected, value)
        for i, op in enumerate(value):
            if op not in OPS:
                raise self.fail(f"workload.ops[{i + 1}]", f"one of {', '.join(OPS)}", op)
        return tuple(value), None

    # ----------------------------------------------------------------------------- events

    EVENT_KEYS: dict[str, tuple[str, ...]] = {
        "crash": ("node", "restart_after"),
        "restart": ("node",),
        "partition": ("groups", "heal_after"),
        "isolate": ("node", "heal_after"),
        "cut": ("from", "to", "repair_after"),
        "repair": ("from", "to"),
        "heal": (),
        "drop": ("value",),
        "duplicate": ("value",),
        "delay": ("delay", "from", "to"),
        "drift": ("node", "rate"),
        "transfer_leader": ("node",),
    }
    REQUIRED: dict[str, tuple[str, ...]] = {
        "crash": ("node",),
        "restart": ("node",),
        "partition": ("groups",),
        "isolate": ("node",),
        "cut": ("from", "to"),
        "repair": ("from", "to"),
        "drop": ("value",),
        "duplicate": ("value",),
        "delay": ("delay",),
        "drift": ("node", "rate"),
        "transfer_leader": ("node",),
    }

    def events(self, events: list[Any], duration: int) -> list[Fault]:
        faults: list[Fault] = []
        previous = 0
        for i, raw in enumerate(events):
            path = f"events[{i + 1}]"
            event = self.table(path, raw)
            if "at" not in event:
                raise self.fail(f"{path}.at", "the time of the event (missing)")
            if "do" not in event:
                raise self.fail(f"{path}.do", f"an action: one of {', '.join(ACTIONS)} (missing)")
            do = event["do"]
            if do not in self.EVENT_KEYS:
                raise self.fail(f"{path}.do", f"one of {', '.join(ACTIONS)}", do)
            self.check_keys(path, event, ("at", "do", "every", "count", *self.EVENT_KEYS[do]))
            for key in self.REQUIRED.get(do, ()):
                if key not in event:
                    raise self.fail(f"{path}.{key}", f"a value: do = {do!r} needs {', '.join(self.REQUIRED[do])}")
            at = self.time(f"{path}.at", event["at"])
            if at < previous:
                raise self.fail(
                    f"{path}.at",
                    f"events in time order: a time not before the previous event's ({format_ms(previous)})",
                    event["at"],
                )
            previous = at
            every, count = 0, 1
            if "every" in event or "count" in event:
                if "every" not in event or "count" not in event:
                    raise self.fail(path, "both 'every' and 'count' for a repeated event", None)
                every = self.time(f"{path}.every", event["every"], positive=True)
                count = self.integer(f"{path}.count", event["count"], 1, 100_000)
            one = self.event(path, do, event, every)
            for k in range(count):
                shift = at + k * every
                for offset, fault in one:
                    t = shift + offset
                    if t > duration:
                        what = f"{path}.at" if (k, offset) == (0, 0) else path
                        raise self.fail(
                            what,
                            f"events within the run (duration {format_ms(duration)}), but "
                            f"{'repetition ' + str(k + 1) + ' of ' if count > 1 else ''}this event "
                            f"{'fires' if offset == 0 else 'is undone'} at {format_ms(t)}",
                            None,
                            show=False,
                        )
                    faults.append(Fault(t, **fault))
        faults.sort(key=lambda f: f.at)  # stable: simultaneous faults keep the file's order
        return faults

    def event(self, path: str, do: str, e: dict[str, Any], every: int) -> list[tuple[int, dict[str, Any]]]:
        """One occurrence of an event as faults: (offset from its time, Fault fields)."""

        def undo_after(key: str, undo: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
            if key not in e:
                return []
            after = self.time(f"{path}.{key}", e[key], positive=True)
            if every and after >= every:
                raise self.fail(f"{path}.{key}", f"a time shorter than 'every' ({format_ms(every)})", e[key])
            return [(after, undo)]

        if do == "crash":
            node = self.target(f"{path}.node", e["node"])
            # A role target ("leader", ...) names whoever held the role at crash time; the restart cannot name
            # that server again, so it restarts every crashed server.
            back = node if isinstance(node, int | tuple) else "all-crashed"
            return [(0, {"do": "crash", "node": node}), *undo_after("restart_after", {"do": "restart", "node": back})]
        if do in ("restart", "drift"):
            node = self.target(f"{path}.node", e["node"])
            if do == "restart":
                return [(0, {"do": do, "node": node})]
            return [(0, {"do": do, "node": node, "value": self.number(f"{path}.rate", e["rate"], 0.01, 100.0)})]
        if do == "isolate":
            node = self.target(f"{path}.node", e["node"])
            return [(0, {"do": do, "node": node}), *undo_after("heal_after", {"do": "heal"})]
        if do == "partition":
            groups = self.groups(f"{path}.groups", e["groups"])
            return [(0, {"do": do, "groups": groups}), *undo_after("heal_after", {"do": "heal"})]
        if do in ("cut", "repair"):
            src, dst = self.link(path, e)
            fault = {"do": do, "src": src, "dst": dst}
            if do == "repair":
                return [(0, fault)]
            return [(0, fault), *undo_after("repair_after", {"do": "repair", "src": src, "dst": dst})]
        if do == "heal":
            return [(0, {"do": do})]
        if do == "transfer_leader":
            return [(0, {"do": do, "node": self.transfer_target(f"{path}.node", e["node"])})]
        if do in ("drop", "duplicate"):
            return [(0, {"do": do, "value": self.probability(f"{path}.value", e["value"])})]
        # delay
        delay = self.delay(f"{path}.delay", e["delay"])
        if ("from" in e) != ("to" in e):
            raise self.fail(path, "both 'from' and 'to' (one link) or neither (every link)", None)
        if "from" in e:
            src, dst = self.link(path, e)
            return [(0, {"do": do, "delay": delay, "src": src, "dst": dst})]
        return [(0, {"do": do, "delay": delay})]

    def transfer_target(self, path: str, value: Any) -> Target:
        """The one server a leadership transfer hands over to: an id, "follower" or "random"."""
        words = ("follower", "random")
        if isinstance(value, str) and value in words:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return self.node_id(path, value)
        raise self.fail(path, 'one server to hand leadership to: a node id, "follower" or "random"', value)

    def groups(self, path: str, value: Any) -> tuple[tuple[int, ...], ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "a list of groups of node ids, such as [[1, 2], [3, 4, 5]]", value)
        seen: dict[int, int] = {}
        groups = []
        for i, group in enumerate(value):
            gpath = f"{path}[{i + 1}]"
            if not isinstance(group, list) or not group:
                raise self.fail(gpath, "a non-empty list of node ids", group)
            ids = []
            for j, v in enumerate(group):
                n = self.node_id(f"{gpath}[{j + 1}]", v)
                if n in seen:
                    raise self.fail(
                        path, f"each node in at most one group, but node {n} is in groups {seen[n]} and {i + 1}", value
                    )
                seen[n] = i + 1
                ids.append(n)
            groups.append(tuple(ids))
        return tuple(groups)

    # ------------------------------------------------------------------------ expectations

    def expectation(self, path: str, raw: Any, duration: int) -> Expectation:
        e = self.table(path, raw)
        kinds = [k for k in e if k in EXPECTATION_KINDS]
        if len(kinds) != 1:
            for key in e:
                if key not in EXPECTATION_KINDS and key not in MODIFIER_NAMES:
                    raise self.unknown(path, key, (*EXPECTATION_KINDS, *MODIFIER_NAMES))
            got = ", ".join(kinds) if kinds else "none"
            raise self.fail(path, f"exactly one of {', '.join(EXPECTATION_KINDS)}", got, show=False)
        kind = kinds[0]
        allowed = (kind, *EXPECTATION_MODIFIERS.get(kind, ()))
        self.check_keys(path, e, allowed)
        kpath = f"{path}.{kind}"
        value = e[kind]

        def within_run(p: str, t: int, raw_value: Any) -> int:
            if t > duration:
                raise self.fail(p, f"a time within the run (duration {format_ms(duration)})", raw_value)
            return t

        if kind == "leader_within":
            start = None
            if "after" in e:
                start = within_run(f"{path}.after", self.time(f"{path}.after", e["after"]), e["after"])
            return Expectation(kind, self.time(kpath, value, positive=True), start=start)
        if kind in ("committed_at_least", "acked_at_least", "min_elections", "max_elections", "max_term"):
            return Expectation(kind, self.integer(kpath, value, 0))
        if kind == "logs_converge_by":
            t = within_run(kpath, self.time(kpath, value), value)
            lag = self.time(f"{path}.lag", e["lag"]) if "lag" in e else None
            return Expectation(kind, t, lag=lag)
        if kind in ("no_leader", "no_commit"):
            if not isinstance(value, list) or len(value) != 2:
                raise self.fail(kpath, 'an interval [from, to] such as ["2s", "3s"]', value)
            start = within_run(f"{kpath}[1]", self.time(f"{kpath}[1]", value[0]), value[0])
            end = within_run(f"{kpath}[2]", self.time(f"{kpath}[2]", value[1]), value[1])
            if end < start:
                raise self.fail(kpath, "an interval [from, to] with from <= to", value)
            return Expectation(kind, None, start=start, end=end)
        if kind == "violation":
            names = (*EXPECTABLE, "any")
            if value not in names:
                raise self.fail(kpath, f"a property name: one of {', '.join(names)}", value)
            return Expectation(kind, value)
        if kind == "leader_at_end":
            return Expectation(kind, self.node_id(kpath, value))
        if kind in ("clients_complete", "state_machines_agree"):
            if value is not True:
                raise self.fail(kpath, "true", value)
            return Expectation(kind, True)
        # latency_p99_below
        return Expectation(kind, self.time(kpath, value, positive=True))


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" >= {low:g}"
    if high is not None:
        return f" <= {high:g}"
    return ""


# ============================================================================================ loading


def loads(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate a scenario from TOML text. ``source`` names the file in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            head = message[: match.start()].strip()
            raise ScenarioError(
                f"{source}:{match.group(1)}: TOML syntax: expected valid TOML, got: {head} (column {match.group(2)})"
            ) from None
        raise ScenarioError(f"{source}: TOML syntax: expected valid TOML, got: {message}") from None
    if not doc:
        raise ScenarioError(f"{source}: expected a scenario (at least duration = ...), got an empty file")
    default_name = Path(source).stem if source != "<string>" else "scenario"
    return _Parser(source, text).scenario(doc, default_name)


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    source = str(path)
    if p.is_dir():
        raise ScenarioError(f"{source}: expected a scenario file (.toml), got a directory")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{source}: expected a scenario file, got no such file") from None
    except OSError as e:
        raise ScenarioError(f"{source}: expected a readable scenario file, got {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ScenarioError(f"{source}:{line}: expected UTF-8 text (TOML), got a byte that is not UTF-8") from None
    return loads(text, source)
