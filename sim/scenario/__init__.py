"""Scenario files: a cluster, its network, a client workload, a timeline of faults and what must hold.

The format is documented key by key in ``scenarios/README.md``. Modules: ``model`` (the values), ``parse``
(``load``/``loads``: validation with one-line errors), ``emit`` (``to_toml``), ``monitors`` (one per kind of
expectation), ``run`` (``run_scenario`` and its result), ``library`` (the bundled files), ``cli`` (``raftsim run``).
"""

from sim.scenario.emit import to_toml
from sim.scenario.model import EXPECTATION_KINDS, Expectation, Scenario, ScenarioError
from sim.scenario.parse import load, loads
from sim.scenario.run import ScenarioResult, run_scenario

__all__ = [
    "EXPECTATION_KINDS",
    "Expectation",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "load",
    "loads",
    "run_scenario",
    "to_toml",
]
