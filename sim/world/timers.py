"""Lazy timers: a timer that is re-armed often, mostly to a later time, and keeps at most one SimPy event pending.

A Raft follower re-arms its election timer on every AppendEntries and a client re-arms its attempt timeout on
every attempt. An event per arming would fill the event heap with dead timeouts, each processed in its turn. A
lazy timer keeps ``deadline`` (when it is due; None when it is not armed) and ``pending`` (when its one SimPy event
fires): arming it for later than the pending event creates no event; the pending event, when it fires early,
schedules itself again for the deadline. Only arming it for earlier than the pending event schedules a new one
(the old one, when it fires, sees it was superseded).
"""

from __future__ import annotations

from collections.abc import Callable

from simpy import Environment

from sim.world.events import call_later


class LazyTimer:
    __slots__ = ("_env", "_expire", "deadline", "pending")

    def __init__(self, env: Environment, expire: Callable[[], None]) -> None:
        self._env = env
        self._expire = expire  # called when the timer expires
        self.deadline: int | None = None
        self.pending: int | None = None

    def arm(self, due: int) -> None:
        """Expire at simulated time ``due``, replacing any earlier arming."""
        self.deadline = due
        pending = self.pending
        if pending is None or pending > due:
            self._schedule(due)

    def cancel(self) -> None:
        self.deadline = None

    def _schedule(self, due: int) -> None:
        self.pending = due
        # env._now rather than the env.now property: this runs for many timers (SimPy 4, pinned).
        delay = due - self._env._now
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")  # as a SimPy Timeout would: a bug in the caller
        call_later(self._env, delay, LazyTimer._fire, self, due)  # self._fire(due) then

    def _fire(self, due: int) -> None:
        if due != self.pending:
            return  # superseded by an earlier event
        self.pending = None
        deadline = self.deadline
        if deadline is None:
            return  # cancelled
        if deadline > self._env._now:
            self._schedule(deadline)  # re-armed for later while this event was pending
            return
        self.deadline = None
        self._expire()
