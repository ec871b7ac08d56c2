"""The simulated cluster: processes that drive pure Raft nodes through a simulated network and disk.

A ``Server`` is one machine: a process (``sim.world.events.PlainProcess``) that takes inputs (messages, timer
expiries) from its inbox one at a time, feeds them to its ``sim.raft.Node`` and carries out the node's ``Output`` in
etcd's order: make the writes durable (waiting ``disk_latency`` if set), then send the messages, then arm the
timers. A crash bumps the server's incarnation, which makes every timer, inbox item and half-finished write of the
old incarnation stale; a restart builds a new Node from what had become durable.

Time is integer microseconds of simulated time. ``Simulation.run`` steps the SimPy environment one event at a
time (SimPy's events and the plain calls of ``sim.world.events``) and lets the checker stop the run after the
first event that breaks an invariant.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from heapq import heappop, heappush
from pathlib import Path
from typing import IO, Any

from simpy import Environment
from simpy.events import NORMAL

from sim import __version__
from sim.check.linearizability import DEFAULT_BUDGET, LinResult, check
from sim.check.models import KV
from sim.check.properties import EXCEPTION, LINEARIZABILITY, LIVELOCK, NODE_FAILURE
from sim.check.safety import Checker, Violation
from sim.nodes.contract import DIGEST, STATE, NodeFailure
from sim.nodes.implementations import implementation
from sim.raft.messages import Message, RequestVoteReply, TransferLeader
from sim.raft.node import FOLLOWER, LEADER, Node, Output, SoftState
from sim.raft.quorum import Configuration
from sim.raft.snapshot import Snapshot
from sim.rng import stream
from sim.trace import CHUNK, FORMAT, Trace, format_records
from sim.world.admin import Admin
from sim.world.clients import Client, LatencySummary, OneShot, OpRecord, key_names, one_command, operations
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.events import PlainProcess, call_later
from sim.world.network import Delay, Network, describe_delay
from sim.world.storage import Storage
from sim.world.timers import LazyTimer


@contextmanager
def cyclic_gc_off() -> Iterator[None]:
    """CPython's cyclic garbage collector off for the block, and as it was afterwards (see ``Simulation.run`` for
    why a run does without it)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


STORM_SLICE = 100_000  # microseconds: the event budget is checked per slice of this length
STORM_SLACK = 20_000  # events allowed beyond the budget (a run's start, a burst)


class _ServerProcess(PlainProcess):
    """One incarnation of a server's process: the ``Server._run`` generator, which yields ``None`` to wait for
    its next input (``deliver`` sends it in, or queues it in the inbox while the process is busy) or a number of
    microseconds to wait for the disk."""

    __slots__ = ("inbox",)

    def __init__(self, env: Environment, generator: Any, inbox: deque[Any]) -> None:
        super().__init__(env, generator)
        self.inbox = inbox

    def deliver(self, item: Any) -> None:
        """Hand an input (a message, or the name of an expired timer) to the process: at once if it is idle, else
        through the inbox, which it empties before it waits again. Resuming it at once rather than through the
        event queue keeps the same simulated time and order of inputs, one event fewer per message. Inputs only
        ever arrive from event callbacks, never from inside a server's own process, so this never resumes a
        process re-entrantly. (``resume`` written out: this runs once per message.)"""
        if not self.waiting:
            self.inbox.append(item)
            return
        self.waiting = False
        try:
            wait = self.generator.send(item)
        except BaseException as e:
            self._ended(e)
            return
        if wait is None:
            self.waiting = True
        else:
            self._then(wait)


