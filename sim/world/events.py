"""Plain scheduled callbacks: what the simulator puts into SimPy's event queue on its hot paths.

A SimPy ``Timeout`` with one callback costs ``Event.__init__``, a delay check, ``Environment.schedule`` (each a
Python call) and an instance dictionary. A ``Scheduled`` is a slotted object with just what processing an event
reads (``callbacks``, ``_ok``, ``_value``), pushed onto SimPy 4's heap (pinned) directly, under the very key
``Environment.schedule`` would give it: (time, priority, next event id). So the order of events is exactly
SimPy's, and a run that makes Scheduled where it made Timeouts is the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

from simpy import Environment
from simpy.events import NORMAL


class Scheduled:
    """Calls ``callback(self)`` ``delay`` microseconds from now (``value`` is its ``_value``, as a Timeout's).
    Processing one is all it does: it cannot be waited on by a SimPy process, nor fail."""

    __slots__ = ("_ok", "_value", "callbacks")

    def __init__(
        self, env: Environment, delay: int, callback: Callable[[Any], None], value: Any = None, priority: int = NORMAL
    ) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = [callback]
        self._ok = True
        self._value = value
        heappush(env._queue, (env._now + delay, priority, next(env._eid), self))  # type: ignore[attr-defined]
