"""The cluster's operator: asks for membership changes (thesis 4.1's AddServer and RemoveServer, one
``MembershipChange`` message each) as the scenario or the fuzzer schedules them.

Each change is one request, numbered by ``seq`` and followed to its end by a SimPy process of its own, so changes
asked for close together are in flight together and the leader serializes them (it answers ``busy`` to all but
one). A request goes to the server the operator believes leads and is retried like a client's command: on a
refusal naming a leader it goes there, on a refusal naming none it waits ``backoff`` and tries another server, on
``busy`` it waits ``backoff`` and asks the same leader again (for one ``timeout``: a leader busy for longer may
have been deposed without knowing it, so the operator tries another server then), and with no answer within
``timeout`` it tries another server. It ends with the
first final answer: ``ok`` (the configuration that makes it so is committed), ``timeout`` (the new server did not
catch up: the leader gave up, thesis 4.2.1) or ``invalid``; or, with ``give_up`` set (the workload's, as for
clients), when the operator stops waiting: ``unknown`` (the change may still happen).

The operator contacts the servers of ``directory`` (the simulation keeps it: the members, and servers whose
addition is under way); a new server joins it when its addition is asked for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simpy.events import Event, Timeout

from sim.raft.membership import ADD, BUSY, NOT_LEADER, REMOVE
from sim.raft.messages import MembershipChange, MembershipReply

if TYPE_CHECKING:
    from simpy import Environment

    from sim.trace import Trace
    from sim.world.network import Network

ADDRESS = "admin"
FINAL = frozenset({"ok", "timeout", "invalid"})


@dataclass
class ChangeRecord:
    """One membership change as the operator saw it (times in simulated microseconds)."""

    seq: int
    op: str
    server: int
    asked: int
    status: str | None = None  # the final answer, None while outstanding
    answered: int | None = None
    target: int | None = None  # the server the current attempt went to
    reply: MembershipReply | None = None
    waiter: Event | None = None


class Admin:
    def __init__(
        self,
        env: Environment,
        network: Network,
        trace: Trace,
        directory: list[int],
        rng: random.Random,
        timeout: int,
        backoff: int,
        give_up: int | None = None,
    ) -> None:
        self.env = env
        self.network = network
        self.trace = trace
        self.directory = directory
        self.rng = rng
        self.timeout = timeout
        self.backoff = backoff
        self.give_up = give_up
        self.seq = 0
        self.changes: list[ChangeRecord] = []  # every change asked for, in order
        self.outstanding: dict[int, ChangeRecord] = {}  # by seq
        self.leader_guess: int | None = None
        network.attach(ADDRESS, self.on_reply)

    def request(self, op: str, server: int) -> None:
        """Ask the cluster to ``op`` (``"add"`` or ``"remove"``) ``server``, from now until it answers for good."""
        if op not in (ADD, REMOVE):
            raise ValueError(f"unknown membership change {op!r}")
        self.seq += 1
        change = ChangeRecord(self.seq, op, server, self.env.now)
        self.changes.append(change)
        self.outstanding[change.seq] = change
        if op == ADD and server not in self.directory:
            self.directory.append(server)
        self.env.process(self._run(change))

    def idle(self) -> bool:
        return not self.outstanding

    def _run(self, change: ChangeRecord) -> Any:
        env = self.env
        target = self.leader_guess if self.leader_guess is not None else self.rng.choice(self.directory)
        give_up_at = None if self.give_up is None else change.asked + self.give_up
        busy_since: int | None = None
        while True:
            if change.status is not None:
                return  # a final answer came while this waited to try again (an answer to an earlier attempt)
            if give_up_at is not None and env.now >= give_up_at:
                self._settle(change, "unknown")
                return
            change.reply = None
            change.target = target
            change.waiter = waiter = Event(env)
            self.network.send(MembershipChange(ADDRESS, target, change.seq, change.op, change.server))
            wait = self.timeout if give_up_at is None else max(1, min(self.timeout, give_up_at - env.now))
            yield env.any_of([waiter, Timeout(env, wait)])
            change.waiter = None
            reply = change.reply
            if change.status is not None:
                return
            if reply is None or reply.status != BUSY:
                busy_since = None
            if reply is None:  # no answer: try another server
                self.leader_guess = None
                target = self._other(target)
            elif reply.status == NOT_LEADER and reply.leader_hint is not None and reply.leader_hint != target:
                self.leader_guess = target = reply.leader_hint
            elif reply.status == BUSY:
                # Another change is under way: ask the leader again later (another server, once it has been busy for
                # a whole timeout).
                busy_since = env.now if busy_since is None else busy_since
                yield Timeout(env, self.backoff)
                if env.now - busy_since >= self.timeout:
                    busy_since = None
                    self.leader_guess = None
                    target = self._other(target)
                continue
            else:  # the server knows no leader: wait, then try elsewhere
                self.leader_guess = None
                yield Timeout(env, self.backoff)
                target = self._other(target)

    def on_reply(self, m: MembershipReply) -> None:
        change = self.outstanding.get(m.seq)
        if change is None:
            return  # a late or duplicated answer to a change already settled
        if m.status in FINAL:
            self.leader_guess = m.src
            self._settle(change, m.status)
        elif m.src != change.target:
            return  # a refusal from a server an earlier attempt went to: not this attempt's
        change.reply = m
        waiter = change.waiter
        if waiter is not None and not waiter.triggered:
            waiter.succeed()

    def _settle(self, change: ChangeRecord, status: str) -> None:
        now = self.env.now
        change.status = status
        change.answered = now
        del self.outstanding[change.seq]
        self.trace.add(
            now, "membership", ADDRESS, {"seq": change.seq, "op": change.op, "server": change.server, "status": status}
        )

    def _other(self, current: int) -> int:
        others = [s for s in self.directory if s != current] or self.directory
        return self.rng.choice(others)
