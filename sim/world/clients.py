"""Clients: SimPy processes that send key-value operations to the cluster (Section 8 of the paper), and record
what they saw as a history that the linearizability checker judges.

Each client has one operation outstanding at a time, numbered by ``seq``. It sends to the server it believes
leads; a follower's refusal names the leader it knows (the client goes there) or none (the client waits a little
and tries another server). With no answer within ``timeout`` it retries the same operation, same ``seq``,
elsewhere: the replicated state machine's sessions make the retry harmless. With ``give_up`` set, a client that
has had no answer for that long stops waiting: the operation's outcome is unknown (``info``) and the client goes on
with its next one (sessions make sure the abandoned one can never take effect after a later one).

Two loops (WorkloadConfig.mode): ``open``, operations come due at Poisson arrival times, so all clients together
offer ``rate`` per simulated second (achieved while the cluster keeps up; a backlog after an outage drains at full
speed); ``closed``, each client sends its next operation when the previous one completed, after an exponential
think time of mean ``think`` (how Jepsen's and Maelstrom's clients behave).

The history: one ``OpRecord`` per operation, invoked when first sent and completed by the reply that settles it:
``ok`` (with the value read, or the value written), ``fail`` (a cas whose comparison failed: it definitely did not
take effect), ``info`` (given up: it may or may not have taken effect). An operation still outstanding when the
run ends has no completion, which also means unknown.
"""

from __future__ import annotations

import heapq
import math
import random
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from itertools import accumulate, groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, overload

from sim.check.history import Operation
from sim.raft.messages import ClientReply, ClientRequest, Command
from sim.world.config import WorkloadConfig
from sim.world.events import PlainProcess
from sim.world.timers import LazyTimer

if TYPE_CHECKING:
    from simpy import Environment

    from sim.check.safety import Checker
    from sim.trace import Trace
    from sim.world.network import Network


class OpRecord:
    """One client operation as the client saw it (times in simulated microseconds). ``value`` is the argument
    (put/append: the value, cas: the new value, with ``expected``); ``result`` is what the completion returned (a
    get's value read, None for a failed cas); ``status`` is None until it completes."""

    __slots__ = ("client", "complete", "expected", "f", "invoke", "key", "result", "seq", "status", "value")

    def __init__(self, client: str, seq: int, f: str, key: str, value: str, expected: str, invoke: int) -> None:
        self.client = client
        self.seq = seq
        self.f = f
        self.key = key
        self.value = value
        self.expected = expected
        self.invoke = invoke
        self.status: str | None = None
        self.result: str | None = None
        self.complete: int | None = None

    def __repr__(self) -> str:
        return (
            f"OpRecord({self.client}#{self.seq} {self.f} {self.key}={self.value!r} "
            f"{self.status or 'pending'} {self.result!r} [{self.invoke}, {self.complete}])"
        )


def operations(history: list[OpRecord]) -> list[Operation]:
    """The history in the checker's terms (``sim.check.history.Operation``), times in nanoseconds as Jepsen
    writes them, client ``cN`` as process N (any other name numbered in order of its first operation). An
    operation that never completed, or was given up, is ``info``."""
    ops: list[Operation] = []
    append = ops.append
    processes: dict[str, int] = {}
    for r in history:  # once per operation of every seed judged: each field read once
        client = r.client
        process = processes.get(client)
        if process is None:
            digits = client[1:]
            process = processes[client] = int(digits) if digits.isdigit() else 1_000_000 + len(processes)
        status = r.status
        if status == "ok" or status == "fail":
            complete = r.complete * 1000  # type: ignore[operator]
        else:
            status = "info"
            complete = None
        f = r.f
        if f == "cas":
            value: Any = (r.expected, r.value)
        elif f == "get":
            value = r.result if status == "ok" else None
        else:
            value = r.value
        append(Operation(process, f, r.key, value, status, r.invoke * 1000, complete))
    return ops


