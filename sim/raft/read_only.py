"""Reads without a log entry (thesis 6.4): ReadIndex and leases. The leader's bookkeeping, as etcd-io/raft's
``read_only.go``, and the node's side of it.

``RaftConfig.read`` says how a leader serves a client's get:

- ``LOG`` (the default): as any other command. It is appended, committed and applied, and the leader answers it
  when it applies it. That is linearizable, at the price of a log write on a quorum.
- ``READ_INDEX`` (thesis 6.4): without a log entry.

  1. The leader waits until it has committed an entry of its own term (its no-op, Section 8). Until then its
     commit index can be behind entries that an earlier leader committed and acknowledged. Reads that arrive
     earlier are held.
  2. It takes its commit index as the read's *read index*.
  3. It confirms that it still leads. It begins a heartbeat round, and waits until a quorum (itself included,
     counted by ``sim.raft.quorum``'s one rule) has answered a message of that round or a later one.
  4. It waits until it has applied the read index. A leader applies its entries as soon as it commits them, so
     this holds at once. The check is kept anyway, because it is what makes the answer right.
  5. It answers from its state machine.

- ``LEASE`` (thesis 6.4.1): as ``READ_INDEX``, but while the leader holds a lease it skips step 3 and answers at
  once.

**Rounds.** Every AppendEntries a leader sends carries its current round, and the reply echoes it. Round r begins
at the leader's local time s_r, before any message of round r leaves. A reply for round r or later comes from a
server that took this leader for the leader of its term after s_r. A rejection counts too: it was sent in the
leader's term. Once a quorum has answered round r, no newer leader can have been elected before s_r. Any such
election needed a quorum of votes, one of those voters answered this leader's term after s_r, and a server that
has voted in a newer term does not answer an older one. So a read that arrived before s_r may be answered with
the commit index it recorded. Rounds begin at each heartbeat and at each read that has to confirm leadership.
They number from 1 in each term, so stale replies from earlier terms never count: the node drops them by term.

**The lease.** In lease mode every server promises not to vote for another candidate for ``election_timeout_min``
of its own clock after it last heard from a leader, and after a reboot (``node.Node.start``; the promise it gave
just before a crash still holds). This is the check of thesis 4.2.3 that CheckQuorum also turns on. Suppose clock
rates differ by at most a factor ``1 + lease_drift`` between servers. When a quorum has answered round r, each of
them heard from the leader after s_r, and so will refuse votes for real time
``election_timeout_min / (its clock rate)``. The leader's own clock measures that interval as at least
``election_timeout_min / (1 + lease_drift)``. No other leader can be elected before the leader's clock reads
``s_r + election_timeout_min / (1 + lease_drift)``, and that is the lease. It runs from the time the round was
*sent*, not from when it was acknowledged. If clocks drift further apart than the bound, the lease is unsafe:
``scenarios/stale-lease-read.toml`` shows it, and the linearizability check catches the stale read.

One exception: a leadership transfer (``sim.raft.transfer``). The target's election skips that promise, so a
leader that starts a transfer gives up its lease for the rest of its term (``ReadOnly.forgo_lease``). Its
TimeoutNow can arrive late, and only a new term makes it stale.
"""

from __future__ import annotations

from collections import deque

from .messages import ClientReply, ClientRequest
from .quorum import Configuration

LOG = "log"
READ_INDEX = "readindex"
LEASE = "lease"
READ_MODES = (LOG, READ_INDEX, LEASE)
DEFAULT_LEASE_DRIFT = 0.1  # clocks that run at most 10% apart


def lease_duration(election_timeout_min: int, lease_drift: float) -> int:
    """How long after a confirmed round began the leader may answer reads at once (its local microseconds): the
    minimum election timeout shrunk by the clock-drift bound."""
    return int(election_timeout_min / (1.0 + lease_drift))


