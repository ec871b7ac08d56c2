"""Shared test helpers: a hand-driven network of pure Raft nodes (no SimPy) for scripting exact situations.

``ManualNet`` holds pure ``Node`` objects, a durable state per node (applied from each ``Output`` as the simulator
would), and every message sent but not yet delivered. A test decides which message arrives when, which timer
fires, who crashes; every output is also shown to an incremental ``Checker`` so a script can assert that no
invariant broke (or that a known-bug node breaks one).

Also the Hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``:

- ``ci`` (the default, so ``make test`` runs the same examples everywhere): derandomized (each test's examples are
  a function of the test alone), no example database, no deadline (a simulation takes milliseconds to seconds, and
  tests never depend on wall time), and a failure prints the blob that ``@reproduce_failure`` replays.
- ``dev``: new random examples on every run, failures kept in ``.hypothesis/`` and tried first next time, the
  blob printed too: ``HYPOTHESIS_PROFILE=dev .venv/bin/python -m pytest tests/test_fuzz_strategies.py``.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable, Iterable
from dataclasses import replace

import pytest
from hypothesis import settings

from sim.check.safety import Checker
from sim.raft import (
    ELECTION,
    HEARTBEAT,
    LEADER,
    ClientRequest,
    Command,
    Entry,
    MembershipChange,
    Message,
    Node,
    Output,
    PersistentState,
    RaftConfig,
    SoftState,
)

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)


def sigint_as_a_terminal_sends_it() -> None:
    """``preexec_fn`` for a child a test will interrupt: SIGINT back to its default, so the child turns it into
    KeyboardInterrupt as it would under a terminal. A test runner started with SIGINT ignored (any background job
    of a non-interactive shell is) would otherwise pass the ignored signal on, and the child would never stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: a test's @settings takes what it leaves out from the profile loaded when it is decorated.
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if profile not in ("ci", "dev"):
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE: expected ci or dev, got {profile!r}")
    settings.load_profile(profile)


# Wide enough that no test depends on which random timeout a node drew.
CONFIG = RaftConfig(election_timeout_min=150_000, election_timeout_max=300_000, heartbeat_interval=50_000)