class Client:
    def __init__(
        self,
        env: Environment,
        network: Network,
        trace: Trace,
        checker: Checker,
        servers: list[int],
        name: str,
        rng: random.Random,
        config: WorkloadConfig,
        history: list[OpRecord],
    ) -> None:
        self.env = env
        self.network = network
        self.trace = trace
        self._record = trace.recorder  # what trace.add does, one call fewer; None: nothing recorded (sim.trace)
        self.checker = checker
        self.servers = servers
        self.name = name
        self.rng = rng
        self.config = config
        self.history = history
        self.seq = 0
        self.outstanding: Command | None = None
        self.op: OpRecord | None = None  # the outstanding operation's history record
        self.leader_guess: int | None = None
        self.acked = 0
        # What this client last saw each key hold: its cas operations expect that value.
        self.seen: dict[str, str] = {}
        self.latencies = Latencies()
        self._keys = key_names(config.keys)
        self._cum_weights = list(accumulate(config.weights)) if config.weights else None
        # What ``rng.choices(ops, cum_weights=...)`` computes before its one draw, computed once (None: weights it
        # would refuse, so that it is called and raises as it would).
        cum = self._cum_weights
        total = cum[-1] + 0.0 if cum else 0.0
        self._choices_total = total if cum and len(cum) == len(config.ops) and 0.0 < total < math.inf else None
        # The client's process (sim.world.events): it sleeps (yields microseconds) between operations and before
        # a retry, and waits (yields None) for a reply or the attempt's timeout, whichever comes first.
        self.process: PlainProcess | None = None
        self._reply: ClientReply | None = None
        self.target: int | None = None  # the server the current attempt went to
        self.sent_at = 0
        # The attempt's timeout, lazy (sim.world.timers): every attempt moves it later, so no attempt needs an
        # event of its own (under load an event per attempt kept hundreds of dead timeouts in the event heap).
        self._timeout = LazyTimer(env, self._wake)

    def start(self) -> None:
        cfg = self.config
        if cfg.clients > 0 and (cfg.rate > 0 or cfg.mode == "closed"):
            self.process = PlainProcess(self.env, self._run())

    # Whether the client follows a refusal's leader hint and retries elsewhere on a timeout (a workload client
    # always does); a client that does not settles its operation after its first attempt (``OneShot``).
    follow = True

    def _run(self, only: Command | None = None) -> Any:
        """The client's process: the workload's operations, one after another, each sent until it is answered (or
        given up) and recorded in the history; or ``only`` that one operation (``OneShot``). One generator rather
        than one per operation (``yield from``): each resume of the client would pass through both; and what the
        operations read (the clock, the config, the network) is read once."""
        # Clients read the clock as ``env._now`` (SimPy 4, pinned), as the network does: ``env.now`` is a property.
        env = self.env
        cfg = self.config
        rng = self.rng
        servers = self.servers
        name = self.name
        history = self.history
        record = self._record
        send = self.network.send
        arm = self._timeout.arm
        timeout = cfg.timeout
        give_up = cfg.give_up
        stop = cfg.stop
        follow = self.follow
        add_latency = self.latencies.add
        if only is None:
            closed = cfg.mode == "closed"
            mean_gap = cfg.think if closed else cfg.clients / cfg.rate * 1e6
            due = max(cfg.start, env._now)
            if closed and due > env._now:
                yield due - env._now
        while True:
            if only is None:
                if closed:
                    if mean_gap > 0:
                        yield int(rng.expovariate(1.0 / mean_gap))
                else:
                    due += int(rng.expovariate(1.0 / mean_gap))
                    if due > env._now:
                        yield due - env._now
                if stop is not None and env._now > stop:
                    return
                command = self._next_command()
            else:
                command = only
            # The operation, sent until it is answered (or given up).
            seq = command.seq
            self.outstanding = command
            self.sent_at = sent_at = env._now
            self.op = op = OpRecord(name, seq, command.op, command.key, command.value, command.expected, sent_at)
            history.append(op)
            if record is not None:
                record((sent_at, "invoke", name, {"seq": seq, "f": command.op, "key": command.key}))
            give_up_at = None if give_up is None else sent_at + give_up
            attempt = 0
            target = self.leader_guess if self.leader_guess is not None else rng.choice(servers)
            while self.outstanding is not None:
                if give_up_at is not None and env._now >= give_up_at:
                    self._settle("info", None)
                    break
                attempt += 1
                if record is not None:
                    record((env._now, "request", name, {"seq": seq, "to": target, "attempt": attempt}))
                self._reply = None
                self.target = target
                send(ClientRequest(name, target, command))
                # Wake on a reply or after the timeout, whichever comes first (a timer callback rather than an
                # AnyOf condition, which costs several events and objects per attempt).
                wake = env._now + timeout
                arm(wake if give_up_at is None else min(wake, give_up_at))
                yield None
                reply = self._reply
                if self.outstanding is None:
                    continue  # answered: the loop ends, and the latency is recorded
                if not follow:
                    # One attempt only: a refusal means that server did not take it (it definitely did not happen);
                    # no answer in time leaves the outcome unknown.
                    self._settle("info" if reply is None else "fail", None)
                    break
                if reply is None:  # timed out: try another server
                    self.leader_guess = None
                    target = self._other(servers, target)
                elif reply.leader_hint is not None and reply.leader_hint != target:
                    self.leader_guess = target = reply.leader_hint
                else:  # the server knows no leader (or names itself, stale): wait, then try elsewhere
                    self.leader_guess = None
                    yield cfg.redirect_backoff
                    target = self._other(servers, target)
            else:  # answered (giving up, and settling after a lone attempt, break out: no latency)
                add_latency(env._now - sent_at)
            if only is not None:
                return

    def _next_command(self) -> Command:
        cfg = self.config
        rng = self.rng
        ops = cfg.ops
        self.seq = seq = self.seq + 1
        name = self.name
        # The draws of ``rng.choices(ops, cum_weights=...)[0]``, ``rng.choice(ops)`` and ``rng.randrange(keys)``
        # made as those functions make them, without their Python calls (random.py, CPython 3.11; the test
        # test_client_draws_are_the_random_module_s holds them to it): the weights' running sums, their total
        # once, a bisection of one ``random()``; ``_randbelow`` of the length, what ``choice`` and ``randrange``
        # draw with.
        total = self._choices_total
        if total is not None:
            op = ops[bisect_right(self._cum_weights, rng.random() * total, 0, len(ops) - 1)]  # type: ignore[arg-type]
        elif self._cum_weights:
            op = rng.choices(ops, cum_weights=self._cum_weights)[0]  # raises, as it would
        else:  # (``_randbelow(0)`` would never return: nothing to choose from, ``choice`` raises)
            op = ops[rng._randbelow(len(ops))] if ops else rng.choice(ops)
        keys = cfg.keys
        key = self._keys[rng._randbelow(keys) if keys > 0 else rng.randrange(keys)]
        if op == "get":
            return Command(name, seq, op, key)
        if op == "append":
            return Command(name, seq, op, key, f"{name}.{seq};")
        if op == "cas":
            return Command(name, seq, op, key, f"{name}.{seq}", self.seen.get(key, ""))
        return Command(name, seq, op, key, f"{name}.{seq}")

    def _settle(self, status: str, result: str | None) -> None:
        """The outstanding operation is done: record how it ended."""
        op = self.op
        now = self.env._now
        if op is not None:
            op.status = status
            op.result = result
            op.complete = now
            if self._record is not None:
                self._record((now, "complete", self.name, {"seq": op.seq, "type": status, "value": result}))
            if status == "ok" and result is not None:
                self.seen[op.key] = result  # what a get read, or what put, append or cas wrote
        self.outstanding = None
        self.op = None

    def _other(self, servers: list[int], current: int) -> int:
        others = [s for s in servers if s != current] or servers
        return self.rng.choice(others)

    def on_reply(self, m: ClientReply) -> None:
        command = self.outstanding
        if command is None or m.seq != command.seq:
            return  # a late or duplicated reply to an earlier command
        if not m.ok and m.src != self.target:
            return  # a refusal from a server an earlier attempt went to (late, or a duplicate): not this attempt's
        if m.ok:
            self.acked += 1
            self.leader_guess = m.src
            now = self.env._now
            latency = now - self.sent_at
            if self._record is not None:
                self._record((now, "ack", self.name, {"seq": m.seq, "index": m.index, "latency_us": latency}))
            if m.index:  # index 0: a read answered without a log entry (thesis 6.4), nothing committed to check
                self.checker.acked(self.name, m.seq, m.index)
            # A cas whose comparison failed was applied (once) but changed nothing: definitely did not happen.
            self._settle("fail" if command.op == "cas" and m.result is None else "ok", m.result)
        self._reply = m
        self._timeout.cancel()
        self._wake()

    @property
    def waiting_for_reply(self) -> bool:
        """Whether the client's process waits for the current attempt's reply (or its timeout)."""
        return self.process is not None and self.process.waiting

    def _wake(self) -> None:
        """Resume the client's process if it waits for a reply: at once, past the event queue, as
        ``Server.deliver`` does (same time, one event fewer per command). Replies and timeouts reach the client
        only from event callbacks, never from inside its own process."""
        process = self.process
        if process is not None and process.waiting:
            process.resume(None)


