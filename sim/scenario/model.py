"""A scenario as values: what a scenario file says, validated (see ``sim.scenario.parse``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.errors import UsageError
from sim.world.conditions import Condition
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault

MAX_NODES = 99


class ScenarioError(UsageError):
    """Bad scenario input. ``str(e)`` is one line: ``<file>:<line>: <key>: expected ..., got ...``."""


# ============================================================================================ the model


@dataclass(frozen=True)
class Expectation:
    """One stated expectation. ``kind`` is one of ``EXPECTATION_KINDS``; times are microseconds.

    - leader_within: ``value`` = window; ``start`` = the reference time (None: the last event's time).
    - committed_at_least, acked_at_least, max_elections, min_elections, max_term, snapshots_installed_at_least:
      ``value`` = a count.
    - logs_converge_by: ``value`` = the time; ``lag`` = how far behind the newest commit a server may be.
    - no_leader, no_commit: ``start``..``end`` = the interval, ``value`` None.
    - violation: ``value`` = a property name from ``sim.check.properties.EXPECTABLE`` or ``"any"``.
    - clients_complete, state_machines_agree: ``value`` True (judged at the end of the run).
    - leader_at_end: ``value`` = the server that leads, followed by a majority, when the run ends.
    - latency_p99_below: ``value`` = a latency.
    - members_at_end: ``value`` = the members (a tuple of ids, in any order) or how many there are (an int): the
      voters of the latest committed configuration at the end of the run.
    - committed_at_least with ``servers`` (``on``): at least that many live servers have committed index ``value``,
      judged at ``start`` (``at``) or at the end of the run; without, the highest commit index reached (by
      ``start`` if set).
    - no_leader with ``among`` = "connected": only connected servers count.
    - is_leader, not_leader: ``value`` = a node id or ``"@name"``; judged at ``start`` (``at``) or at the end.
    - max_messages, min_messages: ``value`` = a count of messages sent, of ``kinds`` (kind names or groups of
      ``sim.world.network``; empty: all), between ``start`` (or the moment ``start_name`` was bound; neither: 0)
      and ``end`` (or ``end_name``'s moment; neither: the end of the run).
    """

    kind: str
    value: object
    start: int | None = None
    end: int | None = None
    lag: int | None = None
    kinds: tuple[str, ...] = ()
    start_name: str | None = None
    end_name: str | None = None
    servers: int | None = None
    among: str | None = None


@dataclass(frozen=True)
class Step:
    """One of a scenario's ``[[steps]]``, run one after another from time 0 (``sim.scenario.steps``). Exactly one
    of the first five is set (none: a step that only binds its moment, with ``bind``):

    - ``action``: a Fault carried out at once (its ``at`` is 0; its guard's ``then`` holds its undo, if any);
    - ``wait``: a time to let pass (microseconds);
    - ``until``: a condition to wait for, at most ``within`` microseconds, or the run fails;
    - ``check``: a condition that must hold at that moment, or the run fails;
    - ``repeat``: run ``steps`` that many times over (rounds).

    ``bind`` (``as``, for the steps other than actions, whose Fault carries its own): the name of the moment the
    step is done at (a wait's end, a group's last round's end)."""

    action: Fault | None = None
    wait: int | None = None
    until: Condition | None = None
    within: int | None = None
    check: Condition | None = None
    repeat: int | None = None
    steps: tuple[Step, ...] = ()
    bind: str | None = None


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
    steps: tuple[Step, ...] = ()
    # No duration in the file: the run ends as soon as the steps are done (``duration`` is then their longest
    # possible run, the bound for every other time in the file).
    ends_with_steps: bool = False


def actions_of(s: Scenario) -> tuple[str, ...]:
    """The actions a scenario's events and steps carry out, each once, in order of appearance."""
    seen: dict[str, None] = {}

    def walk(steps: tuple[Step, ...]) -> None:
        for step in steps:
            if step.action is not None:
                seen.setdefault(step.action.do)
            walk(step.steps)

    for f in s.faults:
        seen.setdefault(f.do)
    walk(s.steps)
    return tuple(seen)


EXPECTATION_KINDS = (
    "leader_within",
    "committed_at_least",
    "acked_at_least",
    "logs_converge_by",
    "no_leader",
    "no_commit",
    "violation",
    "clients_complete",
    "state_machines_agree",
    "min_elections",
    "max_elections",
    "max_term",
    "latency_p99_below",
    "members_at_end",
    "max_messages",
    "min_messages",
    "is_leader",
    "not_leader",
    "snapshots_installed_at_least",
    "leader_at_end",
)
EXPECTATION_MODIFIERS: dict[str, tuple[str, ...]] = {
    "leader_within": ("after",),
    "logs_converge_by": ("lag",),
    "max_messages": ("kind", "during"),
    "min_messages": ("kind", "during"),
    "no_leader": ("among",),
    "committed_at_least": ("on", "at"),
    "is_leader": ("at",),
    "not_leader": ("at",),
}
MODIFIER_NAMES = ("after", "lag", "kind", "during", "among", "on", "at")
