"""The ``raftsim`` command.

Each subcommand lives in the module of its concern, which exposes ``register(subparsers)``: it adds its parser
and sets ``func`` to a function ``(args) -> exit code``. Modules keep heavy imports (matplotlib, Hypothesis, Dask)
inside those functions, so ``raftsim run`` starts quickly.

Exit codes: 0 success, 1 a failed invariant or expectation, 2 bad input (always a one-line message).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .errors import UsageError

__all__ = ["UsageError", "main"]

SUBCOMMAND_MODULES = ("sim.scenario.cli", "sim.fuzz.cli", "sim.check.cli", "sim.viz.cli", "sim.experiments.cli")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (``raftsim run: --seed: invalid int value: 'x'``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from sim import __version__

    parser = _Parser(prog="raftsim", description="Deterministic Raft simulator with fault injection.")
    parser.add_argument("--version", action="version", version=f"raftsim {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


class _ClosedPipeGuard:
    """Standard output that ends quietly when its reader goes away (``raftsim run FILE | head -1``): the first
    write to a closed pipe points the descriptor at /dev/null, so the run goes on and still writes every file it was
    asked for, and Python's own flush at exit finds nothing to complain about."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not isinstance(sys.stdout, _ClosedPipeGuard) and hasattr(sys.stdout, "fileno"):
        try:
            sys.stdout.fileno()
        except (OSError, ValueError):  # not a real file (pytest's capture): nothing to guard
            pass
        else:
            sys.stdout = _ClosedPipeGuard(sys.stdout)
    try:
        parser = build_parser()
    except KeyboardInterrupt:  # Ctrl-C while the subcommands load: as quiet as during a command, not a traceback
        print("interrupted", file=sys.stderr)
        return 130
    if not argv:
        argv = ["run"]  # the default scenario
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"raftsim {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Under ``python -m sim.cli`` this file runs as ``__main__``, a second copy of the module: call the real one, so
    # that UsageError raised by subcommand modules is the class ``main`` catches.
    from sim.cli import main as _main

    raise SystemExit(_main())