class OneShot(Client):
    """A client of its own for one operation, sent first to a chosen server (a scenario's ``submit``): with
    ``follow`` it then behaves as a workload client until the operation completes (leader hints, retries, giving
    up); without, it settles the operation after that one attempt."""

    def __init__(self, *args: Any, command: Command, target: int, follow: bool) -> None:
        super().__init__(*args)
        self.command = command
        self.first_target = target
        self.follow = follow

    def start(self) -> None:
        self.leader_guess = self.first_target
        self.seq = self.command.seq
        self.process = PlainProcess(self.env, self._run(self.command))


def one_command(client: str, op: str, key: str) -> Command:
    """The only command of a one-shot client: sequence number 1, a value of its own for a write."""
    if op == "get":
        return Command(client, 1, op, key)
    if op == "append":
        return Command(client, 1, op, key, f"{client}.1;")
    if op == "cas":
        return Command(client, 1, op, key, f"{client}.1", "")
    return Command(client, 1, op, key, f"{client}.1")


@cache
def key_names(keys: int) -> tuple[str, ...]:
    """The workload's key names, made once: commands share them rather than each holding a string of its own."""
    return tuple(f"k{i}" for i in range(keys))


class Latencies:
    """One client's command latencies (microseconds), exactly, in memory bounded by their distinct values rather
    than their number: a latency goes into a buffer (8 bytes) that, once full, is merged into the sorted distinct
    values and their counts (8 bytes each). A Counter would cost about 80 bytes per distinct value, and at
    microsecond resolution nearly every latency of a run's first hundred thousand commands is new."""

    BUFFER = 65_536
    __slots__ = ("_buffer", "_counts", "_values")

    def __init__(self) -> None:
        self._buffer = array("q")
        self._values = array("q")
        self._counts = array("q")

    def add(self, latency: int) -> None:
        buffer = self._buffer
        buffer.append(latency)
        if len(buffer) >= self.BUFFER:
            self._merge()

    def counts(self) -> Iterator[tuple[int, int]]:
        """(latency, how many commands took it), in ascending order of latency."""
        self._merge()
        return zip(self._values, self._counts, strict=True)

    def _merge(self) -> None:
        if not self._buffer:
            return
        new = ((v, sum(1 for _ in g)) for v, g in groupby(sorted(self._buffer)))
        self._values, self._counts = _merged([zip(self._values, self._counts, strict=True), new])
        self._buffer = array("q")


def _merged(sorted_counts: Iterable[Iterable[tuple[int, int]]]) -> tuple[array[int], array[int]]:
    """Several ascending (value, count) sequences as one: the distinct values and their summed counts."""
    values, counts = array("q"), array("q")
    for v, group in groupby(heapq.merge(*sorted_counts, key=itemgetter(0)), key=itemgetter(0)):
        values.append(v)
        counts.append(sum(c for _, c in group))
    return values, counts


class LatencySummary(Sequence[int]):
    """Clients' latencies read as the ascending sequence of every latency: a nearest-rank percentile is an index
    into it, the maximum its last item (held as distinct values and counts, like ``Latencies``)."""

    def __init__(self, latencies: Iterable[Latencies]) -> None:
        self._values, counts = _merged([lat.counts() for lat in latencies])
        # _ends[i]: how many latencies are <= _values[i]
        self._ends = array("q", accumulate(counts))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, k: int) -> int: ...

    @overload
    def __getitem__(self, k: slice) -> list[int]: ...

    def __getitem__(self, k: int | slice) -> int | list[int]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        n = len(self)
        i = k + n if k < 0 else k
        if not 0 <= i < n:
            raise IndexError("latency index out of range")
        return self._values[bisect_right(self._ends, i)]
