"""The cluster's operator: asks for membership changes (thesis 4.1's AddServer and RemoveServer, one
``MembershipChange`` message each) as the scenario or the fuzzer schedules them.

Each change is one request, numbered by ``seq`` and followed to its end by a SimPy process of its own, so changes
asked for close together are in flight together and the leader serializes them (it answers ``busy`` to all but
one). A request goes to the server the operator believes leads and is retried like a client's command: on a
refusal naming a leader it goes there, on a refusal naming none (or ``busy``) it waits ``backoff`` and tries again
(another server, or the same leader), with no answer within ``timeout`` it tries another server. It ends with the
first final answer: ``ok`` (the configuration that makes it so is committed), ``timeout`` (the new server did not
catch up: the leader gave up, thesis 4.2.1) or ``invalid``.

The operator also keeps the list of servers clients may contact (``directory``): a new server joins it when its
addition is asked for, a removed one leaves it once its removal is committed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simpy.events import Event, Timeout

from sim.raft.membership import ADD, BUSY, NOT_LEADER, OK, REMOVE
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
    ) -> None:
        self.env = env
        self.network = network
        self.trace = trace
        self.directory = directory
        self.rng = rng
        self.timeout = timeout
        self.backoff = backoff
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
        attempt = 0
        while True:
            attempt += 1
            change.reply = None
            change.target = target
            change.waiter = waiter = Event(env)
            self.network.send(MembershipChange(ADDRESS, target, change.seq, change.op, change.server))
            yield env.any_of([waiter, Timeout(env, self.timeout)])
            change.waiter = None
            reply = change.reply
            if change.status is not None:
                return
            if reply is None:  # no answer: try another server
                self.leader_guess = None
                target = self._other(target)
            elif reply.status == NOT_LEADER and reply.leader_hint is not None and reply.leader_hint != target:
                self.leader_guess = target = reply.leader_hint
            elif reply.status == BUSY:
                self.leader_guess = target
                yield Timeout(env, self.backoff)  # another change is under way: ask the leader again later
            else:  # the server knows no leader: wait, then try elsewhere
                self.leader_guess = None
                yield Timeout(env, self.backoff)
                target = self._other(target)

    def on_reply(self, m: MembershipReply) -> None:
        change = self.outstanding.get(m.seq)
        if change is None:
            return  # a late or duplicated answer to a change already settled
        if m.status in FINAL:
            now = self.env.now
            change.status = m.status
            change.answered = now
            del self.outstanding[m.seq]
            self.leader_guess = m.src
            self.trace.add(
                now, "membership", ADDRESS, {"seq": m.seq, "op": change.op, "server": change.server, "status": m.status}
            )
            if m.status == OK and change.op == REMOVE and change.server in self.directory and len(self.directory) > 1:
                self.directory.remove(change.server)
        elif m.src != change.target:
            return  # a refusal from a server an earlier attempt went to: not this attempt's
        change.reply = m
        waiter = change.waiter
        if waiter is not None and not waiter.triggered:
            waiter.succeed()

    def _other(self, current: int) -> int:
        others = [s for s in self.directory if s != current] or self.directory
        return self.rng.choice(others)


__all__ = ["ADDRESS", "OK", "Admin", "ChangeRecord"]
