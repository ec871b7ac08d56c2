"""A Raft server as a pure state machine (sans-I/O): the paper's Figure 2, Section 8, and PreVote/CheckQuorum.

A ``Node`` does no I/O and reads no clock. Every input carries the node's local time ``now`` (integer
microseconds) and returns an ``Output`` (``sim.raft.output`` documents every field): its soft state when it
changed, state to make durable, messages to send (only once that state is durable), timers to arm, and the
entries it applied. The caller must handle an Output in that order, as etcd's ``Ready``: persist, then send, then
arm timers. Inputs:

- ``step(msg, now)``: a peer message or a client request;
- ``tick(timer, now)``: a timer the node armed has expired;
- ``Node(..., state=PersistentState)`` followed by ``start(now)``: a restart from what was made durable.

Randomness (election timeouts) comes only from the ``random.Random`` the caller passes in.

Concerns beside this step function: ``log`` (the log after a snapshot point), ``quorum`` (every majority
decision, given the ``Configuration`` the node holds), ``progress`` (each follower as the leader sees it),
``read_only`` (reads without a log entry: ReadIndex and leases) and ``transfer`` (leadership transfer); the last two
bring the node's side of their feature as a class ``Node`` inherits from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .kv import KeyValueStore
from .log import RaftLog
from .messages import (
    AppendEntries,
    AppendEntriesReply,
    ClientReply,
    ClientRequest,
    Command,
    Entry,
    Message,
    RequestVote,
    RequestVoteReply,
    TimeoutNow,
    TransferLeader,
)
from .output import Output, PersistentState, SoftState
from .progress import REPLICATE, SNAPSHOT, Progress
from .quorum import WON, Configuration
from .read_only import DEFAULT_LEASE_DRIFT, LEASE, LOG, READ_MODES, LeaderReads, ReadOnly, lease_duration
from .transfer import TRANSFER, LeadershipTransfer

__all__ = [
    "CANDIDATE",
    "ELECTION",
    "FOLLOWER",
    "HEARTBEAT",
    "LEADER",
    "PRECANDIDATE",
    "TRANSFER",
    "Node",
    "Output",
    "PersistentState",
    "RaftConfig",
    "SoftState",
]

# SoftState from a plain tuple without NamedTuple's Python-level constructor (once per input that changes it).
_soft_state = tuple.__new__

FOLLOWER = "follower"
PRECANDIDATE = "precandidate"
CANDIDATE = "candidate"
LEADER = "leader"

ELECTION = "election"
HEARTBEAT = "heartbeat"


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Protocol parameters. Times are microseconds of the node's local clock."""

    election_timeout_min: int = 150_000
    election_timeout_max: int = 300_000
    heartbeat_interval: int = 50_000
    max_batch: int = 64  # entries per AppendEntries
    max_inflight: int = 16  # AppendEntries carrying entries unacknowledged per follower (flow control)
    prevote: bool = False
    check_quorum: bool = False
    # A candidate's RequestVotes leave while its new term and self-vote are still being written (in the spirit of
    # the thesis's Section 10.2.1, where a leader writes its log in parallel with replicating it). Safe because a
    # RequestVote commits the sender to nothing, and the candidate handles no reply, so counts no vote, before its
    # own write is durable: its environment feeds it one input at a time, after the previous Output's writes.
    early_vote_requests: bool = False
    # How a leader answers a get (sim.raft.read_only): "log" (a command like the others), "readindex" or "lease"
    # (thesis 6.4, without a log entry). lease_drift: the bound on how much faster one server's clock may run
    # than another's (0.1: 10%); the lease is election_timeout_min / (1 + lease_drift).
    read: str = LOG
    lease_drift: float = DEFAULT_LEASE_DRIFT

    def __post_init__(self) -> None:
        if not 0 < self.election_timeout_min <= self.election_timeout_max:
            raise ValueError("need 0 < election_timeout_min <= election_timeout_max")
        if self.heartbeat_interval <= 0 or self.max_batch <= 0 or self.max_inflight <= 0:
            raise ValueError("heartbeat_interval, max_batch and max_inflight must be positive")
        if self.read not in READ_MODES or not self.lease_drift >= 0:
            raise ValueError(f"read must be one of {', '.join(READ_MODES)} and lease_drift >= 0")


