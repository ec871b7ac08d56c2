"""Output paths, checked before a run starts: a bad ``--plot``, ``--trace`` or ``--out`` is one line and exit
code 2 at once, never a traceback after a long run. Parent folders are never created silently: a missing one is
refused, with its name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sim.errors import UsageError


def _writable_parent(flag: str, path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise UsageError(
            f"{flag}: expected an existing folder for {path}, but {parent}/ does not exist (create it first)"
        )
    if not parent.is_dir():
        raise UsageError(f"{flag}: expected a folder for {path}, but {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag}: expected a folder we may write into, but {parent}/ is not writable")


def output_file(flag: str, value: str, suffixes: Sequence[str]) -> Path:
    """A file the command will write: its name must end in one of ``suffixes`` (e.g. ``(".png", ".svg")``), it must
    not be a folder, and its folder must exist and be writable (an existing file must be writable too)."""
    path = Path(value)
    if path.is_dir() or value.endswith(("/", os.sep)):
        raise UsageError(f"{flag}: expected a file name ending in {_choices(suffixes)}, got the folder {value}")
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{flag}: expected a file name ending in {_choices(suffixes)}, got {value}")
    _writable_parent(flag, path)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{flag}: expected a file we may write, but {value} is not writable")
    return path


def output_dir(flag: str, value: str, create: bool = True) -> Path:
    """A folder the command will write into: an existing folder, or a new one in an existing folder (created here
    when ``create``); never a file, never in a folder that does not exist."""
    path = Path(value)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{flag}: expected a folder, got the file {value}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{flag}: expected a folder we may write into, but {value} is not writable")
        return path
    _writable_parent(flag, path)
    if create:
        path.mkdir()
    return path


def _choices(suffixes: Sequence[str]) -> str:
    return suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
