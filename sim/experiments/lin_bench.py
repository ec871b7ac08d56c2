"""Benchmark of the linearizability checker on realistic, linearizable histories.

The histories come from simulating a correct atomic store under concurrent clients: each client issues one
operation at a time, after a random think time, with a random latency; the operation takes effect at a random
instant inside its interval, and the store applies the effects in the order of those instants, which makes the
recorded results linearizable by construction. An indefinite operation is one whose client gives up (a timeout):
it took effect or not, by a coin flip, and is recorded as ``info``; like a Jepsen client, the process is then
replaced by a new one (process number + clients).

``measure()`` times ``check`` (median of three runs) on a 10,000-operation key/value history over 10 keys and 10
clients and on a 1,000-operation cas-register history by 10 clients with 10% indefinite operations.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.check.history import Operation
from sim.check.linearizability import check
from sim.check.models import CAS_REGISTER, KV, Model

__all__ = ["generate_kv_history", "generate_register_history", "main", "measure"]

MS = 1_000_000  # nanoseconds
THINK_MEAN = 0.3 * MS
LATENCY_MEDIAN = 2 * MS
TIMEOUT = 10 * MS


@dataclass(slots=True)
class _Call:
    process: int
    f: str
    key: str | None
    argument: Any
    invoke: int
    complete: int | None  # None: the client gave up
    effect: int | None  # when the store applies it; None: never


def _schedule(
    rng: random.Random,
    ops: int,
    clients: int,
    indefinite: float,
    choose: Callable[[random.Random, int], tuple[str, str | None, Any]],
) -> list[_Call]:
    """``ops`` calls by ``clients`` concurrent clients, each with its interval and its instant of effect."""
    free_at = [0] * clients
    process = list(range(clients))
    calls = []
    for n in range(ops):
        c = min(range(clients), key=lambda i: (free_at[i], i))  # the next client ready to issue a call
        invoke = free_at[c] + int(rng.expovariate(1 / THINK_MEAN))
        f, key, argument = choose(rng, n)
        if rng.random() < indefinite:
            gave_up = invoke + TIMEOUT
            effect = invoke + rng.randrange(TIMEOUT * 3 // 2) if rng.random() < 0.5 else None
            calls.append(_Call(process[c], f, key, argument, invoke, None, effect))
            process[c] += clients
            free_at[c] = gave_up
        else:
            complete = invoke + 1 + int(rng.lognormvariate(0, 0.6) * LATENCY_MEDIAN)
            calls.append(_Call(process[c], f, key, argument, invoke, complete, rng.randint(invoke, complete)))
            free_at[c] = complete
    return calls


def _record(calls: list[_Call], model: Model) -> list[Operation]:
    """Apply the calls' effects to a correct store in effect order; the history the clients observe."""
    states: dict[str | None, Any] = {}
    result: dict[int, tuple[bool, Any]] = {}  # call index -> (took effect as asked, value read)
    applied = sorted((c.effect, n) for n, c in enumerate(calls) if c.effect is not None)
    for _, n in applied:
        c = calls[n]
        state = states.get(c.key, model.init)
        if c.f == "get":
            result[n] = (True, state)
        elif c.f == "put":
            states[c.key] = c.argument
        elif c.f == "append":
            states[c.key] = state + c.argument
        else:
            expected, new = c.argument
            result[n] = (state == expected, None)
            if state == expected:
                states[c.key] = new
    history = []
    for n, c in enumerate(calls):
        if c.complete is None:
            value = None if c.f == "get" else c.argument
            history.append(Operation(c.process, c.f, c.key, value, "info", c.invoke, None))
        elif c.f == "get":
            history.append(Operation(c.process, c.f, c.key, result[n][1], "ok", c.invoke, c.complete))
        else:
            status = "fail" if c.f == "cas" and not result[n][0] else "ok"
            history.append(Operation(c.process, c.f, c.key, c.argument, status, c.invoke, c.complete))
    return history


def generate_kv_history(
    ops: int = 10_000, keys: int = 10, clients: int = 10, seed: int = 1, indefinite: float = 0.0
) -> list[Operation]:
    """A linearizable key/value history in the style of MIT 6.5840's lab: get, put and append over ``keys`` keys."""
    rng = random.Random(seed)
    names = [f"k{k}" for k in range(keys)]

    def choose(rng: random.Random, n: int) -> tuple[str, str | None, Any]:
        key = rng.choice(names)
        r = rng.random()
        if r < 0.45:
            return "get", key, None
        if r < 0.6:
            return "put", key, f"v{n}"
        return "append", key, f"x{n};"

    return _record(_schedule(rng, ops, clients, indefinite, choose), KV)


def generate_register_history(
    ops: int = 1_000, clients: int = 10, indefinite: float = 0.10, seed: int = 1
) -> list[Operation]:
    """A linearizable single-register history as Jepsen's cas-register test makes: read, write and cas of small
    integers (0-4), so that values repeat."""
    rng = random.Random(seed)

    def choose(rng: random.Random, n: int) -> tuple[str, str | None, Any]:
        r = rng.random()
        if r < 0.4:
            return "get", None, None
        if r < 0.7:
            return "put", None, rng.randrange(5)
        return "cas", None, (rng.randrange(5), rng.randrange(5))

    return _record(_schedule(rng, ops, clients, indefinite, choose), CAS_REGISTER)


def _time_check(history: list[Operation], model: Model, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = check(history, model)
        times.append(time.perf_counter() - start)
        if result.verdict != "ok":
            raise RuntimeError(f"a generated history is not found linearizable:\n{result.report()}")
    return statistics.median(times)


def measure(seed: int = 1) -> dict[str, float]:
    """Seconds to check each benchmark history (median of three), and microseconds per operation for the kv one."""
    kv = generate_kv_history(seed=seed)
    register = generate_register_history(seed=seed)
    kv_s = _time_check(kv, KV)
    register_s = _time_check(register, CAS_REGISTER)
    return {"kv_10000_ops_s": kv_s, "register_1000_ops_s": register_s, "us_per_op_kv": kv_s / len(kv) * 1e6}


def main() -> None:
    for name, value in measure().items():
        print(f"{name}: {value:.4f}")


if __name__ == "__main__":
    main()
