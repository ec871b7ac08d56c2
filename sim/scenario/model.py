"""A scenario as values: what a scenario file says, validated (see ``sim.scenario.parse``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.errors import UsageError
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
    - committed_at_least, acked_at_least, max_elections, min_elections, max_term: ``value`` = a count.
    - logs_converge_by: ``value`` = the time; ``lag`` = how far behind the newest commit a server may be.
    - no_leader, no_commit: ``start``..``end`` = the interval, ``value`` None.
    - violation: ``value`` = a property name from ``sim.check.properties.EXPECTABLE`` or ``"any"``.
    - clients_complete, state_machines_agree: ``value`` True (judged at the end of the run).
    - leader_at_end: ``value`` = the server that leads, followed by a majority, when the run ends.
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
    "leader_at_end",
)
EXPECTATION_MODIFIERS: dict[str, tuple[str, ...]] = {"leader_within": ("after",), "logs_converge_by": ("lag",)}
MODIFIER_NAMES = ("after", "lag")