class Node(LeaderReads, LeadershipTransfer):
    def __init__(
        self,
        node_id: int,
        voters: tuple[int, ...],
        config: RaftConfig,
        rng: random.Random,
        state: PersistentState | None = None,
    ) -> None:
        """Server ``node_id`` of a cluster whose voters are ``voters`` (itself included), restarting from
        ``state`` (what it had made durable) or booting empty."""
        state = state or PersistentState()
        self.id = node_id
        self.configuration = Configuration(tuple(voters))
        # Every other server of the configuration, in its order: whom a candidate and a leader send to.
        self.peers = tuple(p for p in self.configuration.ids() if p != node_id)
        self.config = config
        self.rng = rng
        self._timeout_min = config.election_timeout_min
        self._timeout_span = config.election_timeout_max - config.election_timeout_min + 1
        # Persistent (Figure 2).
        self.term = state.term
        self.voted_for = state.voted_for
        self.log = RaftLog(state.entries)
        # Volatile, all servers.
        self.role = FOLLOWER
        self.leader_id: int | None = None
        self.commit = 0
        self.last_applied = 0
        self.kv = KeyValueStore()
        self.now = 0
        self.last_leader_contact: int | None = None
        # Candidates and pre-candidates: who granted a vote, who refused it.
        self.votes: set[int] = set()
        self.rejections: set[int] = set()
        # Leaders.
        self.progress: dict[int, Progress] = {}
        # Each server's matchIndex (the leader's own: its last index), as the quorum rule reads it; kept equal to
        # ``progress[p].match``.
        self.match: dict[int, int] = {}
        self.last_ack: dict[int, int] = {}
        self.pending: dict[int, Command] = {}  # log index -> client command waiting for its reply
        self.reads = ReadOnly()  # rounds, lease, reads waiting (sim.raft.read_only): a new one for each term led
        self.transferee: int | None = None  # the server a leadership transfer hands over to (sim.raft.transfer)
        self._hard_dirty = False
        self._log_from: int | None = None
        # The soft state last reported in an Output (None: nothing yet, so the first Output reports it).
        self._reported: tuple[str, int, int | None, int, int] | None = None
        self.out = Output()

    # ------------------------------------------------------------------ inputs

    def start(self, now: int) -> Output:
        """First input after construction (a boot or a restart): arm the election timer."""
        self.now = now
        if self.config.read == LEASE:
            # It may have answered a lease round just before a crash: the promise not to vote stands (read_only).
            self.last_leader_contact = now
        self._reset_election_timer()
        return self._take()

    def tick(self, timer: str, now: int) -> Output:
        self.now = now
        if timer == ELECTION:
            if self.role != LEADER:
                if self.config.prevote:
                    self._pre_campaign()
                else:
                    self._campaign()
        elif timer == HEARTBEAT and self.role == LEADER:
            self._on_heartbeat_timer()
        elif timer == TRANSFER:
            self._on_transfer_timeout()
        return self._take()

    def step(self, m: Message, now: int) -> Output:
        self.now = now
        kind = type(m)
        if kind is ClientRequest:
            self._on_client_request(m)
            return self._take()
        term = m.term
        if term > self.term:
            if kind is RequestVote and (m.prevote or (self._in_leader_lease() and not m.transfer)):
                # A pre-vote changes nobody's term; a real vote inside the lease is ignored so a server that
                # was partitioned away cannot depose a working leader (thesis 4.2.3).
                if not m.prevote:
                    return self._take()
            elif kind is RequestVoteReply and m.prevote and m.granted:
                pass  # a granted pre-vote carries the term the candidate proposed, not the voter's
            else:
                self._become_follower(term, m.src if kind is AppendEntries else None)
        elif term < self.term:
            # Stale sender: answer requests so it learns the current term; drop stale replies.
            if kind is AppendEntries:
                self._send(AppendEntriesReply(self.term, self.id, m.src, False, m.prev_index, 0))
            elif kind is RequestVote:
                self._send(RequestVoteReply(self.term, self.id, m.src, False, m.prevote))
            elif kind is TransferLeader:  # an operator's input, with no term: its -1 brings it here, off the hot path
                self._on_transfer_leader(m)
            return self._take()
        if kind is AppendEntries:
            self._on_append_entries(m)
        elif kind is AppendEntriesReply:
            if self.role == LEADER:
                self._on_append_reply(m)
        elif kind is RequestVote:
            self._on_request_vote(m)
        elif kind is RequestVoteReply:
            self._on_vote_reply(m)
        elif kind is TimeoutNow:
            self._on_timeout_now(m)
        return self._take()

    # --------------------------------------------------------------- elections

    def _pre_campaign(self) -> None:
        """PreVote (thesis 9.6): ask whether a majority would vote before disturbing anyone's term."""
        self.role = PRECANDIDATE
        self.leader_id = None
        self.votes = {self.id}
        self.rejections = set()
        self._reset_election_timer()
        if self.configuration.vote_result(self.votes) == WON:
            self._campaign()
            return
        for p in self.peers:
            self._send(RequestVote(self.term + 1, self.id, p, self.log.last_index, self.log.last_term, True))

    def _campaign(self, transfer: bool = False) -> None:
        self.role = CANDIDATE
        self.term += 1
        self.voted_for = self.id
        self._hard_dirty = True
        self.leader_id = None
        self.votes = {self.id}
        self.rejections = set()
        self._reset_election_timer()
        if self.configuration.vote_result(self.votes) == WON:
            self._become_leader()
            return
        out = self.out.unsynced_messages if self.config.early_vote_requests else self.out.messages
        for p in self.peers:
            out.append(RequestVote(self.term, self.id, p, self.log.last_index, self.log.last_term, False, transfer))

    def _on_request_vote(self, m: RequestVote) -> None:
        up_to_date = self.log.is_up_to_date(m.last_log_index, m.last_log_term)
        if m.prevote:
            grant = m.term > self.term and up_to_date and not self._heard_from_leader_recently()
            self._send(RequestVoteReply(m.term if grant else self.term, self.id, m.src, grant, True))
            return
        # m.term == self.term here: higher terms were adopted in step().
        grant = self.voted_for in (None, m.src) and up_to_date
        if grant:
            self.voted_for = m.src
            self._hard_dirty = True
            self._reset_election_timer()
        self._send(RequestVoteReply(self.term, self.id, m.src, grant))

    def _on_vote_reply(self, m: RequestVoteReply) -> None:
        if m.prevote:
            # A refused pre-vote carries the voter's term, not the one proposed: count it by role alone.
            if self.role != PRECANDIDATE or (m.granted and m.term != self.term + 1):
                return
        elif self.role != CANDIDATE or m.term != self.term:
            return
        if not m.granted:
            # Counted, but a lost election changes nothing: the candidate waits for its timer (Figure 2).
            self.rejections.add(m.src)
            return
        self.votes.add(m.src)
        if self.configuration.vote_result(self.votes, self.rejections) == WON:
            if m.prevote:
                self._campaign()
            else:
                self._become_leader()

    def _heard_from_leader_recently(self) -> bool:
        if self.role == LEADER:
            return True
        contact = self.last_leader_contact
        return (
            self.leader_id is not None and contact is not None and self.now - contact < self.config.election_timeout_min
        )

    def _in_leader_lease(self) -> bool:
        if self.config.read == LEASE and self._vote_promised_away():
            return True
        return self.config.check_quorum and self._heard_from_leader_recently()

    # ------------------------------------------------------------- role changes

    def _become_follower(self, term: int, leader: int | None) -> None:
        was_leader = self.role == LEADER
        if term > self.term:
            self.term = term
            self.voted_for = None
            self._hard_dirty = True
        if was_leader:
            self.out.timers.append((HEARTBEAT, None))
            self.progress = {}
            self.match = {}
            self.pending = {}
            self.reads = ReadOnly()  # reads waiting are dropped, as pending commands are: clients retry
            self._end_transfer()
        self.role = FOLLOWER
        self.leader_id = leader
        self.votes = set()
        self.rejections = set()
        if leader is not None:
            self.last_leader_contact = self.now
        # Figure 2: the election timer restarts on hearing from the current leader or granting a vote, not on merely
        # adopting a higher term. Otherwise a server that cannot win (its log is behind) resets everyone's timer with
        # each RequestVote, times out first again and again, and keeps the cluster leaderless.
        if was_leader or leader is not None:
            self._reset_election_timer()

    def _become_leader(self) -> None:
        self.role = LEADER
        self.leader_id = self.id
        self.votes = set()
        self.rejections = set()
        next_index = self.log.last_index + 1
        self.progress = {p: Progress(next_index) for p in self.peers}
        self.match = {p: 0 for p in self.peers}
        self.last_ack = {p: self.now for p in self.peers}
        self.pending = {}
        self.reads = ReadOnly(self._lease_duration())
        self.out.timers.append((ELECTION, None))
        self.out.timers.append((HEARTBEAT, self.config.heartbeat_interval))
        # A no-op of the new term lets the leader commit (and so learn) what earlier terms left (Section 8).
        self._append(Entry(self.term, None))
        self._broadcast_append()
        self._maybe_commit()

    def _on_heartbeat_timer(self) -> None:
        if self.config.check_quorum:
            window = self.config.election_timeout_min
            active = {self.id, *(p for p in self.peers if self.now - self.last_ack[p] < window)}
            if not self.configuration.is_quorum(active):
                # CheckQuorum (thesis 9.6): a leader that cannot reach a majority steps down.
                self._become_follower(self.term, None)
                return
        self.out.timers.append((HEARTBEAT, self.config.heartbeat_interval))
        if self.transferee is not None:
            self._transfer_progress(self.transferee)  # its TimeoutNow again, in case it was lost
        if self.config.read != LOG:
            self._begin_round()  # every heartbeat is a round: it renews the lease, and confirms reads waiting
        self._broadcast_append(heartbeat=True)

    def _lease_duration(self) -> int:
        c = self.config
        return lease_duration(c.election_timeout_min, c.lease_drift) if c.read == LEASE else 0

    # -------------------------------------------------------------- replication

    def _on_append_entries(self, m: AppendEntries) -> None:
        if self.role != FOLLOWER:
            # A candidate learns of a legitimate leader of its own term (Figure 2, Candidates).
            self._become_follower(self.term, m.src)
        else:
            self.leader_id = m.src
            self.last_leader_contact = self.now
            # _reset_election_timer(), inline: this is the protocol's most frequent input.
            self.out.timers.append((ELECTION, self._timeout_min + int(self.rng.random() * self._timeout_span)))
        log = self.log
        prev = m.prev_index
        if prev > log.last_index:
            self._send(AppendEntriesReply(self.term, self.id, m.src, False, prev, 0, log.last_index + 1, 0, m.round))
            return
        conflict_term = log.term_at(prev)  # prev <= last_index here
        if conflict_term != m.prev_term:
            first = log.first_index_of_term(conflict_term)
            self._send(AppendEntriesReply(self.term, self.id, m.src, False, prev, 0, first, conflict_term, m.round))
            return
        self._merge_entries(prev, m.entries)
        match = prev + len(m.entries)
        if m.commit > self.commit:
            # Bounded by the last entry this message vouches for: entries after it may be stale.
            new_commit = min(m.commit, match)
            if new_commit > self.commit:
                self.commit = new_commit
                self._apply_committed()
        self.out.messages.append(AppendEntriesReply(self.term, self.id, m.src, True, prev, match, 0, 0, m.round))

    def _merge_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Append ``entries`` after ``prev``, deleting an existing entry only where it conflicts (Figure 2,
        receiver step 3). Entries that already match are kept, so a stale or reordered AppendEntries never
        shortens the log."""
        log = self.log
        if prev == log.last_index:  # the common case: nothing to compare, the entries extend the log
            if entries:
                self._mark_log(prev + 1)
                log.extend(entries)
            return
        k = log.matching_prefix(prev, entries)
        if k == len(entries):
            return  # every entry already held: a duplicate or a reordered, older AppendEntries
        index = prev + 1 + k
        if index <= log.last_index:
            log.truncate_from(index)
        self._mark_log(index)
        log.extend(entries[k:] if k else entries)

    def _on_append_reply(self, m: AppendEntriesReply) -> None:
        pr = self.progress[m.src]
        self.last_ack[m.src] = self.now
        if m.round and self.reads.acknowledge(m.src, m.round, self.configuration):
            self._serve_reads()
        if m.success:
            advanced = m.match_index > pr.match
            pr.acknowledge(m.match_index)
            if advanced:
                self.match[m.src] = pr.match
                self._maybe_commit()
                if m.src == self.transferee:
                    self._transfer_progress(m.src)
            if pr.next <= self.log.last_index:
                self._send_append(m.src)
            return
        # Rejections of requests this leader has since moved past are stale (reordered or duplicated).
        if pr.state is REPLICATE:
            if m.prev_index <= pr.match:
                return
        elif m.prev_index != pr.next - 1:
            return
        next_index = m.conflict_index
        if m.conflict_term:
            last_of_term = self.log.last_index_of_term(m.conflict_term)
            if last_of_term:
                next_index = last_of_term + 1
        pr.become_probe(max(pr.match + 1, min(next_index, m.prev_index)))
        self._send_append(m.src)

    def _broadcast_append(self, heartbeat: bool = False) -> None:
        for p in self.peers:
            self._send_append(p, heartbeat)

    def _send_append(self, peer: int, heartbeat: bool = False) -> None:
        """Send what ``peer`` is missing, as flow control allows; on a heartbeat, send something in any case."""
        pr = self.progress[peer]
        log = self.log
        last = log.last_index
        if pr.state is not REPLICATE:
            if pr.state is SNAPSHOT or (pr.probe_sent and not heartbeat):
                return  # SNAPSHOT: nothing until the InstallSnapshot is done (sending it is issue 11's)
            prev = pr.next - 1
            entries = log.slice(pr.next, min(last + 1, pr.next + self.config.max_batch))
            self._send(
                AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), entries, self.commit, self.reads.round)
            )
            pr.probe_sent = True
            return
        inflight = pr.inflight
        if (
            heartbeat
            and inflight
            and (
                len(inflight) >= self.config.max_inflight or self.now - inflight[0][1] >= self.config.heartbeat_interval
            )
        ):
            # A full window, or nothing acknowledged for a whole heartbeat interval: assume the stream was lost
            # (or the follower is far behind) and probe from the last index known to match.
            pr.become_probe(pr.match + 1)
            self._send_append(peer, heartbeat)
            return
        sent = False
        messages = self.out.messages
        rnd = self.reads.round
        while pr.next <= last and len(inflight) < self.config.max_inflight:
            prev = pr.next - 1
            stop = min(last + 1, pr.next + self.config.max_batch)
            entries = log.slice(pr.next, stop)
            messages.append(AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), entries, self.commit, rnd))
            inflight.append((stop - 1, self.now))
            pr.next = stop  # optimistic: stream the rest without waiting for replies
            sent = True
        if heartbeat and not sent:
            # A heartbeat anchored at the last index known to match: it cannot be rejected because of entries
            # still in flight, and it carries the commit index only as far as that match (Figure 2's min rule on
            # the follower's side does the rest).
            prev = pr.match
            messages.append(AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), (), self.commit, rnd))

    def _quorum_match(self) -> int:
        """The highest index stored on a quorum of the configuration (the leader's own log counts in full)."""
        match = self.match
        match[self.id] = self.log.last_index
        return self.configuration.committed_index(match)

    def _maybe_commit(self) -> None:
        """Section 5.4.2: commit the highest index stored on a quorum, but only if it is of the current term
        (counting replicas of an older term's entry is unsafe: Figure 8)."""
        candidate = self._quorum_match()
        if candidate > self.commit and self.log.term_at(candidate) == self.term:
            self.commit = candidate
            self._apply_committed()
            if self.reads.held:
                self._release_held_reads()  # the term's first commit: reads held for it may go on

    def _apply_committed(self) -> None:
        leader = self.role == LEADER
        start = self.last_applied + 1
        for index, entry in enumerate(self.log.slice(start, self.commit + 1), start):
            self.last_applied = index
            command = entry.command
            self.out.applied.append((index, entry))
            if command is None:
                continue
            result, first_index = self.kv.apply(command, index)
            if leader:
                waiting = self.pending.pop(index, None)
                if waiting is not None:
                    self._send(ClientReply(self.id, command.client, command.seq, True, result, None, first_index))

    # ------------------------------------------------------------------ clients

    def _on_client_request(self, m: ClientRequest) -> None:
        c = m.command
        if self.role != LEADER:
            self._send(ClientReply(self.id, m.src, c.seq, False, None, self.leader_id))
            return
        done = self.kv.applied(c.client, c.seq)
        if done is not None:
            self._send(ClientReply(self.id, m.src, c.seq, True, done[0], None, done[1]))
            return
        if self.kv.is_stale(c.client, c.seq):
            return  # an old retry the client has stopped waiting for
        if self.transferee is not None:
            self._refuse_during_transfer(m)
            return
        if c.op == "get" and self.config.read != LOG:
            self._on_reads([m])
            return
        index = self._append(Entry(self.term, c))
        self.pending[index] = c
        self._broadcast_append()
        self._maybe_commit()

    # ------------------------------------------------------------------ helpers

    def _append(self, entry: Entry) -> int:
        index = self.log.append(entry)
        self._mark_log(index)
        return index

    def _mark_log(self, index: int) -> None:
        if self._log_from is None or index < self._log_from:
            self._log_from = index

    def _reset_election_timer(self) -> None:
        # Uniform in [min, max]; random() rather than randint() because this runs on every AppendEntries.
        self.out.timers.append((ELECTION, self._timeout_min + int(self.rng.random() * self._timeout_span)))

    def _send(self, m: Message) -> None:
        self.out.messages.append(m)

    def _take(self) -> Output:
        out = self.out
        soft = (self.role, self.term, self.leader_id, self.commit, self.last_applied)
        if soft != self._reported:
            self._reported = soft
            out.soft_state = _soft_state(SoftState, soft)
        if self._hard_dirty:
            out.hard_state = (self.term, self.voted_for)
            self._hard_dirty = False
        if self._log_from is not None:
            out.log_from = self._log_from
            out.log_entries = self.log.slice(self._log_from, self.log.last_index + 1)
            self._log_from = None
        self.out = Output()
        return out

    def persistent_state(self) -> PersistentState:
        return PersistentState(self.term, self.voted_for, tuple(self.log.entries()))
