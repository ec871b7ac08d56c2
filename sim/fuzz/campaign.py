"""Campaigns: the case of each seed, and many seeds in parallel processes or on Dask."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.fuzz.case import Case, Outcome, run_case
from sim.fuzz.draw import RandomDraw, draw_case
from sim.rng import stream
from sim.world.cluster import cyclic_gc_off

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess


@dataclass(frozen=True)
class Options:
    """What, besides the seed, determines a campaign's cases."""

    nodes: int | None = None  # None: drawn per seed (3, 5 or 7)
    bug: str | None = None
    families: tuple[str, ...] | None = None
    max_duration_ms: int = 3_000
    fifo: bool = False  # every case's links deliver in send order (NetworkConfig.fifo); draws nothing
    node: str | None = None  # another implementation (examples/CONTRACT.md): a Python class "module:Class"
    node_cmd: str | None = None  # or a command run as one process per server


def case_for_seed(seed: int, options: Options = Options()) -> Case:
    """The case of one seed: a pure function of (seed, options)."""
    d = RandomDraw(stream(seed, "fuzz"))
    return draw_case(
        d,
        seed,
        options.nodes,
        options.bug,
        options.families,
        options.max_duration_ms,
        options.fifo,
        options.node,
        options.node_cmd,
    )


def run_seed(seed: int, options: Options = Options(), digest: bool = False) -> Outcome:
    """The outcome of one seed's case. Its run is freed at once (``Simulation.dispose``) with the cyclic garbage
    collector still off, as ``run_case`` keeps it for the run: turned back on before, the collector would scan
    every object the run made, all still alive, at the first allocation (it counts them as allocated since its
    last collection, and no longer once freed)."""
    with cyclic_gc_off():
        outcome, sim = run_case(case_for_seed(seed, options), digest=digest)
        sim.dispose()
    return outcome


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
    outcomes: list[Outcome] = field(default_factory=list)  # the seeds that finished, a prefix of the seeds in order
    wall: float = 0.0
    interrupted: bool = False  # stopped by Ctrl-C (KeyboardInterrupt); ``outcomes`` holds what finished before

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
    are identical whichever way they ran; ``deadline`` (a ``time.monotonic()`` value) stops handing out seeds, and
    ``stop_after_failures`` stops at that many failing seeds (in seed order, so the same ones under any workers).

    Ctrl-C ends the campaign, not the caller: it returns with ``interrupted`` set, the outcomes of the seeds that
    finished before (in order, without gaps, so the first seed not among them is where a resumed campaign starts),
    and no worker process left behind."""
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
    try:
        if scheduler is not None:
            _campaign_dask(it, options, scheduler, check_determinism, take)
        elif workers <= 1:
            for batch in _batches(it, 1):
                if not take(_run_batch(batch, options, check_determinism)):
                    break
        else:
            _campaign_pool(it, options, workers, check_determinism, take)
    except KeyboardInterrupt:
        camp.interrupted = True
    camp.wall = time.monotonic() - start
    return camp


# Seeds per message to a worker process: enough to make the pipe's cost negligible, few enough that an interrupted
# campaign loses little work.
POOL_BATCH = 4


def _pool_worker(conn: Connection, options: Options, check: bool) -> None:
    """A worker process: runs each batch of seeds it receives and sends back its outcomes, until it is terminated
    (or the parent closes its end of the pipe).

    Ctrl-C is the parent's alone: a terminal sends SIGINT to the whole process group, and a worker interrupted
    at a random point (inside a pipe read, a fork handler, a lock) is how pools hang. The parent starts workers
    with SIGINT blocked, so none arrives before it is ignored here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    while True:
        try:
            batch = conn.recv()
        except EOFError:  # the parent closed its end
            return
        conn.send(_run_batch(batch, options, check))


def _campaign_pool(
    seeds: Iterator[int], options: Options, workers: int, check: bool, take: Callable[[Iterable[Outcome]], bool]
) -> None:
    """Batches of seeds on ``workers`` processes, each with a pipe of its own, and their outcomes taken in seed
    order. No queue, lock or thread is shared with the workers, so terminating them at any moment (at the end,
    on an early stop, on Ctrl-C) is safe and bounded."""
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    procs: dict[Connection, BaseProcess] = {}
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for _ in range(workers):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=_pool_worker, args=(theirs, options, check), daemon=True)
                procs[mine] = proc
                proc.start()
                theirs.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a Ctrl-C meanwhile is raised here
        batches = _batches(seeds, POOL_BATCH)
        window = 4 * workers  # batches handed out beyond the next one to take: bounds the outcomes held back
        running: dict[Connection, tuple[int, list[int]]] = {}  # worker -> (batch number, seeds) it is running
        done: dict[int, list[Outcome]] = {}  # batches finished out of order, waiting for earlier ones
        sent = taken = 0
        while True:
            for conn in procs:
                if conn not in running and sent < taken + window and (batch := next(batches, None)) is not None:
                    conn.send(batch)
                    running[conn] = (sent, batch)
                    sent += 1
            if not running:
                return
            ready = wait(list(running))
            for conn in [c for c in procs if c in ready]:
                number, batch = running.pop(conn)
                try:
                    done[number] = conn.recv()
                except EOFError:
                    proc = procs[conn]
                    proc.join(1.0)
                    raise RuntimeError(
                        f"fuzz worker process {proc.pid} died (exit code {proc.exitcode}) running seeds {batch}"
                    ) from None
            while taken in done:
                if not take(done.pop(taken)):
                    return
                taken += 1
    finally:
        _stop(list(procs.values()))
        for conn in procs:
            conn.close()


def _stop(procs: Sequence[BaseProcess]) -> None:
    """Terminate worker processes and reap them, within about a second even if one does not die of SIGTERM."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    until = time.monotonic() + 1.0
    for proc in procs:
        proc.join(max(0.0, until - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()


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
