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
unit: ``"500us"``, ``"150ms"``, ``"2.5s"``, ``"1min"``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checker import PROPERTIES, Violation
from .cluster import ClusterConfig, NetworkConfig
from .errors import UsageError
from .faults import ACTIONS, TARGET_WORDS, Fault, Target, schedule
from .network import Delay, Exponential, Fixed, LogNormal, Uniform
from .raft.node import RaftConfig
from .workload import WorkloadConfig

if TYPE_CHECKING:
    from .cluster import Simulation

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = "leader-crash.toml"
MAX_NODES = 99
OPS = ("put", "append", "get")


class ScenarioError(UsageError):
    """Bad scenario input. ``str(e)`` is one line: ``<file>:<line>: <key>: expected ..., got ...``."""


# ============================================================================================ the model


@dataclass(frozen=True)
class Expectation:
    """One stated expectation. ``kind`` is one of ``EXPECTATION_KINDS``; times are microseconds.

    - leader_within: ``value`` = window; ``start`` = the reference time (None: the last event's time).
    - committed_at_least, acked_at_least, max_elections, min_elections, max_term: ``value`` = a count.
    - logs_converge_by: ``value`` = the time; ``lag`` = how far behind the newest commit a server may be.
    - no_leader, no_commit: ``start``..``end`` = the interval, ``value`` None.
    - violation: ``value`` = a property name from ``sim.checker.PROPERTIES`` or ``"any"``.
    - clients_complete: ``value`` True.
    - latency_p99_below: ``value`` = a latency.
    """

    kind: str
    value: object
    start: int | None = None
    end: int | None = None
    lag: int | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    duration: int  # microseconds
    cluster: ClusterConfig
    network: NetworkConfig
    workload: WorkloadConfig
    faults: tuple[Fault, ...]  # sorted by time; faults at one time fire in this order
    expectations: tuple[Expectation, ...]
    source: str = field(default="<string>", compare=False)


# ========================================================================================= time values