class Server:
    """One simulated machine: its Raft node, inbox, timers, disk and (possibly drifting) clock."""

    def __init__(self, sim: Simulation, node_id: int, node_class: type[Node], bootstrap: tuple[int, ...]) -> None:
        """Server ``node_id``, whose node starts with the configuration ``bootstrap`` (the cluster's initial servers;
        none for a server that boots empty to join)."""
        self.sim = sim
        self.env = sim.env
        self.id = node_id
        self.node_class = node_class
        self.bootstrap = bootstrap
        self.storage = Storage()
        self.rng = stream(sim.seed, f"timers/{node_id}")
        self.alive = False
        self.node: Node | None = None
        self.incarnation = 0
        self.inbox: deque[Any] = deque()
        self.process: _ServerProcess | None = None
        self.writing = False
        self._being_written: Output | None = None  # the Output whose writes are on their way to the disk
        # What the node last reported of its volatile state (``Output.soft_state``): who it follows in which
        # term, what it has committed and applied. The world reads a server only through this and what its
        # Outputs carry, never through the node's attributes. Meaningful while ``alive``.
        self.state = SoftState(FOLLOWER, 0, None, 0, 0)
        # Its configuration in force as its Outputs last reported it: (log index, configuration).
        self.configuration = (0, Configuration(bootstrap))
        # The node's timers by name, lazy (sim.world.timers): re-arming the election timer on every AppendEntries
        # creates no event.
        self.timers: dict[str, LazyTimer] = {}
        # An expiry waits in the inbox until the node handles it; if an input handled meanwhile re-armed or
        # cancelled that timer, the expiry is stale and must not reach the node (``fired`` turns False).
        self.fired: dict[str, bool] = {}
        # Clock: local = anchor_local + (now - anchor_real) * rate; without drift (rate 1), now + offset.
        self.rate = 1.0
        self.anchor_real = 0
        self.anchor_local = 0
        self.offset = 0
        # Bound methods used on every input.
        self._record = sim.trace.recorder  # None: nothing is recorded (sim.trace.Trace)
        self._send = sim.network.send
        self._observe = sim.checker.observe

    # ------------------------------------------------------------------------------------------ lifecycle

    def boot(self) -> None:
        self.incarnation += 1
        self.alive = True
        self.inbox = deque()
        self.timers = {}
        self.fired = {}
        state = self.storage.state()
        raft = self.sim.cluster.raft
        node = self.node_class(self.id, self.bootstrap, raft, self.rng, state)
        self.node = node
        # Until its first Output reports otherwise, a booted node is a follower in its durable term (the contract
        # in sim.raft.output).
        self.state = SoftState(FOLLOWER, state.term, None, 0, 0)
        now = self.env.now
        booted: dict[str, Any] = {"term": state.term, "log": len(state.entries)}
        if state.snapshot is not None:
            booted["snapshot"] = state.snapshot.index  # the log holds the entries after it
        self.sim.trace.add(now, "boot", self.id, booted)
        self.sim.checker.restarted(self.id, state.term, state.entries, state.snapshot)
        self.process = _ServerProcess(self.env, self._run(self.incarnation, node), self.inbox)
        self.sim.network.attach(self.id, self.process.deliver)

    def crash(self) -> None:
        if not self.alive:
            return
        self.sim.trace.add(self.env.now, "crash", self.id, {"lost_writes": int(self.writing)})
        self.alive = False
        self.incarnation += 1
        self.close()
        self.inbox = deque()
        self.process = None  # it waits for an input, or for the disk, which finds it crashed
        self.writing = False
        self._being_written = None
        for timer in self.timers.values():
            timer.cancel()  # their pending events, when they fire, find nothing to do
        self.timers = {}
        self.fired = {}
        self.sim.network.endpoint_restarted(self.id)
        self.sim.network.attach(self.id, self._drop)
        self.sim.checker.crashed(self.id)

    def close(self) -> None:
        """Let go of the node: an implementation that holds a resource (a process: sim.nodes.process) frees it."""
        node = self.node
        self.node = None
        close = getattr(node, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------------------------------------ the process

    def _run(self, incarnation: int, node: Node) -> Any:
        """The server's process: feed the node one input at a time and carry out each Output in order (make
        its writes durable, show the checker, trace, send, arm timers). This loop runs once per message
        delivered, so it is written out in one function, with locals for what it reads often."""
        if self.incarnation != incarnation:
            return  # crashed before the process got to start
        env = self.env
        inbox = self.inbox
        fired = self.fired
        timers = self.timers
        record = self._record
        send = self._send
        nid = self.id
        sim = self.sim
        # The last role, term and commit index reported, and those written to the trace: only changes are recorded.
        role, term, _, commit, _ = self.state
        traced_role = role
        traced_term = term
        traced_commit = 0
        disk = sim.cluster.disk
        from_input = sim.cluster.timers_from_input
        taken = env._now  # when the node was handed the input being carried out
        out: Output | None = node.start(self.local_now())
        while True:
            if out is not None:
                # 0. The node's soft state, kept as soon as it is reported (what it says of itself does not wait
                # for the disk).
                soft = out.soft_state
                changed = moved = False  # role or term changed; that, or the commit index
                if soft is not None:
                    self.state = soft
                    role, term, _, commit, _ = soft
                    changed = role != traced_role or term != traced_term
                    moved = changed or commit != traced_commit
                if out.configuration is not None:
                    self.configuration = out.configuration
                    sim.configured(self)
                # 1. Durability: messages that depend on the writes leave only once they are durable.
                if out.hard_state is not None or out.log_from is not None or out.snapshot is not None:
                    latency = sim.cluster.disk_latency if disk is None else disk.latency(self.storage, out, nid)
                    if latency:
                        early = out.unsynced_messages
                        if early:
                            for m in early:
                                send(m)
                            out.unsynced_messages = []
                        self.writing = True
                        self._being_written = out
                        yield latency
                        if self.incarnation != incarnation:
                            return  # crashed before the write became durable: it is lost
                        self.writing = False
                        self._being_written = None
                    self.storage.write(out)
                now = env._now
                # 2. The checker and the trace see what changed.
                if changed:
                    traced_role = role
                    traced_term = term
                    if record is not None:
                        record((now, "state", nid, {"role": role, "term": term}))
                    if role == LEADER:
                        sim.elections.append((now, nid, term))
                applied = out.applied
                log_from = out.log_from
                if moved or applied or log_from is not None:
                    # Only inputs that changed something the checker watches are shown to it (a snapshot comes
                    # with entries applied, or with a new commit index when installed).
                    snapshot = out.snapshot
                    self._observe(nid, term, role, commit, log_from, out.log_entries, applied, snapshot)
                    if log_from is not None and record is not None:
                        # The durable log changed: enough for a reader to rebuild each log from the trace.
                        record((now, "append", nid, (log_from, out.log_entries)))
                    if snapshot is not None:
                        self._snapshot_recorded(now, snapshot, out.snapshot_installed)
                    if commit != traced_commit:
                        traced_commit = commit
                        if record is not None:
                            record((now, "commit", nid, commit))
                        if commit > sim.committed:
                            sim.committed = commit
                        if commit >= self.configuration[0] > sim.committed_configuration[0]:
                            sim.commit_configuration(self.configuration)
                    if record is not None:
                        for index_entry in applied:
                            record((now, "apply", nid, index_entry))
                # 3. Messages.
                if out.unsynced_messages:
                    for m in out.unsynced_messages:
                        send(m)
                for m in out.messages:
                    if record is not None and m.__class__ is RequestVoteReply and m.granted and not m.prevote:
                        record((now, "vote", nid, {"candidate": m.dst, "term": m.term}))
                    send(m)
                # 4. Timers.
                for name, local_delay in out.timers:
                    fired[name] = False
                    timer = timers.get(name)
                    if timer is None:
                        timer = timers[name] = LazyTimer(env, partial(self._expired, name))
                    if local_delay is None:
                        timer.cancel()
                    else:
                        due = (taken if from_input else now) + (
                            local_delay if self.rate == 1.0 else math.ceil(local_delay / self.rate)
                        )
                        timer.arm(due if due > now else now)  # a timer due during the write expires after it
            # The next input.
            if inbox:
                item = inbox.popleft()
            else:
                item = yield None  # ``deliver`` sends the input in
            taken = env._now
            now = taken + self.offset if self.rate == 1.0 else self.local_now()
            if item.__class__ is str:
                if fired.get(item):
                    fired[item] = False
                    out = node.tick(item, now)
                else:
                    out = None  # re-armed or cancelled after it expired, by an input handled since: superseded
            else:
                out = node.step(item, now)

    def _snapshot_recorded(self, now: int, snapshot: Snapshot, installed: bool) -> None:
        self.sim.trace.add(
            now,
            "snapshot",
            self.id,
            {"index": snapshot.index, "term": snapshot.term, "size": snapshot.size, "installed": installed},
        )
        if installed:
            self.sim.snapshots_installed += 1
        else:
            self.sim.snapshots_taken += 1

    @property
    def snapshot_index(self) -> int:
        """The index of the server's durable snapshot (0 without one): its log up to there is compacted."""
        return self.storage.snapshot_index

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index`` in the log as the node's Outputs wrote it: the durable log, with the
        write on its way to the disk applied over it; -1 if there is none (or it is compacted away)."""
        w = self._being_written
        if w is not None and w.log_from is not None and index >= w.log_from:
            k = index - w.log_from
            return w.log_entries[k].term if k < len(w.log_entries) else -1
        return self.storage.term_at(index)

    def deliver(self, item: Any) -> None:
        """Hand an input (a message, or the name of an expired timer) to the server's process."""
        process = self.process
        if process is None:
            self.inbox.append(item)  # not booted (or crashed): the next boot starts afresh
            return
        process.deliver(item)

    def _drop(self, m: Message) -> None:
        """Takes the messages that arrive while this server is down."""
        self.sim.trace.add(self.env._now, "drop", self.id, (m, "crashed"))

    # ------------------------------------------------------------------------------------------ clock, timers

    def local_now(self) -> int:
        if self.rate == 1.0:
            return self.anchor_local + (self.env.now - self.anchor_real)
        return self.anchor_local + int((self.env.now - self.anchor_real) * self.rate)

    def set_drift(self, rate: float) -> None:
        """From now on this server's clock (and so its timers) runs ``rate`` times as fast as real time. Timers
        already armed keep the local time they have left, which now passes at the new rate: a 400 ms timer
        armed at 0 fires at 175 ms if the clock turns four times as fast at 100 ms."""
        if not rate > 0:
            raise ValueError(f"clock rate must be positive, got {rate}")
        old = self.rate
        self.anchor_local = self.local_now()
        now = self.anchor_real = self.env.now
        self.offset = self.anchor_local - self.anchor_real
        self.rate = rate
        for timer in self.timers.values():
            due = timer.deadline
            if due is not None and due > now:
                timer.arm(now + math.ceil((due - now) * old / rate))

    def _expired(self, timer: str) -> None:
        """A timer expired: its name goes to the process as an input, current until the timer is re-armed."""
        self.fired[timer] = True
        self.deliver(timer)


class Simulation:
    """A cluster, its network, its clients and the checker, in one SimPy environment, all seeded from ``seed``.

    Fault injection: ``crash``, ``restart``, ``partition``, ``isolate``, ``cut``, ``repair``, ``heal``,
    ``disconnect``, ``reconnect``, ``set_drop``, ``set_duplicate``, ``set_delay``, ``set_drift``, the operator's
    ``add_server``, ``remove_server`` and ``transfer_leader``; ``at(time, fn)`` schedules any of them. ``submit``
    sends one client operation to a chosen server.
    """

    def __init__(
        self,
        cluster: ClusterConfig | None = None,
        network: NetworkConfig | None = None,
        workload: WorkloadConfig | None = None,
        seed: int = 0,
        trace: bool = True,
        check: bool = True,
        tail: int = 50,
    ) -> None:
        """``trace``: keep the whole trace; else only its last ``tail`` records, for a violation's report (0: none,
        and the run builds no record at all, as a fuzz campaign's runs do)."""
        self.cluster = cluster = cluster or ClusterConfig()
        self.network_config = network = network or NetworkConfig()
        self.workload = workload = workload or WorkloadConfig()
        self.seed = seed
        self.env = Environment()
        self.trace = Trace(enabled=trace, tail=tail)
        ids = list(range(1, cluster.nodes + 1))
        self.checker = Checker(ids, snapshots=cluster.raft.snapshot_every > 0) if check else _NoChecker(ids)
        self.network = Network(
            self.env,
            stream(seed, "network"),
            ids,
            self.trace,
            network.delay,
            network.drop,
            network.duplicate,
            network.fifo,
        )
        self.fault_rng = stream(seed, "faults")
        node_class: Any = Node
        if cluster.bug:
            from sim.nodes.bugs import node_class_for

            node_class = node_class_for(cluster.bug)
        # What the servers run, and what it declared under the node contract (sim.nodes.contract).
        self.implementation = implementation(cluster.implementation, cluster.implementation_cmd)
        if cluster.implementation or cluster.implementation_cmd:
            node_class = self.implementation.factory
        # A white box reports its soft state (role, term, leader, commit); a black box is judged by its clients and
        # its disk only, so what needs its commit reports is not checked (CONTRACT.md, "White box and black box").
        self.white_box = STATE in self.implementation.capabilities
        if not self.white_box:
            self.checker.acked = _ignore  # type: ignore[method-assign]
        self.node_class = node_class
        self.servers: dict[int, Server] = {i: Server(self, i, node_class, tuple(ids)) for i in ids}
        # Membership (thesis Chapter 4): the latest configuration known to be committed, as (log index,
        # configuration), and the servers clients and the operator contact (the members, and servers joining).
        self.committed_configuration = (0, Configuration(tuple(ids)))
        self.directory = list(ids)
        self.events = 0
        self.committed = 0  # highest commit index any server reached
        self.snapshots_taken = 0  # by servers of their own state machines (durably)
        self.snapshots_installed = 0  # from a leader (InstallSnapshot), durably
        self.elections: list[tuple[int, int, int]] = []  # (time, leader, term)
        self.faults: list[tuple[int, str, dict[str, Any]]] = []
        self.violation: Violation | None = None
        self.clients: dict[str, Client] = {}
        self.history: list[OpRecord] = []  # every client operation, in order of invocation
        self.linearizability: LinResult | None = None  # the verdict on the history, once judged
        for i in range(workload.clients):
            name = f"c{i + 1}"
            rng = stream(seed, f"clients/{name}")
            client = Client(
                self.env, self.network, self.trace, self.checker, self.directory, name, rng, workload, self.history
            )
            self.clients[name] = client
            self.network.attach(name, client.on_reply)
            if workload.beside:
                self.network.place(name, workload.beside[i % len(workload.beside)])
        self.admin = Admin(
            self.env,
            self.network,
            self.trace,
            self.directory,
            stream(seed, "admin"),
            workload.timeout,
            workload.redirect_backoff,
            workload.give_up,
        )
        for server in self.servers.values():
            server.boot()
        for client in self.clients.values():
            client.start()

    # --------------------------------------------------------------------------------------------- running

    @property
    def now(self) -> int:
        return self.env.now

    def run(self, until: int, after_event: Callable[[Simulation], None] | None = None) -> Violation | None:
        """Process events up to simulated time ``until`` (microseconds), checking after every event. Stops early
        at the first violation, which it returns (and keeps in ``self.violation``).

        CPython's cyclic garbage collector is off while this runs (and restored on return). A run keeps the
        trace and the logs alive, millions of objects, and the collector would scan them again and again (7% of
        the instructions of a run, and a cost per event that grows with the run); meanwhile the simulator makes
        no cyclic garbage while it runs, except a handful of objects per crashed server process, so reference
        counting frees everything else as usual. Measured: a 4 s run with 5 crashes leaves 30 such objects."""
        if self.violation:
            return self.violation
        if self.trace.streaming:
            after_event = self._flushing(after_event)
        env = self.env
        queue = env._queue  # SimPy 4's event heap of (time, priority, id, event)
        checker = self.checker
        per_ms = self.cluster.max_events_per_ms
        with cyclic_gc_off():
            while True:
                # With an event budget, the run goes in slices of STORM_SLICE; within each, more events than the
                # budget allows by the slice's end is a message storm (deterministic: it counts events, never
                # reads a clock). Without one, a single slice to ``until``.
                if per_ms:
                    end = min(until, (env._now // STORM_SLICE + 1) * STORM_SLICE)
                    limit = per_ms * end // 1000 + STORM_SLACK
                else:
                    end, limit = until, sys.maxsize
                events = self.events
                # Each loop below is SimPy 4's ``Environment.step`` written out (one call fewer per event), for
                # SimPy's events and for the plain calls of sim.world.events: pop the next one; carry out a call,
                # or run an event's callbacks and treat an event that failed (a process that raised) and that
                # nobody handled as SimPy would, by raising its exception.
                try:
                    if after_event is None:
                        while queue and queue[0][0] <= end:
                            env._now, _, _, event = heappop(queue)
                            try:
                                if event.__class__ is tuple:
                                    function, a, b = event
                                    function(a, b)
                                else:
                                    callbacks, event.callbacks = event.callbacks, None
                                    for callback in callbacks:
                                        callback(event)
                                    if not event._ok and not hasattr(event, "_defused"):
                                        raise event._value
                            except Exception as e:  # a node (or the world) raised: a finding, not a crash
                                self.events = events + 1
                                return self._raised(e)
                            events += 1
                            if checker.violation is not None:
                                self.events = events
                                return self._stop(checker.violation)
                            if events > limit:
                                self.events = events
                                return self._storm(per_ms)
                    else:
                        while queue and queue[0][0] <= end:
                            env._now, _, _, event = heappop(queue)
                            try:
                                if event.__class__ is tuple:
                                    function, a, b = event
                                    function(a, b)
                                else:
                                    callbacks, event.callbacks = event.callbacks, None
                                    for callback in callbacks:
                                        callback(event)
                                    if not event._ok and not hasattr(event, "_defused"):
                                        raise event._value
                            except Exception as e:
                                self.events = events + 1
                                return self._raised(e)
                            events += 1
                            self.events = events
                            if checker.violation is None:
                                after_event(self)  # may raise to stop the run: that is the caller's to catch
                            if checker.violation is not None:
                                return self._stop(checker.violation)
                            if events > limit:
                                return self._storm(per_ms)
                finally:
                    self.events = max(self.events, events)
                if end >= until:
                    break
                env._now = max(env._now, end)
        if env.now < until:
            env._now = until  # nothing left to happen before ``until``: let the clock reach it
        return None

    def _storm(self, per_ms: int) -> Violation:
        detail = f"message storm: more than {per_ms} events per simulated ms by t={self.env.now / 1000:.0f}ms"
        return self._stop(Violation(LIVELOCK, detail, ()))

    def _raised(self, e: Exception) -> Violation:
        """An exception escaped a SimPy process: name the server whose process raised it (its frame is in the
        traceback) and the line in our code or the node's where it was raised."""
        node: tuple[int | str, ...] = ()
        where = "?"
        if type(e.__cause__) is type(e):
            e = e.__cause__  # SimPy raises a copy of a process's exception, caused by the original
        tb = e.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code is Server._run.__code__:
                node = (frame.f_locals.get("nid"),)
            where = f"{Path(frame.f_code.co_filename).name}:{tb.tb_lineno} in {frame.f_code.co_name}"
            tb = tb.tb_next
        if isinstance(e, NodeFailure):  # a node that broke the contract: what it did is the finding, not where
            return self._stop(Violation(NODE_FAILURE, str(e), node))
        detail = f"{type(e).__name__}: {e} (raised at {where})"
        return self._stop(Violation(EXCEPTION, detail, node))

    def judge_history(self, budget: int = DEFAULT_BUDGET) -> Violation | None:
        """At the end of a run: is what the clients saw linearizable (the key-value model, key by key)? A
        violation stops the run like the checker's do (and is returned); the full verdict is kept in
        ``self.linearizability`` (``unknown`` when the search ran out of budget: said, never taken as ok)."""
        if self.violation is not None:
            return self.violation
        result = check(operations(self.history), KV, budget)
        self.linearizability = result
        if result.verdict != "violation":
            return None
        v = self._stop(Violation(LINEARIZABILITY, result.report(tail=8), (result.key or "",)))
        self.violation = v = replace(v, trace_tail="")  # the end of the run has nothing to say about it
        return v

    def _flushing(self, after_event: Callable[[Simulation], None] | None) -> Callable[[Simulation], None]:
        """``after_event`` preceded by writing out the streamed trace's records once there are ``CHUNK`` of them:
        the trace in memory stays that small however long the run (a check per event, paid only when streaming,
        whose JSON encoding costs far more)."""
        records = self.trace.records
        flush = self.trace.flush

        def flushing(sim: Simulation) -> None:
            if len(records) >= CHUNK:
                flush()
            if after_event is not None:
                after_event(sim)

        return flushing

    def _stop(self, v: Violation) -> Violation:
        tail = format_records(self.trace.last(30))
        self.violation = Violation(v.property, v.detail, v.nodes, self.env.now, self.events, tail)
        self.trace.add(
            self.env.now, "violation", None, {"property": v.property, "detail": v.detail, "nodes": list(v.nodes)}
        )
        return self.violation

    def at(self, time: int, action: Callable[[], Any]) -> None:
        """Call ``action`` at simulated time ``time`` (microseconds)."""
        call_later(self.env, max(0, time - self.env._now), _call, action, None)

    def at_each(self, actions: Iterable[tuple[int, Callable[[], Any]]]) -> None:
        """Call each action at its time, ``(time, action)`` in order of time: as ``at`` for each, one after the
        other, would. Each keeps the very place in the order of events that ``at`` gives it (its key is taken now),
        but only the next one waits in the event queue: a fault schedule can be as long as the run has messages in
        flight, and the queue costs more the longer it is."""
        env = self.env
        eid = env._eid  # type: ignore[attr-defined]
        keyed = [(max(env._now, time), NORMAL, next(eid), action) for time, action in actions]
        if keyed:
            _Chain(env, keyed)

    # ------------------------------------------------------------------------------------------ the trace

    def stream_trace(self, out: IO[str], scenario: str, source: str, duration: int) -> None:
        """Write the trace to ``out`` from now on, as the run goes (JSON Lines, ``scenarios/TRACE.md``): first a
        header naming the scenario (``source``: its file, or how else the run was made), the seed and the whole
        configuration with the run's ``duration`` (microseconds), then every record so far. ``end_trace`` writes
        the end record; the caller opens and closes ``out``."""
        net = self.network_config
        config = {
            "cluster": dataclasses.asdict(self.cluster),
            "network": {**dataclasses.asdict(net), "delay": describe_delay(net.delay)},
            "workload": {**dataclasses.asdict(self.workload), "ops": list(self.workload.ops)},
            "duration_us": duration,
        }
        header = {
            "t": 0,
            "ev": "header",
            "node": None,
            "format": FORMAT,
            "raftsim": __version__,
            "scenario": scenario,
            "source": source,
            "seed": self.seed,
            "config": config,
        }
        self.trace.stream(out, header)

    def end_trace(self, verdict: str | None = None) -> None:
        """Finish a streamed trace with the end record: the simulated time, the events processed and the verdict
        (``"ok"`` or the violated property; by default this run's violation, if any)."""
        if verdict is None:
            verdict = self.violation.property if self.violation is not None else "ok"
        end = {"t": self.env.now, "ev": "end", "node": None, "events": self.events, "verdict": verdict}
        self.trace.finish(end)

    # ------------------------------------------------------------------------------------------- observing

    def leaders(self) -> list[int]:
        """Live servers that believe they lead, highest term first."""
        found = [(s.state.term, s.id) for s in self.servers.values() if s.alive and s.state.role == LEADER]
        return [i for _, i in sorted(found, reverse=True)]

    def leader(self) -> int | None:
        ls = self.leaders()
        return ls[0] if ls else None

    def established_leader(self) -> tuple[int, int] | None:
        """The leader that a majority of its configuration's voters (itself included, if it is one) follow in its
        term, as (leader, term), or None. Unlike ``leader``, this ignores a deposed leader that has not heard of the
        newer term yet."""
        servers = self.servers
        for s in servers.values():
            state = s.state
            if not s.alive or state.role != LEADER:
                continue
            voters = s.configuration[1].voters
            count = 0
            for v in voters:
                o = servers.get(v)
                if o is None or not o.alive:
                    continue
                if v == s.id or (o.state.role == FOLLOWER and o.state.term == state.term and o.state.leader_id == s.id):
                    count += 1
            if count > len(voters) // 2:
                return s.id, state.term
        return None

    def members(self) -> tuple[int, ...]:
        """The voters of the latest configuration known to be committed (thesis 4.1): the cluster's members. A
        server that is not one (still joining, or removed) takes no part in what the cluster must agree on."""
        return self.committed_configuration[1].voters

    def configured(self, server: Server) -> None:
        """``server`` reported a new configuration in force: if it is committed there, it is the cluster's."""
        config = server.configuration
        if server.state.commit >= config[0] > self.committed_configuration[0]:
            self.commit_configuration(config)

    def commit_configuration(self, config: tuple[int, Configuration]) -> None:
        """A newer configuration is known to be committed: the members change, and so do the servers clients
        contact (the members, and servers whose addition is still under way)."""
        self.committed_configuration = config
        joining = [c.server for c in self.admin.outstanding.values() if c.op == "add"]
        members = config[1].voters
        self.directory[:] = [*members, *(s for s in dict.fromkeys(joining) if s not in members)]

    def state_machines_agree(self) -> bool:
        """Every live member's state machine is the same (a server still joining, or removed, may lag): they
        report the same last applied index and, where the implementation answers the contract's digest query, the
        same digest of their data and sessions (which catches state machines that differ at the same applied
        index: a node that applies an entry wrongly, or twice). Judged only through the contract: Outputs and
        queries."""
        members = self.members()
        applied = [s.state.last_applied for i, s in self.servers.items() if s.alive and i in members]
        if not all(a == applied[0] for a in applied[1:]):
            return False
        digests = self.digests(members)
        return all(d == digests[0] for d in digests[1:])

    def digests(self, among: tuple[int, ...] | None = None) -> list[str]:
        """Each live server's state machine digest (the contract's query "digest"), of the servers ``among`` (all:
        None), if the implementation answers it; else none."""
        if DIGEST not in self.implementation.capabilities:
            return []
        try:
            return [
                str(s.node.query("digest"))
                for i, s in self.servers.items()
                if s.alive and s.node is not None and (among is None or i in among)
            ]
        except NodeFailure as e:  # asked between inputs, it broke the contract: the run stops, as during one
            self._stop(Violation(NODE_FAILURE, str(e), ()))
            return ["", "(failed)"]

    def state_text(self) -> str:
        """Each live server's applied index (and state machine digest, when there is one), for reports."""
        digests = iter(self.digests() or [])
        return ", ".join(
            f"{i}: applied {s.state.last_applied}" + (f" digest {d[:12]}" if (d := next(digests, "")) else "")
            for i, s in self.servers.items()
            if s.alive
        )

    def close(self) -> None:
        """End every server's node (a process-backed implementation's processes). Idempotent; a finished run
        should be closed, though nothing is left behind if it is not (sim.nodes.process ends its processes when
        they are collected, and at exit)."""
        for server in self.servers.values():
            server.close()

    def dispose(self) -> None:
        """Close the run and let go of all it built, now, for a caller done with it (a campaign, once it has the
        seed's outcome). The simulation is unusable afterwards.

        A run is a web of reference cycles (each server and the simulation refer to each other, every process's
        generator to its own server or client, the network's endpoints and the event queue to their bound
        methods), so reference counting alone never frees it: the cyclic collector finds it later, after scanning
        each of its objects several times, which costs about as much again as freeing them. Emptying the
        attributes of the parts that hold those cycles lets reference counting free the rest at once."""
        self.close()
        self.env._queue.clear()  # type: ignore[attr-defined]
        for part in (*self.servers.values(), *self.clients.values(), self.admin, self.network, self):
            vars(part).clear()

    def alive(self) -> list[int]:
        return [i for i, s in self.servers.items() if s.alive]

    def pending_commands(self) -> int:
        """Client commands not yet answered, and membership changes the operator still waits for."""
        return sum(1 for c in self.clients.values() if c.outstanding is not None) + len(self.admin.outstanding)

    def acked(self) -> int:
        return sum(c.acked for c in self.clients.values())

    def latencies(self) -> LatencySummary:
        """Every client command's latency (microseconds), in ascending order."""
        return LatencySummary(c.latencies for c in self.clients.values())

    # -------------------------------------------------------------------------------------------- faults

    def _fault(self, action: str, **details: Any) -> None:
        self.faults.append((self.env.now, action, details))
        self.trace.add(self.env.now, "fault", None, {"action": action, **details})

    def crash(self, node: int) -> None:
        if self.servers[node].alive:
            self._fault("crash", nodes=[node])
            self.servers[node].crash()

    def restart(self, node: int) -> None:
        """Start a crashed server again from its durable state (a live one is crashed first)."""
        server = self.servers[node]
        self._fault("restart", nodes=[node])
        if server.alive:
            server.crash()
        server.boot()

    def partition(self, groups: list[list[int]]) -> None:
        self._fault("partition", groups=[list(g) for g in groups])
        self.network.partition(groups)

    def isolate(self, node: int) -> None:
        self._fault("isolate", nodes=[node])
        self.network.isolate(node)

    def cut(self, src: int, dst: int) -> None:
        self._fault("cut", src=src, dst=dst)
        self.network.cut(src, dst)

    def repair(self, src: int, dst: int) -> None:
        self._fault("repair", src=src, dst=dst)
        self.network.repair(src, dst)

    def heal(self) -> None:
        self._fault("heal")
        self.network.heal()

    def disconnect(self, node: int) -> None:
        """Cut ``node`` off from every other server until ``reconnect``; composes with other disconnections."""
        self._fault("disconnect", nodes=[node])
        self.network.disconnect(node)

    def reconnect(self, node: int) -> None:
        self._fault("reconnect", nodes=[node])
        self.network.reconnect(node)

    def submit(
        self, server: int, op: str, key: str | None = None, follow: bool = True, beside: int | None = None
    ) -> str:
        """A client of its own sends one operation to ``server`` now (``OneShot``: with ``follow`` it finds the
        leader and retries as workload clients do, without it makes that one attempt), beside server ``beside``
        if given; its key is ``key``, or the workload's keys in turn. Returns the client's name."""
        number = len(self.clients) - self.workload.clients + 1
        name = f"s{number}"
        key = key if key is not None else key_names(self.workload.keys)[(number - 1) % self.workload.keys]
        rng = stream(self.seed, f"clients/{name}")
        client = OneShot(
            self.env, self.network, self.trace, self.checker, list(self.servers), name, rng, self.workload,
            self.history, command=one_command(name, op, key), target=server, follow=follow,
        )  # fmt: skip
        self._fault("submit", nodes=[server], client=name, op=op, key=key)
        self.clients[name] = client
        self.network.attach(name, client.on_reply)
        if beside is not None:
            self.network.place(name, beside)
        client.start()
        return name

    def connected(self) -> list[int]:
        """Live servers that are not disconnected (``disconnect``), in order."""
        off = self.network.disconnected()
        return [i for i, s in self.servers.items() if s.alive and i not in off]

    def set_drop(self, p: float, kinds: tuple[str, ...] = ()) -> None:
        """The loss probability of every message, or with ``kinds`` (message kind names) of those kinds."""
        if kinds:
            self._fault("drop", value=p, kinds=list(kinds))
            self.network.set_kind(kinds, drop=p)
            return
        self._fault("drop", value=p)
        self.network.drop = p

    def set_duplicate(self, p: float) -> None:
        self._fault("duplicate", value=p)
        self.network.duplicate = p

    def set_delay(
        self, delay: Delay, src: int | None = None, dst: int | None = None, kinds: tuple[str, ...] = ()
    ) -> None:
        """The delay of every message, of the link ``src`` -> ``dst``, or with ``kinds`` of those kinds."""
        if kinds:
            self._fault("delay", value=describe_delay(delay), kinds=list(kinds))
            self.network.set_kind(kinds, delay=delay)
        elif src is None or dst is None:
            self._fault("delay", value=describe_delay(delay))
            self.network.delay = delay
        else:
            self._fault("delay", src=src, dst=dst, value=describe_delay(delay))
            self.network.set_link_delay(src, dst, delay)

    def set_drift(self, node: int, rate: float) -> None:
        self._fault("drift", nodes=[node], value=rate)
        self.servers[node].set_drift(rate)

    # --------------------------------------------------------------------------------------- membership

    def add_server(self, node: int) -> None:
        """Ask the cluster to add server ``node`` (thesis 4.2.1). A new id gets a new machine first: it boots
        empty, with no configuration, on the network (and in the checker's view), and waits for the leader."""
        self._fault("add_server", nodes=[node])
        if node not in self.servers:
            server = self.servers[node] = Server(self, node, self.node_class, ())
            self.network.join(node)
            self.checker.joined(node)
            server.boot()
        self.admin.request("add", node)

    def remove_server(self, node: int) -> None:
        """Ask the cluster to remove server ``node``. The server itself goes on running (thesis 4.2.3: it must not
        disrupt the cluster)."""
        self._fault("remove_server", nodes=[node])
        self.admin.request("remove", node)

    def transfer_leader(self, target: int | None) -> None:
        """Tell the leader of the moment (``leader()``) to hand over to ``target`` (thesis 3.10): an input to its
        node, not a message on the network. Nothing happens without a leader, or when ``target`` is it."""
        leader = self.leader()
        self._fault("transfer_leader", nodes=[] if target is None else [target], leader=leader)
        if leader is not None and target is not None and target != leader:
            self.servers[leader].deliver(TransferLeader(leader, target))


def _call(action: Callable[[], Any], _b: None) -> None:
    action()


class _Chain:
    """Actions keyed in the order of events in advance, queued one at a time (see ``Simulation.at_each``)."""

    __slots__ = ("env", "keyed")

    def __init__(self, env: Environment, keyed: list[tuple[int, int, int, Callable[[], Any]]]) -> None:
        self.env = env
        self.keyed = keyed  # (time, priority, event id, action), in order of key
        self._queue(0)

    def _queue(self, i: int) -> None:
        time, priority, eid, _action = self.keyed[i]
        heappush(self.env._queue, (time, priority, eid, (_Chain._fire, self, i)))  # type: ignore[attr-defined]

    def _fire(self, i: int) -> None:
        """``keyed[i]``'s time has come: queue the next one (its key orders it after this one), then act."""
        if i + 1 < len(self.keyed):
            self._queue(i + 1)
        self.keyed[i][3]()


def _ignore(*args: Any) -> None:
    pass


class _NoChecker(Checker):
    """Stands in for the checker when checking is off (benchmarks): every hook does nothing."""

    def observe(self, *args: Any, **kwargs: Any) -> None:
        pass

    def crashed(self, node: int) -> None:
        pass

    def restarted(self, *args: Any) -> None:
        pass

    def acked(self, *args: Any) -> None:
        pass