class ManualNet:
    def __init__(
        self,
        n: int = 3,
        config: RaftConfig = CONFIG,
        node_class: type[Node] | dict[int, type[Node]] = Node,
        seed: int = 0,
    ) -> None:
        self.ids = tuple(range(1, n + 1))
        self.config = config
        self.classes = {i: node_class[i] if isinstance(node_class, dict) else node_class for i in self.ids}
        self.seed = seed
        self.now = 0
        self.durable: dict[int, PersistentState] = {i: PersistentState() for i in self.ids}
        self.nodes: dict[int, Node | None] = {}
        self.inflight: list[Message] = []
        self.client_replies: list[Message] = []
        self.checker = Checker(self.ids, snapshots=config.snapshot_every > 0)
        self.outputs: list[tuple[int, Output]] = []
        self.reported: dict[int, SoftState | None] = {}  # each node's soft state as its Outputs last reported it
        self.configurations: dict[int, object] = {}  # each node's configuration as its Outputs last reported it
        self.bootstrap: dict[int, tuple[int, ...]] = {i: self.ids for i in self.ids}  # configuration it starts with
        for i in self.ids:
            self._boot(i)

    # ------------------------------------------------------------------------------------ driving nodes

    def node(self, i: int) -> Node:
        node = self.nodes[i]
        assert node is not None, f"node {i} is crashed"
        return node

    def timeout(self, i: int) -> Output:
        """Node ``i``'s election timer fires."""
        return self._handle(i, self.node(i).tick(ELECTION, self.now))

    def heartbeat(self, i: int) -> Output:
        """Node ``i``'s heartbeat timer fires."""
        return self._handle(i, self.node(i).tick(HEARTBEAT, self.now))

    def request(self, i: int, client: str, seq: int, op: str = "put", key: str = "k", value: str = "v") -> Output:
        command = Command(client, seq, op, key, value)
        return self._handle(i, self.node(i).step(ClientRequest(client, i, command), self.now))

    def step(self, m: Message) -> Output:
        return self._handle(m.dst, self.node(m.dst).step(m, self.now))  # type: ignore[arg-type]

    def change(self, i: int, op: str, server: int, seq: int = 1, admin: str = "admin") -> Output:
        """An operator asks node ``i`` to ``op`` ("add" or "remove") ``server``; the reply is in ``client_replies``."""
        return self.step(MembershipChange(admin, i, seq, op, server))

    def join(self, i: int, node_class: type[Node] | None = None) -> Output:
        """A new server ``i`` boots empty, with no configuration, to be added to the cluster."""
        self.ids = (*self.ids, i)
        self.classes[i] = node_class or self.classes[self.ids[0]]
        self.bootstrap[i] = ()
        self.durable[i] = PersistentState()
        self.checker.joined(i)
        return self._boot(i)

    def crash(self, i: int) -> None:
        """Node ``i`` loses its volatile state and the messages in flight to it."""
        self.nodes[i] = None
        self.inflight = [m for m in self.inflight if m.dst != i]
        self.checker.crashed(i)

    def restart(self, i: int) -> Output:
        self.crash(i)
        return self._boot(i)

    # ------------------------------------------------------------------------------------ the network

    def pending(self, **match: object) -> list[Message]:
        return [m for m in self.inflight if _matches(m, match)]

    def take(self, **match: object) -> list[Message]:
        """Remove and return the in-flight messages matching ``match`` (field=value, or type=ClassName)."""
        taken = self.pending(**match)
        self.inflight = [m for m in self.inflight if not _matches(m, match)]
        return taken

    def drop(self, **match: object) -> int:
        return len(self.take(**match))

    def deliver(self, **match: object) -> int:
        """Deliver (once) every message in flight that matches, in the order sent; returns how many."""
        msgs = self.take(**match)
        for m in msgs:
            if self.nodes.get(m.dst) is not None:  # type: ignore[arg-type]
                self.step(m)
        return len(msgs)

    def settle(self, among: Iterable[int] | None = None, rounds: int = 50) -> None:
        """Deliver messages between ``among`` (default: everyone alive) until none are left among them; other
        messages stay in flight."""
        group = set(self.ids if among is None else among)
        for _ in range(rounds):
            batch = [m for m in self.inflight if m.src in group and m.dst in group]
            if not batch:
                return
            self.inflight = [m for m in self.inflight if not (m.src in group and m.dst in group)]
            for m in batch:
                if self.nodes.get(m.dst) is not None:  # type: ignore[arg-type]
                    self.step(m)
        raise AssertionError("messages kept flowing")

    def drop_between(self, a: Iterable[int], b: Iterable[int]) -> None:
        """Drop every in-flight message between the two groups (both directions)."""
        sa, sb = set(a), set(b)
        self.inflight = [
            m for m in self.inflight if not ((m.src in sa and m.dst in sb) or (m.src in sb and m.dst in sa))
        ]

    def elect(self, i: int, among: Iterable[int] | None = None) -> None:
        """Make ``i`` time out and settle the messages among ``among``: it should end up leader."""
        self.timeout(i)
        self.settle(among)
        assert self.node(i).role == LEADER, f"node {i} did not win: {self.node(i).role}"

    # ------------------------------------------------------------------------------------ observing

    def log(self, i: int) -> list[Entry]:
        return list(self.node(i).log.entries())

    def terms(self, i: int) -> list[int]:
        return [e.term for e in self.node(i).log.entries()]

    def leaders(self) -> list[int]:
        return [i for i in self.ids if self.nodes[i] is not None and self.node(i).role == LEADER]

    # ------------------------------------------------------------------------------------ internals

    def _boot(self, i: int) -> Output:
        state = self.durable[i]
        self.reported[i] = None
        node = self.classes[i](i, self.bootstrap[i], self.config, random.Random(self.seed * 100 + i), state)
        self.nodes[i] = node
        self.checker.restarted(i, state.term, state.entries, state.snapshot)
        return self._handle(i, node.start(self.now))

    def _handle(self, i: int, out: Output) -> Output:
        """What the simulator does with an Output: persist, observe, send."""
        state = self.durable[i]
        if out.hard_state is not None:
            state = replace(state, term=out.hard_state[0], voted_for=out.hard_state[1])
        point = state.snapshot.index if state.snapshot is not None else 0  # the durable entries start after it
        if out.log_from is not None:
            state = replace(state, entries=state.entries[: max(0, out.log_from - 1 - point)] + tuple(out.log_entries))
        if out.snapshot is not None:
            state = replace(state, snapshot=out.snapshot, entries=state.entries[out.snapshot.index - point :])
        self.durable[i] = state
        node = self.node(i)
        # The contract (sim.raft.output): what the Outputs report is what the node holds.
        if out.soft_state is not None:
            self.reported[i] = out.soft_state
        assert self.reported[i] == (node.role, node.term, node.leader_id, node.commit, node.last_applied)
        if out.configuration is not None:
            self.configurations[i] = out.configuration
        assert self.configurations[i] == (node.membership.index, node.configuration)
        self.checker.observe(
            i, node.term, node.role, node.commit, out.log_from, out.log_entries, out.applied, out.snapshot
        )
        for m in (*out.unsynced_messages, *out.messages):
            if isinstance(m.dst, str):
                self.client_replies.append(m)
            else:
                self.inflight.append(m)
        self.outputs.append((i, out))
        return out


def _matches(m: Message, match: dict[str, object]) -> bool:
    for key, want in match.items():
        if key == "type":
            if type(m).__name__ != want:
                return False
        elif key == "where":
            assert callable(want)
            if not want(m):
                return False
        elif getattr(m, key, None) != want:
            return False
    return True


@pytest.fixture
def make_net() -> Callable[..., ManualNet]:
    return ManualNet