_UNITS = {"us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000, "min": 60_000_000, "m": 60_000_000}
_TIME_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(us|µs|ms|s|min|m)\s*$")


def format_time(us: int) -> str:
    """A time as a scenario-file string: whole milliseconds as ``"150ms"``, otherwise ``"1500us"``."""
    return f"{us // 1000}ms" if us % 1000 == 0 else f"{us}us"


def _ms(us: int | float) -> str:
    """A time for humans: milliseconds with at most three decimals."""
    text = f"{us / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{text}ms"


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
            match = _TIME_RE.match(value)
            if not match:
                raise self.fail(path, what, value)
            amount = float(match.group(1)) * _UNITS[match.group(2)]
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
        seed = self.integer("seed", doc.get("seed", 0), 0, 2**63 - 1)
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
        from .bugs import BUGS

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
        raft = RaftConfig(
            election_timeout_min=low,
            election_timeout_max=high,
            heartbeat_interval=heartbeat,
            max_batch=self.integer("cluster.max_batch", t.get("max_batch", 64), 1, 1_000_000),
            max_inflight=self.integer("cluster.max_inflight", t.get("max_inflight", 16), 1, 1_000_000),
            prevote=self.boolean("cluster.prevote", t.get("prevote", False)),
            check_quorum=self.boolean("cluster.check_quorum", t.get("check_quorum", False)),
            early_vote_requests=self.boolean("cluster.early_vote_requests", t.get("early_vote_requests", False)),
        )
        bug = None
        if "bug" in t:
            bug = self.string("cluster.bug", t["bug"])
            if bug not in BUGS:
                raise self.fail("cluster.bug", f"one of {', '.join(BUGS)}", bug)
        disk = self.time("cluster.disk_latency", t.get("disk_latency", 0))
        return ClusterConfig(nodes=nodes, raft=raft, disk_latency=disk, bug=bug)

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
        keys = ("clients", "rate", "timeout", "redirect_backoff", "keys", "start", "stop", "ops")
        self.check_keys("workload", t, keys)
        clients = self.integer("workload.clients", t.get("clients", 0), 0, 10_000)
        rate = self.number("workload.rate", t.get("rate", 0.0), 0.0, 1e7)
        if clients and not rate:
            raise self.fail("workload.rate", "a positive rate (commands per second) when clients > 0", t.get("rate", 0))
        if rate and not clients:
            raise self.fail("workload.clients", "at least 1 client when rate > 0", clients)
        start = self.time("workload.start", t.get("start", 0))
        stop = None
        if "stop" in t:
            stop = self.time("workload.stop", t["stop"])
            if stop < start:
                raise self.fail("workload.stop", f"a time not before workload.start ({format_time(start)})", t["stop"])
        ops = t.get("ops", list(OPS))
        if not isinstance(ops, list) or not ops:
            raise self.fail("workload.ops", f"a non-empty list of operations from {', '.join(OPS)}", ops)
        for i, op in enumerate(ops):
            if op not in OPS:
                raise self.fail(f"workload.ops[{i + 1}]", f"one of {', '.join(OPS)}", op)
        return WorkloadConfig(
            clients=clients,
            rate=rate,
            timeout=self.time("workload.timeout", t.get("timeout", 500), positive=True),
            redirect_backoff=self.time("workload.redirect_backoff", t.get("redirect_backoff", 20), positive=True),
            keys=self.integer("workload.keys", t.get("keys", 8), 1, 1_000_000),
            start=start,
            stop=stop,
            ops=tuple(ops),
        )

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
                    f"events in time order: a time not before the previous event's ({_ms(previous)})",
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
                            f"events within the run (duration {_ms(duration)}), but "
                            f"{'repetition ' + str(k + 1) + ' of ' if count > 1 else ''}this event "
                            f"{'fires' if offset == 0 else 'is undone'} at {_ms(t)}",
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
                raise self.fail(f"{path}.{key}", f"a time shorter than 'every' ({_ms(every)})", e[key])
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
                raise self.fail(p, f"a time within the run (duration {_ms(duration)})", raw_value)
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
            names = (*PROPERTIES, "any")
            if value not in names:
                raise self.fail(kpath, f"a property name: one of {', '.join(names)}", value)
            return Expectation(kind, value)
        if kind == "clients_complete":
            if value is not True:
                raise self.fail(kpath, "true", value)
            return Expectation(kind, True)
        # latency_p99_below
        return Expectation(kind, self.time(kpath, value, positive=True))


EXPECTATION_KINDS = (
    "leader_within",
    "committed_at_least",
    "acked_at_least",
    "logs_converge_by",
    "no_leader",
    "no_commit",
    "violation",
    "clients_complete",
    "min_elections",
    "max_elections",
    "max_term",
    "latency_p99_below",
)
EXPECTATION_MODIFIERS: dict[str, tuple[str, ...]] = {"leader_within": ("after",), "logs_converge_by": ("lag",)}
MODIFIER_NAMES = ("after", "lag")


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


# ============================================================================================ writing


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
    if f.do in ("crash", "restart", "isolate"):
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
        f"rate = {_toml_value(float(w.rate))}",
        f'timeout = "{format_time(w.timeout)}"',
        f'redirect_backoff = "{format_time(w.redirect_backoff)}"',
        f"keys = {w.keys}",
        f'start = "{format_time(w.start)}"',
    ]
    if w.stop is not None:
        out.append(f'stop = "{format_time(w.stop)}"')
    out.append(f"ops = {_toml_value(list(w.ops))}")
    for f in s.faults:
        out += ["", "[[events]]"] + [f"{k} = {_toml_value(v)}" for k, v in _fault_table(f).items()]
    for e in s.expectations:
        out += ["", "[[expect]]"] + [f"{k} = {_toml_value(v)}" for k, v in _expectation_table(e).items()]
    return "\n".join(out) + "\n"


# ============================================================================================ running


class _Monitor:
    """Judges one expectation. ``event`` runs after every simulation event while ``active``; ``finish`` gives
    (passed, why) once the run has ended (``stopped`` is the violation that ended it early, if any)."""

    active = False

    def __init__(self, e: Expectation, s: Scenario) -> None:
        self.e = e
        self.s = s

    def event(self, sim: Simulation) -> None:
        pass

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        raise NotImplementedError


def _at_or_after(sim: Simulation, t: int) -> bool:
    """Whether the simulation's state is now the state at time ``t`` or later: every event up to ``t`` is done."""
    return sim.env.now > t or sim.env.peek() > t


def _not_reached(sim: Simulation, t: int, stopped: Violation | None) -> str:
    why = f"a {stopped.property} violation" if stopped else "the end of the run"
    return f"not reached: the run stopped at {_ms(sim.now)} ({why}) before {_ms(t)}"


