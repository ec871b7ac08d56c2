"""Linearizability checking of a client history against a sequential model.

The search is Wing & Gong's, with Lowe's memoization (G. Lowe, "Testing for linearizability", 2017), in the form
Porcupine's checker.go gives it (anishathalye/porcupine):

* The history is partitioned by key (P-compositionality: a history is linearizable iff each key's sub-history is)
  and each key checked on its own, in sorted key order.
* A key's definite (ok) operations become call and return entries in one doubly linked list sorted by time. The
  next operation to linearize may be any whose call comes before the first return still in the list: every
  operation returning before it has been linearized already, and its own interval overlaps all pending ones.
  Linearizing an operation the model accepts lifts its call and return out of the list (dancing links) and pushes
  it on a stack; a dead end pops the stack and unlifts, and the scan resumes after the undone call.
* A configuration is the set of linearized operations (bitsets, Python ints) and the model state; Lowe's
  memoization never searches a configuration twice, since what follows depends on nothing else.

Indefinite operations (info, or never completed) may take effect at any time after their invocation, or never:
they return at +infinity. Rather than putting infinite returns in the list, they sit in a second list in
invocation order, and are candidates once the main list's candidates are tried, if invoked by the time of its
first return. The search succeeds as soon as every definite operation is linearized: the indefinite operations
still pending are the ones that never took effect. ``fail`` operations and reads of unknown value are dropped
before the search: they did not happen, or constrain nothing. Two reductions, both sound because indefinite
operations are optional and never constrain others in real time:

* Subsumption, which generalizes the memoization: a configuration is not searched if one with the same definite
  operations and state and a subset of its indefinite operations was reached before (see ``_admit``).
* Twins: indefinite operations with the same ``f`` and value are used in invocation order (an earlier one can
  stand in for a later one wherever that one could go), so the search does not try each subset of them.

* Unobserved writes: on a key with no cas, an indefinite put or append whose value no ok get shows (as the value
  read, or within it: appends concatenate) is left out (``_without_unobserved_writes``). Proof: a linearization
  without it extends to one with it (put it last); and in any linearization with it, the operations from it up
  to the next put are no gets (each would show its value) and no cas (there is none), so taking it out leaves
  one without it. Histories whose clients give up on many writes otherwise blow the search up: each unknown
  write may go anywhere after its call, or nowhere.

All assume what Porcupine's models assume: a model's step depends on the operation's ``f``, value and status
only. The search remains exponential in the worst case (the problem is NP-complete): proving a violation late in
a single-register history with many concurrent indefinite writes can exhaust the budget.

Real time: operation a precedes b iff ``a.complete < b.invoke``. Intervals are closed, as in Jepsen and Porcupine:
an invocation at the very instant another operation completes is concurrent with it (at equal times, calls sort
before returns).

The search is bounded by a deterministic count of steps (one step: one candidate tried, or one dead end), not by
wall time; a key whose search runs out is ``unknown``, never linearizable.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from .history import Operation, format_value
from .models import Model

__all__ = ["DEFAULT_BUDGET", "LinResult", "check", "describe_op"]

DEFAULT_BUDGET = 5_000_000


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f}"


def _short(value: object) -> str:
    text = format_value(value)
    return text if len(text) <= 60 else f"{text[:28]}...{text[-28:]}"


def describe_op(op: Operation, key: bool = True) -> str:
    """One line for a report: process, operation (with its key unless ``key`` is false), outcome, interval in ms.
    Long values are elided in the middle."""
    if op.f == "get":
        what = f"read {_short(op.value)}"
    elif op.f == "cas":
        what = f"cas {_short(op.value[0])} to {_short(op.value[1])}"
    else:
        what = f"{op.f} {_short(op.value)}"
    if key and op.key is not None:
        what = f"{what} at key {_short(op.key)}"
    span = (
        f"[{_ms(op.invoke)}, {_ms(op.complete)}] ms"
        if op.complete is not None
        else f"[{_ms(op.invoke)} ms, never completed]"
    )
    return f"process {op.process}: {what}, {op.status} {span}"


@dataclass(frozen=True)
class LinResult:
    """The verdict on a history (``ok``, ``violation`` or ``unknown``), with the evidence for a violation.

    For ``violation`` (and ``unknown``, as far as the search got), ``key`` is the key whose sub-history failed,
    ``prefix`` the longest linearizable prefix of it that the search found (in linearization order), ``state`` the
    model state after that prefix (described), and ``stuck`` the operations that could have come next there yet
    none of which the model accepts (or whose every continuation dead-ends). ``steps`` counts search steps over
    all keys checked.
    """

    verdict: str
    steps: int
    model: str
    operations: int
    keys: int
    key: str | None = None
    prefix: tuple[Operation, ...] = ()
    stuck: tuple[Operation, ...] = ()
    state: str | None = None
    budget: int = DEFAULT_BUDGET
    blocking: Operation | None = None

    def summary(self) -> str:
        """One line."""
        if self.verdict == "ok":
            return (
                f"linearizable ({self.model} model): {self.operations} operations, {self.keys} "
                f"key{'s' if self.keys != 1 else ''}, {self.steps} search steps"
            )
        where = "" if self.key is None else f" at key {format_value(self.key)}"
        if self.verdict == "unknown":
            return (
                f"unknown ({self.model} model): the search budget of {self.budget} steps ran out{where} "
                f"(raise it with --budget)"
            )
        return f"not linearizable ({self.model} model){where}"

    def report(self, tail: int = 20) -> str:
        """Readable multi-line text: the summary, and for a violation the prefix (its last ``tail`` operations),
        state and stuck operations."""
        lines = [self.summary()]
        if self.verdict == "ok":
            return "\n".join(lines)
        if self.verdict == "unknown":
            lines.append(f"the deepest point of the search had linearized {len(self.prefix)} operations")
            return "\n".join(lines)
        shown = max(0, len(self.prefix) - tail)
        more = f"; the last {tail} shown" if shown else ""
        lines.append(f"longest linearizable prefix found ({len(self.prefix)} operations{more}):")
        lines += [f"  {n}. {describe_op(op, key=False)}" for n, op in enumerate(self.prefix[shown:], start=shown + 1)]
        lines += [] if self.prefix else ["  (none)"]
        lines.append(f"state after it: {self.state}")
        lines.append("operations that cannot be linearized next:")
        for op in self.stuck:
            must = "  <- must take effect by its completion" if op is self.blocking else ""
            lines.append(f"  {describe_op(op, key=False)}{must}")
        lines.append(f"search steps: {self.steps}")
        return "\n".join(lines)


@dataclass(slots=True)
class _KeyOutcome:
    verdict: str
    steps: int
    prefix: tuple[Operation, ...] = ()
    stuck: tuple[Operation, ...] = ()
    blocking: Operation | None = None
    state: object = None


def _key_order(key: str | None) -> tuple[bool, str]:
    return (key is not None, key or "")


def check(ops: Iterable[Operation], model: Model, budget: int = DEFAULT_BUDGET) -> LinResult:
    """Whether the history ``ops`` is linearizable with respect to ``model``.

    Keys are checked in sorted order (None first); the first key found not linearizable ends the check with
    ``violation``, and a key whose search exhausts what is left of ``budget`` ends it with ``unknown``. Raises
    ValueError if ``model`` cannot interpret an operation.
    """
    ops = list(ops)
    by_key: dict[str | None, list[Operation]] = {}
    for op in ops:
        problem = model.validate(op)
        if problem is not None:
            raise ValueError(f"{describe_op(op)}: {problem}")
        if op.status == "fail" or (op.f == "get" and op.status == "info"):
            continue
        by_key.setdefault(op.key, []).append(op)
    for key, key_ops in by_key.items():
        by_key[key] = _without_unobserved_writes(key_ops, model)
    keys = sorted(by_key, key=_key_order)
    common = {"model": model.name, "operations": len(ops), "keys": len({op.key for op in ops}), "budget": budget}
    steps = 0
    for key in keys:
        outcome = _check_key(by_key[key], model, budget - steps)
        steps += outcome.steps
        if outcome.verdict != "ok":
            return LinResult(
                outcome.verdict,
                steps,
                key=key,
                prefix=outcome.prefix,
                stuck=outcome.stuck,
                state=model.describe(outcome.state),
                blocking=outcome.blocking,
                **common,
            )
    return LinResult("ok", steps, **common)


def _without_unobserved_writes(ops: list[Operation], model: Model) -> list[Operation]:
    """One key's operations without the indefinite writes that nothing observed (see the module docstring). With
    the key/value model a value counts as observed when it is part of a value read (appends concatenate, and a
    put's value is the start of what later reads show until the next put); with the register, when it was read.
    Any cas on the key (it compares the state, so a write it followed could have made it fail) keeps them all."""
    if any(op.f == "cas" for op in ops):
        return ops
    reads = [op.value for op in ops if op.f == "get" and op.status == "ok"]
    if model.name == "kv":

        def observed(value: Any) -> bool:
            return any(isinstance(read, str) and str(value) in read for read in reads)
    else:

        def observed(value: Any) -> bool:
            return any(read == value for read in reads)

    return [op for op in ops if op.status == "ok" or op.f not in ("put", "append") or observed(op.value)]


_invoke = attrgetter("invoke")


def _check_key(ops: list[Operation], model: Model, budget: int) -> _KeyOutcome:
    """Wing & Gong search with Lowe's memoization over one key's operations (see the module docstring).

    Operation ids: the d definite operations 0..d-1 in invocation order, then the indefinite ones d..n-1. Main list
    nodes: head 0, the call of definite op i is 2i+1 and its return 2i+2, tail 2d+1 (never reached: every call in
    the list has its return after it). Indefinite list nodes: the op ids, head n, tail n+1.
    """
    definite = [op for op in ops if op.status == "ok"]
    indefinite = [op for op in ops if op.status != "ok"]
    d = len(definite)
    if d == 0:
        return _KeyOutcome("ok", 0)
    definite.sort(key=_invoke)  # stable, as the ids' order must be: equal invocations keep the history's order
    indefinite.sort(key=_invoke)
    allops = definite + indefinite
    n = len(allops)

    time_at = [0] * (2 * d + 2)  # per node: the invocation time of a call, the completion time of a return
    for i, op in enumerate(definite):
        assert op.complete is not None  # ok operations have completed
        time_at[2 * i + 1] = op.invoke
        time_at[2 * i + 2] = op.complete
    # The main list in time order, calls before returns at equal times and each kind in node order: all the calls,
    # then all the returns, sorted stably by time alone (the key a C method: a Python function building
    # (time, kind, node) per node cost more than the rest of setting up the search).
    order = sorted([*range(1, 2 * d + 1, 2), *range(2, 2 * d + 1, 2)], key=time_at.__getitem__)
    tail = 2 * d + 1
    nxt = [0] * (2 * d + 2)
    prv = [0] * (2 * d + 2)
    _link([0, *order, tail], nxt, prv)

    ihead, itail = n, n + 1
    inxt = [0] * (n + 2)
    iprv = [0] * (n + 2)
    _link([ihead, *range(d, n), itail], inxt, iprv)
    invoked_at = [op.invoke for op in allops] + [0, float("inf")]
    # Indefinite twins (same f and value: the model cannot tell them apart) are interchangeable, but for their
    # invocation times: an earlier twin can stand in for a later one anywhere. So the search uses twins in
    # invocation order only: op i waits for twin[i], the bit of the twin before it (-1: none), to be linearized.
    twin = [-1] * n
    last: dict[tuple[str, object], int] = {}
    for i in range(d, n):
        content = (allops[i].f, allops[i].value)
        twin[i] = last.get(content, -1)
        last[content] = i - d

    step = model.step
    state = model.init
    # The configuration: the model state, and the operations linearized. The definite ones as a window: every
    # op < base is linearized, and bit j of window says whether op base + j is (base advances past the front so
    # the ints stay as small as the concurrency); the indefinite ones as a bitset, bit i - d for op i.
    base = 0
    window = 0
    lin_i = 0
    memo: dict[tuple[int, int, object], list[int]] = {(0, 0, state): [0]}
    # The ops linearized, in order, as a linked list (op id, the ones before) that a dead end can keep for free.
    path: tuple[int, Any] | None = None
    stack: list[tuple[Any, ...]] = []  # (op id, and before it: state, bound, base, window, lin_i, path)
    left = d
    steps = 0
    best = -1
    best_path = path
    best_stuck: list[int] = []
    best_blocking = 0
    best_state = state

    node = nxt[0]  # cursor in the main list
    inode = itail  # cursor in the indefinite list, used once the main list's candidates are exhausted
    bound = 0.0  # time of the first return in the main list, when scanning the indefinite list
    scanning_main = True
    while True:
        if steps >= budget:
            verdict = "unknown"
            break
        steps += 1
        if scanning_main:
            if node & 1:  # a call: try to linearize its operation next
                i = node >> 1
                ok, new = step(state, allops[i])
                if ok:
                    w = window | (1 << (i - base))
                    b = base
                    if i == base:  # the front advances past the run of linearized ops
                        shift = (~w & (w + 1)).bit_length() - 1
                        w >>= shift
                        b += shift
                    if _admit(memo, (b, w, new), lin_i):
                        stack.append((i, state, bound, base, window, lin_i, path))
                        path = (i, path)
                        state = new
                        base = b
                        window = w
                        ret = node + 1
                        p, q = prv[node], nxt[node]
                        nxt[p] = q
                        prv[q] = p
                        p, q = prv[ret], nxt[ret]
                        nxt[p] = q
                        prv[q] = p
                        left -= 1
                        if not left:
                            verdict = "ok"
                            break
                        node = nxt[0]
                        continue
                node = nxt[node]
                continue
            bound = time_at[node]  # the first return: the main list holds no more candidates
            inode = inxt[ihead]
            scanning_main = False
            continue
        if invoked_at[inode] <= bound:  # an indefinite operation invoked by then
            i = inode
            t = twin[i]
            if t >= 0 and not lin_i >> t & 1:
                inode = inxt[inode]
                continue
            ok, new = step(state, allops[i])
            if ok:
                li = lin_i | (1 << (i - d))
                if _admit(memo, (base, window, new), li):
                    stack.append((i, state, bound, base, window, lin_i, path))
                    path = (i, path)
                    state = new
                    lin_i = li
                    p, q = iprv[i], inxt[i]
                    inxt[p] = q
                    iprv[q] = p
                    node = nxt[0]
                    scanning_main = True
                    continue
            inode = inxt[inode]
            continue
        # Dead end: no candidate leads anywhere new. Remember the deepest one, then backtrack.
        if len(stack) > best:
            best = len(stack)
            best_path = path
            best_state = state
            best_stuck, best_blocking = _candidates(nxt, inxt, ihead, invoked_at, bound)
        if not stack:
            verdict = "violation"
            break
        i, state, bound, base, window, lin_i, path = stack.pop()
        if i < d:
            call = 2 * i + 1
            ret = call + 1
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[call]] = call
            prv[nxt[call]] = call
            left += 1
            node = nxt[call]
            scanning_main = True
        else:
            inxt[iprv[i]] = i
            iprv[inxt[i]] = i
            inode = inxt[i]
    if verdict == "ok":
        return _KeyOutcome("ok", steps)
    prefix = []
    while best_path is not None:
        i, best_path = best_path
        prefix.append(allops[i])
    return _KeyOutcome(
        verdict,
        steps,
        prefix=tuple(reversed(prefix)),
        stuck=tuple(allops[i] for i in best_stuck),
        blocking=allops[best_blocking],
        state=best_state,
    )


def _admit(memo: dict[tuple[int, int, object], list[int]], key: tuple[int, int, object], lin_i: int) -> bool:
    """Record the configuration (``key``, ``lin_i``) and say whether it is worth searching.

    It is not if a configuration with the same definite operations and state, and a subset of its indefinite
    operations, was reached before: having linearized more of the optional operations only removes choices, so
    whatever completes this one completes that one too (Lowe's memoization is the case of equal sets). ``memo``
    keeps, per key, the minimal sets seen (an antichain).
    """
    seen = memo.get(key)
    if seen is None:
        memo[key] = [lin_i]
        return True
    for s in seen:
        if s | lin_i == lin_i:
            return False
    seen[:] = [s for s in seen if s & lin_i != lin_i]
    seen.append(lin_i)
    return True


def _link(chain: list[int], nxt: list[int], prv: list[int]) -> None:
    """Make ``chain`` a doubly linked list in ``nxt``/``prv``."""
    for a, b in itertools.pairwise(chain):
        nxt[a] = b
        prv[b] = a


def _candidates(
    nxt: list[int], inxt: list[int], ihead: int, invoked_at: list[float], bound: float
) -> tuple[list[int], int]:
    """The operations that may be linearized next (calls before the first return, then indefinite operations
    invoked by then), and the operation of that first return."""
    out = []
    node = nxt[0]
    while node & 1:
        out.append(node >> 1)
        node = nxt[node]
    blocking = (node - 1) >> 1
    inode = inxt[ihead]
    while invoked_at[inode] <= bound:
        out.append(inode)
        inode = inxt[inode]
    return out, blocking
