"""Shrinking a failing case to a small one that fails with the same property."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sim.check.properties import LIVELOCK, LIVENESS
from sim.fuzz.case import MS, Case, Outcome, run_case
from sim.world.faults import Fault


def restrict(
    case: Case,
    keep: Sequence[bool] | None = None,
    duration: int | None = None,
    nodes: int | None = None,
    clients: int | None = None,
    rate: float | None = None,
    liveness: int | None = None,
) -> Case:
    """A sub-case: only the kept faults before the new duration, on the first ``nodes`` servers (faults naming
    others are dropped or narrowed), with fewer clients or a lower rate."""
    duration = case.duration if duration is None else duration
    nodes = case.cluster.nodes if nodes is None else nodes
    w = case.workload
    clients = w.clients if clients is None else clients
    rate = w.rate if rate is None else rate
    if clients == 0 or (rate <= 0 and w.mode == "open"):
        clients, rate = 0, 0.0
    faults: list[Fault] = []
    added: set[int] = set()  # servers kept add_server events boot: beyond ``nodes``, but there
    for i, f in enumerate(case.faults):
        if (keep is not None and not keep[i]) or f.at >= duration:
            continue
        if f.do == "add_server":
            assert isinstance(f.node, int)
            if f.node > case.cluster.nodes:
                added.add(f.node)
            elif f.node > nodes:
                continue  # adding back a server that is gone
        g = _narrow(f, nodes, added)
        if g is not None:
            faults.append(g)
    return Case(
        case.seed,
        replace(case.cluster, nodes=nodes),
        case.network,
        replace(w, clients=clients, rate=rate, stop=duration),
        tuple(faults),
        duration,
        case.liveness if liveness is None else liveness,
    )


def _narrow(f: Fault, nodes: int, added: Collection[int] = ()) -> Fault | None:
    """``f`` on a cluster of ``nodes`` servers (and the servers in ``added``, which add_server events boot), or None
    when it names only servers that are gone."""

    def there(n: int) -> bool:
        return n <= nodes or n in added

    if isinstance(f.node, int) and not there(f.node):
        return None
    if isinstance(f.node, tuple):
        kept = tuple(n for n in f.node if there(n))
        if not kept:
            return None
        f = replace(f, node=kept)
    if (f.src is not None and not there(f.src)) or (f.dst is not None and not there(f.dst)):
        return None
    if f.do == "partition":
        groups = tuple(g for g in (tuple(n for n in grp if there(n)) for grp in f.groups) if g)
        if not groups:
            return None
        f = replace(f, groups=groups)
    return f


@dataclass
class ShrinkResult:
    original: Case
    case: Case
    outcome: Outcome
    runs: int = 0  # cases run while shrinking
    greedy_size: tuple[int, int, int, int, float] | None = None  # size after the greedy pass
    hypothesis_improved: bool = False  # whether the Hypothesis pass found something smaller still


class _Shrinker:
    def __init__(self, case: Case, prop: str, max_runs: int) -> None:
        self.prop = prop
        self.best = case
        self.best_outcome: Outcome | None = None
        self.runs = 0
        self.max_runs = max_runs

    def fails(self, case: Case) -> bool:
        if self.runs >= self.max_runs:
            return False
        self.runs += 1
        out, _ = run_case(case)
        if out.property == self.prop:
            if case.size() < self.best.size():
                self.best, self.best_outcome = case, out
            return True
        return False

    def try_(self, case: Case) -> bool:
        return case.size() < self.best.size() and self.fails(case)

    def greedy(self) -> None:
        while True:
            before = self.best.size()
            self._cut_duration()
            self._drop_faults()
            self._fewer_nodes()
            self._lighter_load()
            if self.best.size() == before or self.runs >= self.max_runs:
                return

    def _cut_duration(self) -> None:
        c = self.best
        if self.prop not in (LIVENESS, LIVELOCK) and self.best_outcome is not None:
            # A safety violation at time t needs nothing after t: end the fault phase just after it, and the
            # liveness phase at once (events before t are unchanged, so this always reproduces).
            t = self.best_outcome.time
            d = min(c.duration, (t // (10 * MS) + 1) * 10 * MS)
            self.try_(restrict(c, duration=d, liveness=0)) or self.try_(restrict(c, liveness=0))
        c = self.best
        d = c.duration
        while d > 100 * MS:
            d = max(100 * MS, (d // 2) // (10 * MS) * 10 * MS)
            if not self.try_(restrict(self.best, duration=d)):
                break

    def _drop_faults(self) -> None:
        # Delta debugging: drop chunks, halving the chunk size down to single events.
        chunk = max(1, len(self.best.faults) // 2)
        while chunk >= 1:
            i = 0
            while i < len(self.best.faults):
                n = len(self.best.faults)
                keep = [not (i <= k < i + chunk) for k in range(n)]
                if not self.try_(restrict(self.best, keep=keep)):
                    i += chunk
            if chunk == 1:
                break
            chunk //= 2

    def _fewer_nodes(self) -> None:
        n = self.best.cluster.nodes
        for fewer in range(3 if n > 3 else n, n):
            if self.try_(restrict(self.best, nodes=fewer)):
                return

    def _lighter_load(self) -> None:
        w = self.best.workload
        for clients in range(0, w.clients):
            if self.try_(restrict(self.best, clients=clients)):
                break
        w = self.best.workload
        rate = w.rate
        while rate > 1:
            rate = float(int(rate / 2))
            if not self.try_(restrict(self.best, rate=rate)):
                break

    def hypothesis_pass(self, examples: int) -> bool:
        """Search sub-cases of the current best with Hypothesis and let it shrink what it finds: all choices
        shrink towards fewer events, a shorter run, fewer servers and clients."""
        from hypothesis import HealthCheck, Phase, find, settings
        from hypothesis import strategies as st
        from hypothesis.errors import NoSuchExample

        base = self.best
        n = len(base.faults)
        steps = max(1, base.duration // (10 * MS))
        w = base.workload

        @st.composite
        def sub_cases(draw: Any) -> Case:
            keep = [draw(st.booleans()) for _ in range(n)]
            duration = draw(st.integers(1, steps)) * 10 * MS
            nodes = draw(st.sampled_from(sorted({3, base.cluster.nodes}))) if base.cluster.nodes > 3 else None
            clients = draw(st.integers(0, w.clients)) if w.clients else None
            return restrict(base, keep=keep, duration=duration, nodes=nodes, clients=clients)

        before = self.best.size()
        with contextlib.suppress(NoSuchExample):
            find(
                sub_cases(),
                lambda c: self.fails(c),
                settings=settings(
                    max_examples=examples,
                    database=None,
                    derandomize=True,  # the same failure always shrinks to the same file
                    deadline=None,
                    phases=[Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        return self.best.size() < before


def shrink(case: Case, prop: str, max_runs: int = 300, hypothesis_examples: int = 60) -> ShrinkResult:
    """Reduce a case failing with ``prop`` to a smaller one failing with ``prop`` (see the module docstring)."""
    s = _Shrinker(case, prop, max_runs)
    out, _ = run_case(case)
    s.runs += 1
    if out.property != prop:
        raise ValueError(f"the case does not fail with {prop} (got {out.property})")
    s.best_outcome = out
    s.greedy()
    greedy_size = s.best.size()
    improved = False
    if hypothesis_examples and s.runs < max_runs:
        improved = s.hypothesis_pass(hypothesis_examples)
        if improved:
            s.greedy()  # Hypothesis may have opened the way for more greedy steps
    final, _ = run_case(s.best)
    return ShrinkResult(case, s.best, final, s.runs, greedy_size, improved)