class _LeaderWithin(_Monitor):
    """A leader counts once a majority follows it in its term and keeps doing so for a maximum election timeout:
    that excludes a deposed leader whose old followers have not yet noticed it is gone."""

    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        last = s.faults[-1].at if s.faults else 0
        self.ref = e.start if e.start is not None else last
        self.deadline = self.ref + int(e.value)  # type: ignore[call-overload]
        self.stable = s.cluster.raft.election_timeout_max
        self.candidate: tuple[int, int, int] | None = None  # leader, term, since
        self.result: tuple[bool, str] | None = None

    def event(self, sim: Simulation) -> None:
        now = sim.env.now
        if now <= self.ref and sim.env.peek() <= self.ref:
            return  # not yet at the reference time
        cand = self.candidate
        if cand is not None and now >= cand[2] + self.stable:
            self._pass(cand)
            return
        found = sim.established_leader()
        if found is None:
            self.candidate = None
        elif cand is None or (cand[0], cand[1]) != found:
            self.candidate = (found[0], found[1], max(now, self.ref))
        if self.candidate is None and now > self.deadline:
            self._fail(sim)

    def _pass(self, cand: tuple[int, int, int]) -> None:
        leader, term, since = cand
        self.result = (
            True,
            f"leader {leader} (term {term}) followed by a majority from {_ms(since)}, "
            f"{_ms(since - self.ref)} after {self._ref_text()}",
        )
        self.active = False

    def _fail(self, sim: Simulation) -> None:
        self.result = (
            False,
            f"no leader followed by a majority within {_ms(self.deadline - self.ref)} after "
            f"{self._ref_text()}{self._leaders_text(sim)}",
        )
        self.active = False

    def _ref_text(self) -> str:
        what = "the reference time" if self.e.start is not None else ("the last event" if self.s.faults else "start")
        return f"{what} at {_ms(self.ref)}"

    @staticmethod
    def _leaders_text(sim: Simulation) -> str:
        leaders = sim.leaders()
        return f" (servers that believe they lead now: {', '.join(map(str, leaders))})" if leaders else ""

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        if self.result is None:
            cand = self.candidate
            if cand is not None and cand[2] <= self.deadline and stopped is None:
                leader, term, since = cand
                self.result = (
                    True,
                    f"leader {leader} (term {term}) followed by a majority from {_ms(since)} to the end, "
                    f"{_ms(since - self.ref)} after {self._ref_text()}",
                )
            elif stopped is not None or sim.now < self.deadline:
                self.result = (False, _not_reached(sim, self.deadline, stopped))
            else:
                self._fail(sim)
        assert self.result is not None
        return self.result


class _LogsConverge(_Monitor):
    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        self.t = int(e.value)  # type: ignore[call-overload]
        self.lag = e.lag if e.lag is not None else s.cluster.raft.election_timeout_max
        self.base_time = max(0, self.t - self.lag)
        self.base: int | None = None
        self.result: tuple[bool, str] | None = None

    def event(self, sim: Simulation) -> None:
        if self.base is None and _at_or_after(sim, self.base_time):
            self.base = sim.committed
        if _at_or_after(sim, self.t):
            self.result = self._judge(sim)
            self.active = False

    def _judge(self, sim: Simulation) -> tuple[bool, str]:
        base = self.base or 0
        live = {i: s.node for i, s in sim.servers.items() if s.node is not None}
        crashed = [i for i in sim.servers if i not in live]
        note = f"; crashed, not counted: {', '.join(map(str, crashed))}" if crashed else ""
        if not live:
            return False, f"at {_ms(self.t)} no server is alive"
        commits = ", ".join(f"{i}:{n.commit}" for i, n in live.items())
        behind = [i for i, n in live.items() if n.commit < base]
        if behind:
            return False, (
                f"at {_ms(self.t)} node(s) {', '.join(map(str, behind))} had not committed index {base} "
                f"(committed somewhere by {_ms(self.base_time)}); commit indexes {commits}{note}"
            )
        terms = {n.log.term_at(base) for n in live.values()} if base else {0}
        if len(terms) > 1:
            return False, f"at {_ms(self.t)} the live logs differ at index {base}{note}"
        return True, (
            f"at {_ms(self.t)} every live server holds the committed log up to index {base} "
            f"(committed by {_ms(self.base_time)}); commit indexes {commits}{note}"
        )

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        if self.result is None:
            return False, _not_reached(sim, self.t, stopped)
        return self.result


