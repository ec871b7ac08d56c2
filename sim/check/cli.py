"""``raftsim check-history FILE.edn``: check a Jepsen-format client history for linearizability.

Exit codes: 0 linearizable (one line), 1 not linearizable (the report), 3 unknown (the search budget ran out);
bad input raises UsageError, which the CLI reports as one line with exit code 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from sim.errors import UsageError
from sim.units import positive_int

from .history import read_edn
from .linearizability import DEFAULT_BUDGET, check
from .models import MODELS

__all__ = ["EXIT_CODES", "register", "run"]

EXIT_CODES = {"ok": 0, "violation": 1, "unknown": 3}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("check-history", help="check a Jepsen EDN client history for linearizability")
    p.add_argument("file", metavar="FILE.edn", help="a Jepsen history, one {:type ..., :f ..., ...} map per line")
    p.add_argument(
        "--model",
        choices=sorted(MODELS),
        default=None,
        help="sequential model (default: kv if any operation has a :key, else cas-register)",
    )
    p.add_argument(
        "--budget",
        type=positive_int,
        default=DEFAULT_BUDGET,
        help=f"search steps before giving up with 'unknown' (default {DEFAULT_BUDGET})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ops = read_edn(args.file)
    name = args.model or ("kv" if any(op.key is not None for op in ops) else "cas-register")
    try:
        result = check(ops, MODELS[name], budget=args.budget)
    except ValueError as e:
        raise UsageError(f"{args.file}: {e}") from None
    print(f"{args.file}: {result.summary()}" if result.verdict != "violation" else f"{args.file}: {result.report()}")
    return EXIT_CODES[result.verdict]
