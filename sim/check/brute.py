"""A slow, obviously correct linearizability check, for cross-checking ``linearizability.check`` in tests.

It follows the definition directly, over the whole history at once (no partition by key, no memoization): the
history is linearizable iff some sequence of its operations

* holds every definite (ok) operation exactly once, and any subset of the indefinite ones (info: each either took
  effect or did not),
* respects real time: if a precedes b (``a.complete < b.invoke``; an indefinite operation completes at infinity,
  so it precedes nothing) and both are in the sequence, a comes first,
* is accepted by the model applied to each key's own state, in sequence order.

Fail operations and reads of unknown value are left out first, as they did not happen or constrain nothing. The
sequences are enumerated one position at a time, abandoning a prefix as soon as the model rejects it; the count of
sequences is factorial, so histories must be small (up to about eight operations).
"""

from __future__ import annotations

from collections.abc import Iterable

from .history import Operation
from .models import Model

__all__ = ["brute_force_linearizable"]


def _precedes(a: Operation, b: Operation) -> bool:
    return a.complete is not None and a.complete < b.invoke


def brute_force_linearizable(ops: Iterable[Operation], model: Model) -> bool:
    """True iff ``ops`` is linearizable with respect to ``model`` (applied per key)."""
    ops = [op for op in ops if op.status != "fail" and not (op.f == "get" and op.status == "info")]

    def extend(remaining: list[Operation], states: dict[str | None, object]) -> bool:
        if all(op.status != "ok" for op in remaining):
            return True  # every definite operation is placed; the remaining indefinite ones never took effect
        for op in remaining:
            others = [o for o in remaining if o is not op]
            if any(_precedes(o, op) for o in others):
                continue  # an operation that must come before op is not placed yet
            ok, new = model.step(states.get(op.key, model.init), op)
            if ok and extend(others, {**states, op.key: new}):
                return True
        return False

    return extend(ops, {})