class _Interval(_Monitor):
    """no_leader / no_commit: the state at every moment of [start, end]."""

    active = True

    def __init__(self, e: Expectation, s: Scenario) -> None:
        super().__init__(e, s)
        assert e.start is not None and e.end is not None
        self.start, self.end = e.start, e.end
        self.base: int | None = None
        self.broken: str | None = None
        self.done = False

    def event(self, sim: Simulation) -> None:
        now = sim.env.now
        if now > self.end:
            self.done = True
            self.active = False
            return
        if not _at_or_after(sim, self.start):
            return
        if self.e.kind == "no_leader":
            leaders = sim.leaders()
            if leaders:
                node = sim.servers[leaders[0]].node
                term = node.term if node else 0
                self.broken = f"node {leaders[0]} was leader (term {term}) at {_ms(max(now, self.start))}"
        else:
            if self.base is None:
                self.base = sim.committed
            elif sim.committed > self.base:
                self.broken = f"the commit index rose from {self.base} to {sim.committed} at {_ms(now)}"
        if self.broken:
            self.active = False
        elif sim.env.peek() > self.end:
            self.done = True
            self.active = False

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        span = f"[{_ms(self.start)}, {_ms(self.end)}]"
        if self.broken:
            return False, self.broken
        if not self.done and (stopped is not None or sim.now < self.end):
            return False, _not_reached(sim, self.end, stopped)
        if self.e.kind == "no_leader":
            return True, f"no server was leader during {span}"
        return True, f"the commit index stayed at {self.base if self.base is not None else sim.committed} during {span}"


class _AtEnd(_Monitor):
    """Expectations judged on the final state."""

    def finish(self, sim: Simulation, stopped: Violation | None) -> tuple[bool, str]:
        kind, value = self.e.kind, self.e.value
        note = f" (the run stopped at {_ms(sim.now)})" if stopped else ""
        if kind == "committed_at_least":
            n = sim.committed
            return n >= value, f"commit index reached {n}, need >= {value}{note}"  # type: ignore[operator]
        if kind == "acked_at_least":
            n = sim.acked()
            return n >= value, f"{n} client commands acknowledged, need >= {value}{note}"  # type: ignore[operator]
        if kind in ("min_elections", "max_elections"):
            n = len(sim.elections)
            ok = n >= value if kind == "min_elections" else n <= value  # type: ignore[operator]
            need = ">=" if kind == "min_elections" else "<="
            return ok, f"{n} leader(s) elected, need {need} {value}{note}"
        if kind == "max_term":
            term = max(max(s.storage.term, s.node.term if s.node else 0) for s in sim.servers.values())
            return term <= value, f"highest term reached {term}, need <= {value}{note}"  # type: ignore[operator]
        if kind == "clients_complete":
            issued = sum(c.seq for c in sim.clients.values())
            pending = sim.pending_commands()
            if pending:
                waiting = ", ".join(
                    f"{name} #{c.seq} (since {_ms(c.sent_at)})"
                    for name, c in sim.clients.items()
                    if c.outstanding is not None
                )
                return False, f"{pending} of {issued} commands never acknowledged: {waiting}{note}"
            return True, f"all {issued} commands acknowledged{note}"
        if kind == "latency_p99_below":
            lat = sim.latencies()
            if not lat:
                return False, f"no client command completed{note}"
            p99 = _percentile(lat, 99)
            return p99 < value, f"p99 latency {_ms(p99)} over {len(lat)} commands, need < {_ms(value)}{note}"  # type: ignore[arg-type,operator]
        # violation
        if stopped is None:
            return False, f"no invariant was violated in {_ms(sim.now)}"
        if value in ("any", stopped.property):
            return True, f"{stopped.property} violated at {_ms(stopped.time)}, as expected"
        return False, f"expected {value}, but {stopped.property} was violated at {_ms(stopped.time)}"


def _monitor(e: Expectation, s: Scenario) -> _Monitor:
    if e.kind == "leader_within":
        return _LeaderWithin(e, s)
    if e.kind == "logs_converge_by":
        return _LogsConverge(e, s)
    if e.kind in ("no_leader", "no_commit"):
        return _Interval(e, s)
    return _AtEnd(e, s)


def _percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


