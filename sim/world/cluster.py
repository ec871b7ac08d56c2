"""The simulated cluster: SimPy processes that drive pure Raft nodes through a simulated network and disk.

A ``Server`` is one machine: a SimPy process that takes inputs (messages, timer expiries) from its inbox one at a
time, feeds them to its ``sim.raft.Node`` and carries out the node's ``Output`` in etcd's order: make the writes
durable (waiting ``disk_latency`` if set), then send the messages, then arm the timers. A crash bumps the
server's incarnation, which makes every timer, inbox item and half-finished write of the old incarnation stale;
a restart builds a new Node from what had become durable.

Time is integer microseconds of simulated time. ``Simulation.run`` steps the SimPy environment one event at a
time and lets the checker stop the run after the first event that breaks an invariant.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import IO, Any

from simpy import Environment
from simpy.events import Event, Process, Timeout

from sim import __version__
from sim.check.linearizability import DEFAULT_BUDGET, LinResult, check
from sim.check.models import KV
from sim.check.properties import EXCEPTION, LINEARIZABILITY, LIVELOCK
from sim.check.safety import Checker, Violation
from sim.raft.messages import Message, RequestVoteReply, TransferLeader
from sim.raft.node import FOLLOWER, LEADER, Node, Output, SoftState
from sim.rng import stream
from sim.trace import CHUNK, FORMAT, Trace, format_records
from sim.world.clients import Client, LatencySummary, OpRecord, operations
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.network import Delay, Network, describe_delay
from sim.world.storage import Storage
from sim.world.timers import LazyTimer

STORM_SLICE = 100_000  # microseconds: the event budget is checked per slice of this length
STORM_SLACK = 20_000  # events allowed beyond the budget (a run's start, a burst)


class Server:
    """One simulated machine: its Raft node, inbox, timers, disk and (possibly drifting) clock."""

    def __init__(self, sim: Simulation, node_id: int, node_class: type[Node]) -> None:
        self.sim = sim
        self.env = sim.env
        self.id = node_id
        self.node_class = node_class
        self.storage = Storage()
        self.rng = stream(sim.seed, f"timers/{node_id}")
        self.alive = False
        self.node: Node | None = None
        self.incarnation = 0
        self.inbox: deque[Any] = deque()
        self.waiter: Event | None = None
        self.process: Process | None = None
        self.writing = False
        self._being_written: Output | None = None  # the Output whose writes are on their way to the disk
        # What the node last reported of its volatile state (``Output.soft_state``): who it follows in which
        # term, what it has committed and applied. The world reads a server only through this and what its
        # Outputs carry, never through the node's attributes. Meaningful while ``alive``.
        self.state = SoftState(FOLLOWER, 0, None, 0, 0)
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
        self._record = sim.trace.records.append
        self._send = sim.network.send
        self._observe = sim.checker.observe

    # ------------------------------------------------------------------------------------------ lifecycle

    def boot(self) -> None:
        self.incarnation += 1
        self.alive = True
        self.inbox = deque()
        self.waiter = None
        self.timers = {}
        self.fired = {}
        state = self.storage.state()
        raft = self.sim.cluster.raft
        peers = tuple(range(1, self.sim.cluster.nodes + 1))
        node = self.node_class(self.id, peers, raft, self.rng, state)
        self.node = node
        # Until its first Output reports otherwise, a booted node is a follower in its durable term (the contract
        # in sim.raft.output).
        self.state = SoftState(FOLLOWER, state.term, None, 0, 0)
        now = self.env.now
        self.sim.trace.add(now, "boot", self.id, {"term": state.term, "log": len(state.entries)})
        self.sim.checker.restarted(self.id, state.term, state.entries)
        self.process = self.env.process(self._run(self.incarnation, node))
        self.sim.network.attach(self.id, self.deliver)

    def crash(self) -> None:
        if not self.alive:
            return
        self.sim.trace.add(self.env.now, "crash", self.id, {"lost_writes": int(self.writing)})
        self.alive = False
        self.incarnation += 1
        self.node = None
        self.inbox = deque()
        self.waiter = None
        self.writing = False
        self._being_written = None
        for timer in self.timers.values():
            timer.cancel()  # their pending events, when they fire, find nothing to do
        self.timers = {}
        self.fired = {}
        self.sim.network.endpoint_restarted(self.id)
        self.sim.network.attach(self.id, self._drop)
        self.sim.checker.crashed(self.id)

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
        out: Output | None = node.start(self.local_now())
        while True:
            if out is not None:
                # 0. The node's soft state, kept as soon as it is reported (what it says of itself does not wait
                # for the disk).
                soft = out.soft_state
                if soft is not None:
                    self.state = soft
                    role, term, _, commit, _ = soft
                # 1. Durability: messages that depend on the writes leave only once they are durable.
                if out.hard_state is not None or out.log_from is not None:
                    latency = sim.cluster.disk_latency
                    if latency:
                        early = out.unsynced_messages
                        if early:
                            for m in early:
                                send(m)
                            out.unsynced_messages = []
                        self.writing = True
                        self._being_written = out
                        yield Timeout(env, latency)
                        if self.incarnation != incarnation:
                            return  # crashed before the write became durable: it is lost
                        self.writing = False
                        self._being_written = None
                    self.storage.write(out)
                now = env._now
                # 2. The checker and the trace see what changed.
                changed = role != traced_role or term != traced_term
                if changed:
                    traced_role = role
                    traced_term = term
                    record((now, "state", nid, {"role": role, "term": term}))
                    if role == LEADER:
                        sim.elections.append((now, nid, term))
                applied = out.applied
                log_from = out.log_from
                if changed or commit != traced_commit or applied or log_from is not None:
                    # Only inputs that changed something the checker watches are shown to it.
                    self._observe(nid, term, role, commit, log_from, out.log_entries, applied)
                    if log_from is not None:
                        # The durable log changed: enough for a reader to rebuild each log from the trace.
                        record((now, "append", nid, (log_from, out.log_entries)))
                    if commit != traced_commit:
                        traced_commit = commit
                        record((now, "commit", nid, commit))
                        if commit > sim.committed:
                            sim.committed = commit
                    for index_entry in applied:
                        record((now, "apply", nid, index_entry))
                # 3. Messages.
                if out.unsynced_messages:
                    for m in out.unsynced_messages:
                        send(m)
                for m in out.messages:
                    if m.__class__ is RequestVoteReply and m.granted and not m.prevote:
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
                        timer.arm(now + (local_delay if self.rate == 1.0 else math.ceil(local_delay / self.rate)))
            # The next input.
            if inbox:
                item = inbox.popleft()
            else:
                self.waiter = waiter = Event(env)
                item = yield waiter  # ``deliver`` hands over the input as the event's value
            now = env._now + self.offset if self.rate == 1.0 else self.local_now()
            if item.__class__ is str:
                if fired.get(item):
                    fired[item] = False
                    out = node.tick(item, now)
                else:
                    out = None  # re-armed or cancelled after it expired, by an input handled since: superseded
            else:
                out = node.step(item, now)

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index`` in the log as the node's Outputs wrote it: the durable log, with the
        write on its way to the disk applied over it; -1 if there is none."""
        w = self._being_written
        if w is not None and w.log_from is not None and index >= w.log_from:
            k = index - w.log_from
            return w.log_entries[k].term if k < len(w.log_entries) else -1
        return self.storage.term_at(index)

    def deliver(self, item: Any) -> None:
        """Hand an input (a message, or the name of an expired timer) to the process: at once if it is idle,
        else through the inbox, which it empties before it waits again."""
        waiter = self.waiter
        if waiter is None:
            self.inbox.append(item)
            return
        self.waiter = None
        # Trigger the event the idle process waits on and resume the process at once, rather than through
        # the event queue (``waiter.succeed(item)``): same simulated time, same order of inputs, and one heap
        # push, pop and event fewer per message. Inputs only ever arrive from event callbacks, never from
        # inside a server's own process, so this never resumes a process re-entrantly.
        waiter._ok = True
        waiter._value = item
        self.process._resume(waiter)

    def _drop(self, m: Message) -> None:
        """Takes the messages that arrive while this server is down."""
        self._record((self.env._now, "drop", self.id, (m, "crashed")))

    # ------------------------------------------------------------------------------------------ clock, timers

    def local_now(self) -> int:
        if self.rate == 1.0:
            return self.anchor_local + (self.env.now - self.anchor_real)
        return self.anchor_local + int((self.env.now - self.anchor_real) * self.rate)

    def set_drift(self, rate: float) -> None:
        """From now on this server's clock (and so its timers) runs ``rate`` times as fast as real time."""
        if not rate > 0:
            raise ValueError(f"clock rate must be positive, got {rate}")
        self.anchor_local = self.local_now()
        self.anchor_real = self.env.now
        self.offset = self.anchor_local - self.anchor_real
        self.rate = rate

    def _expired(self, timer: str) -> None:
        """A timer expired: its name goes to the process as an input, current until the timer is re-armed."""
        self.fired[timer] = True
        self.deliver(timer)


