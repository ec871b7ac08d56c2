"""Campaigns: the case of each seed, and many seeds in parallel processes or on Dask."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.fuzz.case import Case, Outcome, run_case
from sim.fuzz.draw import RandomDraw, draw_case
from sim.rng import stream


@dataclass(frozen=True)
class Options:
    """What, besides the seed, determines a campaign's cases."""

    nodes: int = 5
    bug: str | None = None
    families: tuple[str, ...] | None = None
    max_duration_ms: int = 3_000
    fifo: bool = False  # every case's links deliver in send order (NetworkConfig.fifo); draws nothing


def case_for_seed(seed: int, options: Options = Options()) -> Case:
    """The case of one seed: a pure function of (seed, options)."""
    d = RandomDraw(stream(seed, "fuzz"))
    return draw_case(d, seed, options.nodes, options.bug, options.families, options.max_duration_ms, options.fifo)


def run_seed(seed: int, options: Options = Options(), digest: bool = False) -> Outcome:
    return run_case(case_for_seed(seed, options), digest=digest)[0]


def run_seed_checked(seed: int, options: Options) -> Outcome:
    """Run twice with traces on; a different trace digest is reported as the property ``Determinism``."""
    first = run_seed(seed, options, digest=True)
    second = run_seed(seed, options, digest=True)
    if first.digest != second.digest or first.property != second.property:
        return Outcome(seed, "Determinism", f"trace digests differ: {first.digest[:16]} vs {second.digest[:16]}")
    return first


def _run_batch(seeds: Sequence[int], options: Options, check: bool) -> list[Outcome]:
    f = run_seed_checked if check else run_seed
    return [f(s, options) for s in seeds]


@dataclass
class Campaign:
    outcomes: list[Outcome] = field(default_factory=list)
    wall: float = 0.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    def by_property(self) -> Counter[str]:
        return Counter(o.property for o in self.failures if o.property)


def _batches(seeds: Iterator[int], size: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for s in seeds:
        batch.append(s)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_campaign(
    seeds: Iterable[int],
    options: Options = Options(),
    workers: int = 1,
    scheduler: str | None = None,
    check_determinism: bool = False,
    deadline: float | None = None,
    progress: Callable[[Outcome], None] | None = None,
    stop_after_failures: int | None = None,
) -> Campaign:
    """Run seeds (serially, in ``workers`` processes, or on a Dask cluster). Outcomes come back in seed order and
    are identical whichever way they ran; ``deadline`` (a ``time.monotonic()`` value) stops handing out seeds."""
    start = time.monotonic()
    camp = Campaign()
    failures = 0

    def take(outs: Iterable[Outcome]) -> bool:
        nonlocal failures
        for o in outs:
            camp.outcomes.append(o)
            failures += o.failed
            if progress:
                progress(o)
            if stop_after_failures is not None and failures >= stop_after_failures:
                return False
        return not (deadline is not None and time.monotonic() >= deadline)

    it = iter(seeds)
    if scheduler is not None:
        _campaign_dask(it, options, scheduler, check_determinism, take)
    elif workers <= 1:
        for batch in _batches(it, 1):
            if not take(_run_batch(batch, options, check_determinism)):
                break
    else:
        _campaign_pool(it, options, workers, check_determinism, take)
    camp.wall = time.monotonic() - start
    return camp


def _campaign_pool(
    seeds: Iterator[int], options: Options, workers: int, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    batch = 4
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: list[Any] = []
        batches = _batches(seeds, batch)
        # Keep a bounded window of batches in flight and consume them in submission (= seed) order.
        for b in batches:
            pending.append(pool.submit(_run_batch, b, options, check))
            if len(pending) >= workers * 4:
                break
        while pending:
            fut = pending.pop(0)
            if not take(fut.result()):
                for p in pending:
                    p.cancel()
                return
            nxt = next(batches, None)
            if nxt is not None:
                pending.append(pool.submit(_run_batch, nxt, options, check))


def _campaign_dask(
    seeds: Iterator[int], options: Options, address: str, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - depends on the install
        from sim.errors import UsageError

        raise UsageError("--scheduler: needs dask[distributed] (pip install 'raftsim[dask]')") from e
    from sim.errors import UsageError

    try:
        client = Client(address, timeout="10s") if isinstance(address, str) else Client(address)
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"--scheduler: cannot connect to {address}: {e}") from None
    try:
        _dask_loop(client, seeds, options, check, take)
    finally:
        client.close()


def _dask_loop(
    client: Any, seeds: Iterator[int], options: Options, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    batches = _batches(seeds, 8)
    window = max(4, 4 * sum(client.nthreads().values()))
    pending = [client.submit(_run_batch, b, options, check, pure=False) for b in _take_n(batches, window)]
    while pending:
        fut = pending.pop(0)
        if not take(fut.result()):
            client.cancel(pending)
            return
        nxt = next(batches, None)
        if nxt is not None:
            pending.append(client.submit(_run_batch, nxt, options, check, pure=False))


def _take_n(it: Iterator[list[int]], n: int) -> list[list[int]]:
    out = []
    for b in it:
        out.append(b)
        if len(out) >= n:
            break
    return out