class ReadOnly:
    """A leader's rounds, its lease and its reads in waiting, for one term (a new leader starts afresh).

    ``round`` is the current round, carried by every AppendEntries. ``acknowledge`` records that a server answered
    a round and returns whether the *confirmed* round (the highest one a quorum has answered) moved on. A read
    waits in ``waiting`` as (round, read index, request), in order of arrival, so rounds and read indexes never
    decrease along the queue. A read that came before the term's first commit waits in ``held``."""

    __slots__ = ("_acked", "_started", "confirmed", "duration", "held", "lease", "lease_until", "round", "waiting")

    def __init__(self, duration: int = 0) -> None:
        self.duration = duration  # the lease (0: none)
        self.round = 0
        self.confirmed = 0
        self._acked: dict[int, int] = {}  # server -> the highest round it answered
        self._started: dict[int, int] = {}  # round -> the leader's local time it began, until confirmed
        self.lease = duration > 0  # False once given up for the term (a leadership transfer)
        self.lease_until = 0  # the lease holds while the leader's clock reads less than this
        self.waiting: deque[tuple[int, int, ClientRequest]] = deque()
        self.held: list[ClientRequest] = []

    def __repr__(self) -> str:
        return (
            f"ReadOnly(round={self.round}, confirmed={self.confirmed}, lease_until={self.lease_until}, "
            f"waiting={len(self.waiting)}, held={len(self.held)})"
        )

    def begin_round(self, now: int) -> int:
        """A new round begins at local time ``now``; the messages that carry it have not left yet."""
        self.round += 1
        self._started[self.round] = now
        return self.round

    def acknowledge(self, server: int, round: int, configuration: Configuration) -> bool:
        """``server`` answered a message of ``round`` (the leader acknowledges its own rounds as it begins them).
        Returns whether the confirmed round advanced; the lease, if any, then runs from when that round began."""
        acked = self._acked
        if round <= acked.get(server, 0):
            return False
        acked[server] = round
        if round <= self.confirmed:
            return False  # the quorum's round can only reach a round some server answered
        confirmed = configuration.committed_index(acked)
        if confirmed <= self.confirmed:
            return False
        self.confirmed = confirmed
        started = self._started
        began = started[confirmed]
        for r in [r for r in started if r <= confirmed]:
            del started[r]
        if self.lease:
            self.lease_until = max(self.lease_until, began + self.duration)
        return True

    def lease_holds(self, now: int) -> bool:
        return now < self.lease_until

    def forgo_lease(self) -> None:
        """No lease for the rest of the term: reads confirm leadership by a round."""
        self.lease = False
        self.lease_until = 0

    def ready(self, applied: int) -> list[ClientRequest]:
        """The waiting reads that may be answered now: their round confirmed, their read index applied."""
        out = []
        waiting = self.waiting
        while waiting and waiting[0][0] <= self.confirmed and waiting[0][1] <= applied:
            out.append(waiting.popleft()[2])
        return out


class LeaderReads:
    """The node's side of reads without a log entry, mixed into ``sim.raft.node.Node``. These methods use the node's
    own state (its log, commit index, state machine, configuration) and its ``reads`` (a ``ReadOnly``)."""

    def _on_reads(self, requests: list[ClientRequest]) -> None:
        """Gets that reached the leader while its reads do not go through the log (steps 1 to 5 above)."""
        reads = self.reads
        if not self._committed_in_term():
            reads.held.extend(requests)  # step 1: released by _maybe_commit once the no-op commits
            return
        if reads.lease_holds(self.now):
            for m in requests:
                self._answer_read(m)
            return
        r = self._begin_round()
        for m in requests:
            reads.waiting.append((r, self.commit, m))
        self._broadcast_append(heartbeat=True)
        self._serve_reads()  # a cluster of one: its own answer was a quorum

    def _committed_in_term(self) -> bool:
        """Whether the leader has committed an entry of its own term, so that its commit index is at least that of
        every earlier leader (Leader Completeness and the Section 5.4.2 rule)."""
        return self.log.term_at(self.commit) == self.term

    def _begin_round(self) -> int:
        r = self.reads.begin_round(self.now)
        self.reads.acknowledge(self.id, r, self.configuration)
        return r

    def _serve_reads(self) -> None:
        for m in self.reads.ready(self.last_applied):
            self._answer_read(m)

    def _release_held_reads(self) -> None:
        held = self.reads.held
        self.reads.held = []
        self._on_reads(held)

    def _answer_read(self, m: ClientRequest) -> None:
        # Index 0: answered without a log entry (the client checks no commit for it; the history still holds it).
        c = m.command
        self._send(ClientReply(self.id, m.src, c.seq, True, self.kv.data.get(c.key, ""), None, 0))

    def _vote_promised_away(self) -> bool:
        """Lease mode: this server heard from a leader (or booted) less than an election timeout ago by its own
        clock, and so has promised not to vote for a candidate that would depose it."""
        contact = self.last_leader_contact
        return contact is not None and self.now - contact < self.config.election_timeout_min