class Simulation:
    """A cluster, its network, its clients and the checker, in one SimPy environment, all seeded from ``seed``.

    Fault injection: ``crash``, ``restart``, ``partition``, ``isolate``, ``cut``, ``repair``, ``heal``,
    ``set_drop``, ``set_duplicate``, ``set_delay``, ``set_drift``, and the operator's ``transfer_leader``;
    ``at(time, fn)`` schedules any of them.
    """

    def __init__(
        self,
        cluster: ClusterConfig | None = None,
        network: NetworkConfig | None = None,
        workload: WorkloadConfig | None = None,
        seed: int = 0,
        trace: bool = True,
        check: bool = True,
    ) -> None:
        self.cluster = cluster = cluster or ClusterConfig()
        self.network_config = network = network or NetworkConfig()
        self.workload = workload = workload or WorkloadConfig()
        self.seed = seed
        self.env = Environment()
        self.trace = Trace(enabled=trace)
        ids = list(range(1, cluster.nodes + 1))
        self.checker = Checker(ids) if check else _NoChecker(ids)
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
        node_class: type[Node] = Node
        if cluster.bug:
            from sim.nodes.bugs import node_class_for

            node_class = node_class_for(cluster.bug)
        self.servers: dict[int, Server] = {i: Server(self, i, node_class) for i in ids}
        self.events = 0
        self.committed = 0  # highest commit index any server reached
        self.elections: list[tuple[int, int, int]] = []  # (time, leader, term)
        self.faults: list[tuple[int, str, dict[str, Any]]] = []
        self.violation: Violation | None = None
        self.clients: dict[str, Client] = {}
        self.history: list[OpRecord] = []  # every client operation, in order of invocation
        self.linearizability: LinResult | None = None  # the verdict on the history, once judged
        for i in range(workload.clients):
            name = f"c{i + 1}"
            rng = stream(seed, f"clients/{name}")
            client = Client(self.env, self.network, self.trace, self.checker, ids, name, rng, workload, self.history)
            self.clients[name] = client
            self.network.attach(name, client.on_reply)
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
        step = env.step
        queue = env._queue  # SimPy 4's event heap of (time, priority, id, event): peek() without the call
        checker = self.checker
        per_ms = self.cluster.max_events_per_ms
        collecting = gc.isenabled()
        gc.disable()
        try:
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
                try:
                    if after_event is None:
                        while queue and queue[0][0] <= end:
                            try:
                                step()
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
                            try:
                                step()
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
        finally:
            if collecting:
                gc.enable()
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
        ev = Timeout(self.env, max(0, time - self.env.now))
        ev.callbacks.append(lambda _ev: action())

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
        """The leader that a majority of servers (itself included) follow in its term, as (leader, term), or None.
        Unlike ``leader``, this ignores a deposed leader that has not heard of the newer term yet."""
        need = len(self.servers) // 2 + 1
        for s in self.servers.values():
            state = s.state
            if not s.alive or state.role != LEADER:
                continue
            count = 1 + sum(
                1
                for o in self.servers.values()
                if o.alive
                and o.id != s.id
                and o.state.role == FOLLOWER
                and o.state.term == state.term
                and o.state.leader_id == s.id
            )
            if count >= need:
                return s.id, state.term
        return None

    def state_machines_agree(self) -> bool:
        """Every live server has applied the same entries to its state machine: they report the same last
        applied index, and the checker's StateMachineSafety holds every entry applied at an index to the one
        committed there, so their (deterministic) state machines are the same. Judged from what the servers
        report, so it needs nothing of a node but its Outputs."""
        applied = [s.state.last_applied for s in self.servers.values() if s.alive]
        return all(a == applied[0] for a in applied[1:])

    def state_text(self) -> str:
        """Each live server's applied index, for reports."""
        return ", ".join(f"{i}: applied {s.state.last_applied}" for i, s in self.servers.items() if s.alive)

    def alive(self) -> list[int]:
        return [i for i, s in self.servers.items() if s.alive]

    def pending_commands(self) -> int:
        return sum(1 for c in self.clients.values() if c.outstanding is not None)

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

    def set_drop(self, p: float) -> None:
        self._fault("drop", value=p)
        self.network.drop = p

    def set_duplicate(self, p: float) -> None:
        self._fault("duplicate", value=p)
        self.network.duplicate = p

    def set_delay(self, delay: Delay, src: int | None = None, dst: int | None = None) -> None:
        if src is None or dst is None:
            self._fault("delay", value=describe_delay(delay))
            self.network.delay = delay
        else:
            self._fault("delay", src=src, dst=dst, value=describe_delay(delay))
            self.network.set_link_delay(src, dst, delay)

    def set_drift(self, node: int, rate: float) -> None:
        self._fault("drift", nodes=[node], value=rate)
        self.servers[node].set_drift(rate)

    def transfer_leader(self, target: int | None) -> None:
        """Tell the leader of the moment (``leader()``) to hand over to ``target`` (thesis 3.10): an input to its
        node, not a message on the network. Nothing happens without a leader, or when ``target`` is it."""
        leader = self.leader()
        self._fault("transfer_leader", nodes=[] if target is None else [target], leader=leader)
        if leader is not None and target is not None and target != leader:
            self.servers[leader].deliver(TransferLeader(leader, target))


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
