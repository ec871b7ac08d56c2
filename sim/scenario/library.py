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


def scenario_files(folder: Path) -> list[Path]:
    """Every scenario file under ``folder``, subfolders included (the library keeps ported test suites in
    folders of their own), in path order."""
    return sorted(folder.rglob("*.toml"), key=lambda p: p.relative_to(folder).parts)


def in_library(name: str) -> Path | None:
    """``name`` (a relative path such as ``mit-6.5840/`` or ``etcd/vote.toml``) inside the bundled library, if it
    is there: how a file that ships with the package is run from any folder."""
    if Path(name).is_absolute():
        return None
    path = library_dir() / name
    return path if path.exists() else None
