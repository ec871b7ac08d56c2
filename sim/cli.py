"""The ``raftsim`` command.

Each subcommand lives in the module of its concern, which exposes ``register(subparsers)``: it adds its parser
and sets ``func`` to a function ``(args) -> exit code``. Modules keep heavy imports (matplotlib, Hypothesis, Dask)
inside those functions, so ``raftsim run`` starts quickly.

Exit codes: 0 success, 1 a failed invariant or expectation, 2 bad input (always a one-line message).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .errors import UsageError

__all__ = ["UsageError", "main"]

SUBCOMMAND_MODULES = ("sim.scenario.cli", "sim.fuzz.cli", "sim.viz.cli", "sim.experiments.cli")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (``raftsim run: --seed: invalid int value: 'x'``), exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="raftsim", description="Deterministic Raft simulator with fault injection.")
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