@dataclass
class ScenarioResult:
    scenario: Scenario
    seed: int
    sim: Simulation
    violation: Violation | None
    expectations: list[tuple[Expectation, bool, str]]  # (expectation, passed, why)

    @property
    def violation_expected(self) -> bool:
        return any(e.kind == "violation" for e in self.scenario.expectations)

    @property
    def passed(self) -> bool:
        if self.violation is not None and not self.violation_expected:
            return False
        return all(ok for _, ok, _ in self.expectations)

    def replay_command(self) -> str:
        source = self.scenario.source
        if source == "<string>":
            return f"write the scenario with sim.scenario.to_toml(...) and run: raftsim run FILE --seed {self.seed}"
        return f"raftsim run {_shell_quote(source)} --seed {self.seed}"

    def line(self) -> str:
        """One line: verdict, file, seed and the headline numbers."""
        s, sim = self.scenario, self.sim
        ok = sum(1 for _, passed, _ in self.expectations if passed)
        if self.violation is None:
            verdict = "invariants ok"
        else:
            verdict = f"{self.violation.property} at {_ms(self.violation.time)}"
            verdict += " (expected)" if self.violation_expected else ""
        first_fail = next((f"; {e.kind}: {why}" for e, passed, why in self.expectations if not passed), "")
        return (
            f"{'PASS' if self.passed else 'FAIL'} {s.source} seed={self.seed} {_ms(s.duration)}: "
            f"{len(sim.elections)} leader(s), commit {sim.committed}, {sim.acked()} acked, "
            f"expectations {ok}/{len(self.expectations)}, {verdict}{first_fail}"
        )

    def summary(self) -> str:
        """The human summary ``raftsim run`` prints for one scenario."""
        s, sim = self.scenario, self.sim
        out = [
            f"{s.name} ({s.source}, seed {self.seed}, {_ms(s.duration)} simulated, {s.cluster.nodes} nodes"
            f"{', bug ' + s.cluster.bug if s.cluster.bug else ''})"
        ]
        if s.description:
            out.append(f"  {s.description}")
        elections = sim.elections
        shown = ", ".join(f"{_ms(t)} node {n} (term {term})" for t, n, term in elections[:8])
        more = f", ... {len(elections) - 8} more" if len(elections) > 8 else ""
        out.append(f"  leaders:     {len(elections)} elected{': ' + shown if shown else ''}{more}")
        faults = [_fault_text(t, action, d) for t, action, d in sim.faults]
        more = f", ... {len(faults) - 10} more" if len(faults) > 10 else ""
        out.append(f"  faults:      {len(faults)} applied{': ' + ', '.join(faults[:10]) if faults else ''}{more}")
        issued = sum(c.seq for c in sim.clients.values())
        out.append(
            f"  commits:     commit index {sim.committed}; {sim.acked()} of {issued} client commands acknowledged, "
            f"{sim.pending_commands()} pending"
        )
        lat = sim.latencies()
        if lat:
            out.append(
                f"  latency:     p50 {_ms(_percentile(lat, 50))}, p99 {_ms(_percentile(lat, 99))}, "
                f"max {_ms(lat[-1])} over {len(lat)} commands"
            )
        else:
            out.append("  latency:     no client command completed")
        for e, passed, why in self.expectations:
            out.append(f"  expect:      {'PASS' if passed else 'FAIL'} {_expectation_text(e)}: {why}")
        if self.violation is None:
            out.append(f"  invariants:  hold ({len(PROPERTIES)} properties checked after each of {sim.events} events)")
        else:
            tag = " (expected by the scenario)" if self.violation_expected else ""
            out.append(f"  invariants:  VIOLATED{tag}")
            out.extend("    " + line for line in self.violation.report().splitlines())
        out.append(f"  result:      {'PASS' if self.passed else 'FAIL'}")
        if not self.passed or self.violation is not None:
            out.append(f"  replay:      {self.replay_command()}")
        return "\n".join(out)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _fault_text(t: int, action: str, d: dict[str, Any]) -> str:
    if "nodes" in d:
        arg = ",".join(map(str, d["nodes"]))
    elif "groups" in d:
        arg = "|".join(",".join(map(str, g)) for g in d["groups"])
    elif "src" in d:
        arg = f"{d['src']}->{d['dst']}"
    else:
        arg = ""
    if "value" in d:
        v = d["value"]
        val = f"{v.get('dist')}" if isinstance(v, dict) else f"{v:g}"
        arg = f"{arg} {val}".strip()
    return f"{_ms(t)} {action}{' ' + arg if arg else ''}"


