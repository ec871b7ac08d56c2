"""Plain scheduled calls: what the simulator puts into SimPy's event queue on its hot paths.

An entry of SimPy 4's event heap (pinned) is ``(time, priority, id, event)``. Where SimPy would put an event with
one callback (a ``Timeout`` that a message in flight, a timer or a process waits on), the simulator puts a *call*:
the tuple ``(function, a, b)``, which ``Simulation.run``, the one loop that processes a simulation's queue, carries
out as ``function(a, b)``. A Timeout costs ``Event.__init__``, a delay check, ``Environment.schedule`` (each a
Python call), an object with a dictionary and, when processed, its callback list; a call is one tuple.

A call goes onto the heap under the very key ``Environment.schedule`` gives an event (time, priority, the next
event id), so the order of events is exactly SimPy's: a run that makes calls where it made Timeouts is the same
run. SimPy's own ``Environment.step`` cannot process a call: nothing else steps a simulation's environment.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

from simpy import Environment
from simpy.events import NORMAL


def call_later(
    env: Environment, delay: int, function: Callable[[Any, Any], None], a: Any, b: Any, priority: int = NORMAL
) -> None:
    """``function(a, b)``, ``delay`` microseconds from now (``priority`` orders it among events due at the same
    time, as SimPy's priorities do). The hottest callers write this push out."""
    heappush(env._queue, (env._now + delay, priority, next(env._eid), (function, a, b)))  # type: ignore[attr-defined]


def nothing(_a: Any, _b: Any) -> None:
    """A call that does nothing: an event that only has to happen (and be counted), as a SimPy process's end
    is when nobody waits on it."""
