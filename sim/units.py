"""Times as the files and flags write them, and as the summaries print them; the count flags the commands share."""

from __future__ import annotations

import argparse
import re

from sim.errors import UsageError

# The units of scenario-file times; ``h`` too, as ``raftsim fuzz --time`` accepts it (``parse_wall_time``).
UNITS = {"us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000, "min": 60_000_000, "m": 60_000_000, "h": 3_600_000_000}
TIME_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(us|µs|ms|s|min|m|h)\s*$")


def format_time(us: int) -> str:
    """A time as a scenario-file string: whole milliseconds as ``"150ms"``, otherwise ``"1500us"``."""
    return f"{us // 1000}ms" if us % 1000 == 0 else f"{us}us"


def format_ms(us: int | float) -> str:
    """A time for humans: milliseconds with at most three decimals."""
    text = f"{us / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{text}ms"


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|min|h)?\s*$")


def parse_wall_time(text: str) -> float:
    """``--time`` values: ``60s``, ``2m``, ``500ms``, ``1h``; a bare number is seconds."""

    m = _DURATION_RE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--time: expected a positive duration such as 60s, 5m or 1h, got {text!r}")
    unit = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[m.group(2)]
    return float(m.group(1)) * unit


def positive_int(text: str) -> int:
    """An argparse type for counts (``--repeat``, ``--budget``, ...): a positive integer, or argparse's one-line
    error naming the flag."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type for a count that may be 0 (``--snapshot-every``), or argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value
