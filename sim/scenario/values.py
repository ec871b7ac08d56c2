"""Reading values out of a parsed scenario file: where each key is (its line), what each value must be, and the
one-line ``ScenarioError`` that says so.

``Reader`` holds the file's name and key lines; its methods read one value each (a time, a probability, a node id,
a delay distribution, ...) and raise ``<file>:<line>: <key>: expected ..., got ...`` at the first problem. The
sections of a file (``sim.scenario.parse``) and the actions of its events and steps (``sim.scenario.actions``) are
read with it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sim.scenario.model import MAX_NODES, ScenarioError
from sim.units import TIME_RE, UNITS, format_time
from sim.world.network import Delay, Exponential, Fixed, LogNormal, Mixture, Uniform

# ====================================================================================== TOML locations


def key_lines(text: str) -> dict[str, int]:
    """Map key paths (``cluster.nodes``, ``events[2].at``, ``events[2]``) to the line that defines them.

    tomllib gives no positions for valid documents, so this scans the text: table headers, array-of-tables
    headers (counted, 1-based, per parent table: ``[[steps.steps]]`` under the third ``[[steps]]`` is
    ``steps[3].steps[1]``) and ``key =`` lines, skipping the insides of multi-line arrays, inline tables and
    multi-line strings. Keys inside an inline table map to their parent key's line (the lookup falls back to the
    longest known prefix)."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    latest: dict[str, str] = {}  # an array of tables (``steps.steps``) -> the path of its latest table
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
            array = _instance_path(name, latest)
            counts[array] = counts.get(array, 0) + 1
            table = latest[name] = f"{array}[{counts[array]}]"
            lines.setdefault(table, number)
            lines.setdefault(array, number)
            continue
        if line.startswith("["):
            table = _instance_path(_dotted(line[1 : line.find("]")]), latest)
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


def _instance_path(name: str, latest: dict[str, str]) -> str:
    """A header's dotted name as a path through the latest table of each array of tables it lies in: in TOML,
    ``[[steps.steps]]`` (or ``[steps.x]``) belongs to the last ``[[steps]]`` defined so far."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in latest:
            return latest[prefix] + "." + ".".join(parts[cut:])
    return name


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


def show_value(value: Any) -> str:
    """A value as it would look in TOML, shortened to stay on one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "a table {" + ", ".join(f"{k} = {show_value(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(show_value(v) for v in value) + "]"
    else:
        text = repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


class Reader:
    """Reads the values of one parsed TOML document, raising ScenarioError at the first problem."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = key_lines(text)
        self.nodes = 5
        self.added: list[int] = []  # ids above cluster.nodes that add_server actions boot, in the order read
        # The names the file's ``as`` keys bind, each with whether it names servers (an ``as`` on an action with
        # a target) or only a moment.
        self.names: dict[str, bool] = {}

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
        tail = f", got {show_value(got) if show else got}" if got is not None else ""
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
            raise self.fail(path, "an integer" + range_text(low, high), value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, "an integer" + range_text(low, high), value)
        return value

    def number(self, path: str, value: Any, low: float | None = None, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(path, "a number" + range_text(low, high), value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, "a number" + range_text(low, high), value)
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
        """A server that exists by now: one of the cluster's first ``nodes``, or one an add_server read earlier
        added."""
        integer = isinstance(value, int) and not isinstance(value, bool)
        known = integer and (1 <= value <= self.nodes or value in self.added)
        if not known:
            added = f" or one added by an earlier add_server ({', '.join(map(str, self.added))})" if self.added else ""
            raise self.fail(path, f"a node id from 1 to {self.nodes} (cluster.nodes){added}", value)
        return value

    def server_to_add(self, path: str, value: Any) -> int:
        """add_server's ``node``: a new id above cluster.nodes (it boots empty and joins), or a known server (added
        back: a removed one, say)."""
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NODES:
            what = f"a node id from 1 to {MAX_NODES}: a new one above cluster.nodes, or a known one"
            raise self.fail(path, what, value)
        if value > self.nodes and value not in self.added:
            self.added.append(value)
        return value

    def link(self, path: str, t: dict[str, Any]) -> tuple[int, int]:
        """``from`` and ``to`` of ``t``: two different node ids."""
        for key in ("from", "to"):
            if key not in t:
                raise self.fail(f"{path}.{key}", "a node id (missing)")
        src = self.node_id(f"{path}.from", t["from"])
        dst = self.node_id(f"{path}.to", t["to"])
        if src == dst:
            raise self.fail(f"{path}.to", "a node other than 'from'", dst)
        return src, dst

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


def range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" >= {low:g}"
    if high is not None:
        return f" <= {high:g}"
    return ""
