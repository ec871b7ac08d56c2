"""The scenario library that ships with raftsim: ``scenarios/`` in a source checkout, installed as the package
``sim.library`` (pyproject maps that package to the ``scenarios`` folder), so ``raftsim run`` with no file works
from a wheel as well as from a clone."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_SCENARIO = "leader-crash.toml"


def library_dir() -> Path:
    """The folder of the bundled scenario files: the installed package, or else (Python started inside a
    source tree, which shadows the installed mapping) the checkout's own ``scenarios/``."""
    try:
        return Path(str(resources.files("sim.library")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "scenarios"


def default_scenario() -> Path:
    return library_dir() / DEFAULT_SCENARIO
