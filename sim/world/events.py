"""Plain scheduled calls: what the simulator puts into SimPy's event queue on its hot paths.

An entry of SimPy 4's event heap (pinned) is ``(time, priority, id, event)``. Where SimPy would put an event with
one callback (a ``Timeout`` that a message in flight, a timer or a process waits on), the simulator puts a *call*:
the tuple ``(function, a, b)``, which ``Simulation.run``, the one loop that processes a simulation's queue, carries
out as ``function(a, b)``. A Timeout costs ``Event.__init__``, a delay check, ``Environment.schedule`` (each a
Python call), an object with a dictionary and, when processed, its callback list; a call is one tuple.

A call goes onto the heap under the very key ``Environment.schedule`` gives an event (time, priority, the next
event id), so the order of events is exactly SimPy's: a run that makes calls where it made Timeouts is the same
run. SimPy's own ``Environment.step`` cannot process a call: nothing else steps a simulation's environment.

``PlainProcess`` runs a generator as a SimPy process would, its sleeps and its start made as calls: the servers'
and the clients' processes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from heapq import heappush
from typing import Any

from simpy import Environment
from simpy.events import NORMAL, URGENT, Event


def call_later(
    env: Environment, delay: int, function: Callable[[Any, Any], None], a: Any, b: Any, priority: int = NORMAL
) -> None:
    """``function(a, b)``, ``delay`` microseconds from now (``priority`` orders it among events due at the same
    time, as SimPy's priorities do). The hottest callers write this push out."""
    heappush(env._queue, (env._now + delay, priority, next(env._eid), (function, a, b)))  # type: ignore[attr-defined]


def nothing(_a: Any, _b: Any) -> None:
    """A call that does nothing: an event that only has to happen (and be counted), as a SimPy process's end
    is when nobody waits on it."""


class PlainProcess:
    """A generator run as a process, the way a SimPy ``Process`` runs one, with its events made as plain calls.
    The generator yields a number of microseconds to sleep (what ``yield Timeout(env, delay)`` does) or ``None``
    to wait until someone calls ``resume`` (what waiting on an event that someone else triggers does; ``waiting``
    is true meanwhile).

    Its events are the ones SimPy makes, so a run is the same: its start is an URGENT event now (SimPy's
    ``Initialize``), a sleep a NORMAL event after the delay (a ``Timeout``: a negative delay raises ValueError
    into the generator, as creating that Timeout would), its end a NORMAL event now (the Process's own), and a
    generator that raised fails an event, which the run loop raises as SimPy does."""

    __slots__ = ("env", "generator", "waiting")

    def __init__(self, env: Environment, generator: Generator[int | None, Any, None]) -> None:
        self.env = env
        self.generator = generator
        self.waiting = False
        call_later(env, 0, PlainProcess._step, self, None, URGENT)

    def resume(self, value: Any = None) -> None:
        """Carry on a process that waits (``waiting``) at once, rather than through the event queue: its ``yield
        None`` returns ``value``. Only from an event's callback, never from inside the process itself."""
        self.waiting = False
        self._step(value)

    def _step(self, value: Any) -> None:
        try:
            wait = self.generator.send(value)
        except BaseException as e:
            self._ended(e)
            return
        # What ``_then`` does, its two common cases written out (a call fewer on every step of every process).
        if wait is None:
            self.waiting = True
        elif wait >= 0:
            env = self.env
            heappush(env._queue, (env._now + wait, NORMAL, next(env._eid), (PlainProcess._step, self, None)))  # type: ignore[attr-defined]
        else:
            self._then(wait)

    def _then(self, wait: int | None) -> None:
        """What the generator yielded: wait for ``resume``, or sleep."""
        if wait is None:
            self.waiting = True
        elif wait >= 0:
            call_later(self.env, wait, PlainProcess._step, self, None)
        else:
            try:
                wait = self.generator.throw(ValueError(f"Negative delay {wait}"))
            except BaseException as e:
                self._ended(e)
                return
            self._then(wait)

    def _ended(self, e: BaseException) -> None:
        """The generator returned (``StopIteration``) or raised ``e``."""
        if isinstance(e, StopIteration):
            call_later(self.env, 0, nothing, None, None)
            return
        e.__traceback__ = e.__traceback__.tb_next  # type: ignore[union-attr]  # from the generator's frame on
        failed = Event(self.env)
        failed._ok = False
        failed._value = e
        self.env.schedule(failed)
