"""The scenario library that ships with raftsim: ``scenarios/`` in a source checkout, installed as the package
``sim.library`` (pyproject maps that package to the ``scenarios`` folder), so ``raftsim run`` with no file works
from a wheel as well as from a clone."""

from __future__ import annotations

from importlib import util
from pathlib import Path

DEFAULT_SCENARIO = "leader-crash.toml"


def library_dir() -> Path:
    """The folder of the bundled scenario files: the installed package, or else (Python started inside a
    source tree, which shadows the installed mapping) the checkout's own ``scenarios/``."""
    try:
        spec = util.find_spec("sim.library")  # a folder of data files: a namespace package, so no __init__.py
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "scenarios"


def default_scenario() -> Path:
    return library_dir() / DEFAULT_SCENARIO