def _expectation_text(e: Expectation) -> str:
    if e.kind in ("no_leader", "no_commit"):
        return f"{e.kind} [{_ms(e.start or 0)}, {_ms(e.end or 0)}]"
    if e.kind in ("leader_within", "logs_converge_by", "latency_p99_below"):
        return f"{e.kind} {_ms(int(e.value))}"  # type: ignore[call-overload]
    if e.kind == "clients_complete":
        return e.kind
    return f"{e.kind} {e.value}"


def run_scenario(s: Scenario, seed: int | None = None, trace: bool = True) -> ScenarioResult:
    """Run a scenario (with ``seed`` instead of its own, if given) and judge its expectations."""
    from .cluster import Simulation

    run_seed = s.seed if seed is None else seed
    sim = Simulation(s.cluster, s.network, s.workload, seed=run_seed, trace=trace)
    schedule(sim, s.faults)
    monitors = [_monitor(e, s) for e in s.expectations]
    watching = [m for m in monitors if m.active]

    def after_event(sim: Simulation) -> None:
        for m in watching:
            if m.active:
                m.event(sim)

    violation = sim.run(s.duration, after_event if watching else None)
    if violation is None:
        # Let monitors see the final state (the clock has been moved to the end).
        for m in watching:
            if m.active:
                m.event(sim)
    results = [(m.e, *m.finish(sim, violation)) for m in monitors]
    return ScenarioResult(s, run_seed, sim, violation, results)


# ======================================================================================= command line


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run scenario files and check their expectations",
        description=(
            "Run scenario files (TOML, see scenarios/README.md) and check every invariant and expectation. "
            f"With no FILE, runs scenarios/{DEFAULT_SCENARIO}. Exit code 0 when everything holds, 1 when an "
            "invariant or expectation fails, 2 for bad input."
        ),
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="scenario files (.toml)")
    p.add_argument("--seed", type=int, help="use this seed instead of each file's own")
    p.add_argument("--trace", metavar="OUT.jsonl", help="write the trace as JSON Lines (one file per scenario)")
    p.add_argument("--plot", metavar="OUT.png", help="draw a timeline of the run (one file per scenario)")
    p.add_argument("--quiet", action="store_true", help="print one line per scenario")
    p.set_defaults(func=run_command)


def _output_path(base: str, source: str, several: bool) -> Path:
    """``--trace out.jsonl`` for one scenario; ``out.<scenario>.jsonl`` for each of several."""
    path = Path(base)
    if not several:
        return path
    return path.with_name(f"{path.stem}.{Path(source).stem}{path.suffix}")


def run_command(args: argparse.Namespace) -> int:
    files = list(args.files)
    if not files:
        default = SCENARIO_DIR / DEFAULT_SCENARIO
        files = [str(default.relative_to(Path.cwd())) if default.is_relative_to(Path.cwd()) else str(default)]
    # Every file is validated before anything runs, so a typo in the fifth file does not waste four runs.
    scenarios = [load(f) for f in files]
    several = len(scenarios) > 1
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed: expected a non-negative integer, got " + str(args.seed))
    want_trace = bool(args.trace or args.plot)
    failed = 0
    for s in scenarios:
        result = run_scenario(s, seed=args.seed, trace=want_trace)
        if args.trace:
            out = _output_path(args.trace, s.source, several)
            result.sim.trace.write_jsonl(out)
        if args.plot:
            _plot(result, _output_path(args.plot, s.source, several))
        if not result.passed:
            failed += 1
        if several or args.quiet:
            print(result.line())
            if not result.passed and not args.quiet:
                for e, passed, why in result.expectations:
                    if not passed:
                        print(f"    FAIL {_expectation_text(e)}: {why}")
                if result.violation is not None and not result.violation_expected:
                    print("    " + result.violation.report().splitlines()[0])
                print(f"    replay: {result.replay_command()}")
        else:
            print(result.summary())
        sys.stdout.flush()
    if several:
        print(f"total: {len(scenarios)} scenarios, {len(scenarios) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _plot(result: ScenarioResult, out: Path) -> None:
    try:
        from .plot import plot_timeline
    except ImportError as e:
        raise UsageError(f"--plot: expected the plotting module sim.plot, got {e}") from None
    plot_timeline(result.sim.trace, out, title=f"{result.scenario.name} (seed {result.seed})")


# Keep the names other modules use in one place.
__all__ = [
    "EXPECTATION_KINDS",
    "Expectation",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "format_time",
    "load",
    "loads",
    "register",
    "run_scenario",
    "to_toml",
]
