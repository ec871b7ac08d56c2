"""Sequential specifications as pure values, in the style of Porcupine's ``Model`` (anishathalye/porcupine).

A model is an initial state and a pure ``step(state, op) -> (ok, new_state)`` that says whether ``op`` with its
recorded outcome is legal in ``state`` and, if so, the state after it; ``step`` looks at the operation's ``f``,
``value`` and ``status`` only (never its process or times). States are hashable and cheap (the checker memoizes on
them). The checker partitions a history by key first (P-compositionality), so a model only ever sees
the operations of one key: both models here are models of a single register.

What reaches ``step``: ``ok`` operations, and ``info`` ones other than reads (outcome unknown: the checker may also
leave them out entirely, which is how "it never took effect" is covered). ``fail`` operations and reads of unknown
value never do: they constrain nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sim.raft.kv import step as kv_step

from .history import Operation, format_value

__all__ = ["CAS_REGISTER", "KV", "MODELS", "Model"]


@dataclass(frozen=True, slots=True)
class Model:
    """A sequential specification: ``init``, a pure ``step``, ``describe`` for reports, and ``validate``.

    ``validate(op)`` returns None when the model can interpret ``op``, else why not (e.g. an append on a register).
    """

    name: str
    init: Hashable
    step: Callable[[Any, Operation], tuple[bool, Any]]
    describe: Callable[[Any], str]
    validate: Callable[[Operation], str | None]


def _register_step(state: Any, op: Operation) -> tuple[bool, Any]:
    """A register holding any value, initially None (nil), with get, put and cas.

    An ok cas succeeds only from its expected value. An info cas took effect in the one way it can from ``state``:
    swapping in the new value if ``state`` is the expected one, else as a failed comparison, a no-op.
    """
    f = op.f
    if f == "get":
        return state == op.value, state
    if f == "put":
        return True, op.value
    if f == "cas":
        expected, new = op.value
        if state == expected:
            return True, new
        return op.status == "info", state
    return False, state


def _register_validate(op: Operation) -> str | None:
    if op.f == "append":
        return "the cas-register model has no append (use the kv model)"
    return None


def _kv_step(state: str, op: Operation) -> tuple[bool, str]:
    """One key of a key/value store: a string, "" until first written; get, put, append (concatenation) and cas,
    with exactly the semantics of the simulator's own store (``sim.raft.kv.step``).

    An ok get of nil is a read of a missing key, that is of "" (as the MIT 6.5840 service and Porcupine's kv model
    define it). An ok cas must succeed from ``state``; an info cas took effect in the one way it can from ``state``
    (swapped, or a failed comparison: a no-op).
    """
    f = op.f
    if f == "get":
        value = op.value
        return state == ("" if value is None else value), state
    if f == "cas":
        expected, new = op.value
        result, after = kv_step(state, "cas", new, expected)
        if result is None:
            return op.status == "info", state
        return True, after
    return True, kv_step(state, f, op.value)[1]


def _kv_validate(op: Operation) -> str | None:
    # Asked of every operation of every history judged: no generator over a one-element tuple for the common case.
    value = op.value
    if op.f == "cas":
        expected, new = value  # an Operation's cas value is a pair
        if isinstance(expected, str) and isinstance(new, str):
            return None
    elif isinstance(value, str) or (value is None and op.f == "get"):
        return None
    return f"the kv model needs string values, got {format_value(op.value)}"


def _describe_register(state: Any) -> str:
    return format_value(state)


def _describe_kv(state: str) -> str:
    if len(state) <= 120:
        return format_value(state)
    return f"{format_value(state[:50])}...{format_value(state[-50:])} ({len(state)} characters)"


CAS_REGISTER = Model("cas-register", None, _register_step, _describe_register, _register_validate)
KV = Model("kv", "", _kv_step, _describe_kv, _kv_validate)
MODELS = {m.name: m for m in (CAS_REGISTER, KV)}
