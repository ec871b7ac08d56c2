"""Running a scenario's ``[[steps]]``: actions, waits and checks one after another, as a test script does.

The steps start at time 0 (after the events due then) and run in order: an action is carried out at once (its
``probability`` and ``when`` decide, as for an event); a fixed wait lets that much simulated time pass; a wait
``until`` a condition ends at the first moment the condition holds, which is looked at when the wait starts and
after every simulation event until the deadline, and fails the run if that moment does not come by then; a check
fails the run if its condition does not hold at that moment; a repetition runs its steps that many rounds. A
failed step stops the run there (what the run did so far is still judged: invariants, the client history and the
other expectations, at the moment it stopped), and so does the last step when the scenario has no duration.

The runner is driven from two places: ``Simulation.at`` callbacks (the start, a fixed wait's end, a deadline: a
wait whose condition does not hold when its deadline's event comes has failed) and the run's after-event hook
(``after_event``, which also stops the run by raising ``StopRun``, the only way out of ``Simulation.run`` that is
not a finding of its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.scenario.model import Step
from sim.units import format_ms
from sim.world.conditions import Condition, ConditionError, State
from sim.world.faults import occur
from sim.world.names import Names

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


class StopRun(Exception):
    """Raised from the after-event hook to end the run now: a step failed, or the last one is done."""


@dataclass
class _Frame:
    """Where the runner is in one list of steps: the list, its path in the file, the index of the next step, and
    for a repetition the round it is in (1-based) and the repeat step itself."""

    steps: tuple[Step, ...]
    path: str
    index: int = 0
    round: int = 1
    group: Step | None = None


def describe(step: Step) -> str:
    """A step as a short text, for reports."""
    if step.action is not None:
        f = step.action
        target = f.node if f.node is not None else ""
        return f"do {f.do}{' ' + repr(target) if target != '' else ''}".replace("'", '"')
    if step.wait is not None:
        return f"wait {format_ms(step.wait)}"
    if step.until is not None:
        assert step.within is not None
        return f'until "{step.until}" within {format_ms(step.within)}'
    if step.check is not None:
        return f'check "{step.check}"'
    if step.repeat is not None:
        return f"repeat {step.repeat} rounds of {len(step.steps)} steps"
    return f"as {step.bind!r}"


def longest(steps: tuple[Step, ...]) -> int:
    """How long the steps can take at most (microseconds): their waits and deadlines, round after round, and the
    undo of an action (a crash's restart_after, ...) as if it were a wait."""
    total = 0
    for step in steps:
        if step.wait is not None:
            total += step.wait
        elif step.within is not None:
            total += step.within
        elif step.repeat is not None:
            total += step.repeat * longest(step.steps)
        elif step.action is not None and step.action.guard is not None:
            total += max((f.at for f in step.action.guard.then), default=0)
    return total


class StepsRun:
    """The steps of one run, carried out against ``sim`` with the names the events share (``names``)."""

    def __init__(self, sim: Simulation, steps: tuple[Step, ...], names: Names, stop_when_done: bool) -> None:
        self.sim = sim
        self.names = names
        self.stop_when_done = stop_when_done
        self.frames = [_Frame(steps, "steps")]
        self.waiting: tuple[Condition, int, int] | None = None  # (condition, since, deadline) of an `until`
        self.paused = False  # a fixed wait is under way
        self.done_at: int | None = None
        self.failure: str | None = None
        self.stop = False
        self.counts = {"actions": 0, "waits": 0, "checks": 0}

    # ------------------------------------------------------------------------------------------- driving

    def start(self) -> None:
        self.sim.at(0, self._advance)

    def after_event(self, sim: Simulation) -> None:
        """After every simulation event: a wait ``until`` ends (or fails at its deadline); stop when told to."""
        waiting = self.waiting
        if waiting is not None and self._holds(waiting[0]):
            self.waiting = None
            self._step_done()
            self._advance()
        if self.stop:
            raise StopRun

    def finish(self) -> tuple[bool, str]:
        """The verdict once the run has ended (for whatever reason)."""
        done = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        if self.failure is not None:
            return False, self.failure
        if self.done_at is not None:
            return True, f"every step done by {format_ms(self.done_at)} ({done})"
        where = self._where()
        return False, f"the run ended at {format_ms(self.sim.now)} during {where} ({done} so far)"

    # ---------------------------------------------------------------------------------------- the steps

    def _current(self) -> Step:
        frame = self.frames[-1]
        return frame.steps[frame.index]

    def _where(self) -> str:
        """The current step's path and what it is, with the rounds it is in."""
        frame = self.frames[-1]
        if frame.index >= len(frame.steps):
            return "the end of the steps"
        path = f"{frame.path}[{frame.index + 1}]"
        rounds = [f"round {f.round} of {f.group.repeat}" for f in self.frames if f.group is not None and f.group.repeat]
        return f"{path} ({describe(frame.steps[frame.index])}{', ' + ', '.join(rounds) if rounds else ''})"

    def _advance(self) -> None:
        """Carry out steps from the current one until one has to wait (or the steps end or one fails)."""
        self.paused = False
        sim = self.sim
        while not self.stop:
            frame = self.frames[-1]
            if frame.index >= len(frame.steps):
                if not self._end_of_list():
                    return
                continue
            step = frame.steps[frame.index]
            if step.action is not None:
                self.counts["actions"] += 1
                occur(sim, step.action, self.names)
            elif step.wait is not None:
                self.counts["waits"] += 1
                if step.wait > 0:
                    self.paused = True
                    sim.at(sim.now + step.wait, self._resume)
                    return
            elif step.until is not None:
                self.counts["waits"] += 1
                if not self._holds(step.until):
                    assert step.within is not None
                    deadline = sim.now + step.within
                    self.waiting = waiting = (step.until, sim.now, deadline)
                    sim.at(deadline, lambda w=waiting: self._deadline(w))
                    return
            elif step.check is not None:
                self.counts["checks"] += 1
                if not self._holds(step.check):
                    self._fail(f"does not hold at {format_ms(sim.now)}", step.check)
                    return
            elif step.repeat is not None:
                self.frames.append(_Frame(step.steps, f"{frame.path}[{frame.index + 1}].steps", group=step))
                continue
            self._step_done()

    def _deadline(self, waiting: tuple[Condition, int, int]) -> None:
        """A wait's deadline has come: if that wait is still on and its condition does not hold now, it failed."""
        if self.waiting is not waiting:
            return  # that wait ended in time
        condition, since, deadline = waiting
        if self._holds(condition):
            self.waiting = None
            self._step_done()
            self._advance()
            return
        self._fail(f"not by {format_ms(deadline)} ({format_ms(deadline - since)} after the wait began)", condition)

    def _resume(self) -> None:
        self._step_done()
        self._advance()

    def _step_done(self) -> None:
        """The current step is done: bind its name, move to the next."""
        frame = self.frames[-1]
        step = frame.steps[frame.index]
        self._bind(step)
        frame.index += 1

    def _bind(self, step: Step) -> None:
        if step.bind is not None:
            self.names.bind(step.bind, (), self.sim.now, State.of(self.sim))

    def _end_of_list(self) -> bool:
        """The current list of steps is done: the next round, the step after the group, or the end. Returns
        whether there are steps left."""
        frame = self.frames[-1]
        group = frame.group
        if group is not None:
            assert group.repeat is not None
            if frame.round < group.repeat:
                frame.round += 1
                frame.index = 0
                return True
            self.frames.pop()
            self._step_done()  # the repeat step itself
            return True
        self.done_at = self.sim.now
        if self.stop_when_done:
            self.stop = True
        return False

    def _holds(self, condition: Condition) -> bool:
        try:
            return condition.holds(State.of(self.sim), self.names)
        except ConditionError:
            return False

    def _fail(self, what: str, condition: Condition) -> None:
        try:
            why = condition.explain(State.of(self.sim), self.names)
        except ConditionError as e:  # pragma: no cover (explain reports errors itself)
            why = str(e)
        self.failure = f"{self._where()}: {what}; now {why}" if why else f"{self._where()}: {what}"
        self.waiting = None
        self.stop = True
