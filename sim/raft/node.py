"""A Raft server as a pure state machine (sans-I/O): the paper's Figure 2, Section 8, and PreVote/CheckQuorum.

A ``Node`` does no I/O and reads no clock. Every input carries the node's local time ``now`` (integer
microseconds) and returns an ``Output``: state to make durable, messages to send (only once that state is
durable), timers to arm, and the entries it applied. The caller must handle an Output in that order, as etcd's
``Ready``: persist, then send, then arm timers. Inputs:

- ``step(msg, now)``: a peer message or a client request;
- ``tick(timer, now)``: a timer the node armed has expired;
- ``Node(..., state=PersistentState)`` followed by ``start(now)``: a restart from what was made durable.

Randomness (election timeouts) comes only from the ``random.Random`` the caller passes in.
"""

from __future__ import annotations

import random
from collections import deque
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
)

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
    # Election timeouts are drawn in whole multiples of this many microseconds, rounded to the nearest as LogCabin
    # draws whole milliseconds (Core::Random::randomRange: lround of a uniform draw); 1: any microsecond.
    election_timeout_step: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.election_timeout_min <= self.election_timeout_max:
            raise ValueError("need 0 < election_timeout_min <= election_timeout_max")
        if self.election_timeout_step <= 0:
            raise ValueError("election_timeout_step must be positive")
        if self.heartbeat_interval <= 0 or self.max_batch <= 0 or self.max_inflight <= 0:
            raise ValueError("heartbeat_interval, max_batch and max_inflight must be positive")


@dataclass(frozen=True, slots=True)
class PersistentState:
    """What Figure 2 keeps on stable storage: currentTerm, votedFor, log[]."""

    term: int = 0
    voted_for: int | None = None
    entries: tuple[Entry, ...] = ()


class Output:
    """Everything a node asks of its environment after one input, to be handled in field order.

    A plain slotted class rather than a dataclass: one is built per input, on the simulator's hottest path.
    """

    __slots__ = ("applied", "hard_state", "log_entries", "log_from", "messages", "timers", "unsynced_messages")

    def __init__(self) -> None:
        # currentTerm and votedFor, when either changed.
        self.hard_state: tuple[int, int | None] | None = None
        # The log from ``log_from`` on was rewritten: storage must replace its entries from that index with
        # ``log_entries`` (which may be empty: a pure truncation).
        self.log_from: int | None = None
        self.log_entries: tuple[Entry, ...] = ()
        # To send once the above is durable.
        self.messages: list[Message] = []
        # Messages that do not depend on the writes above and may leave before they are durable: a candidate's
        # RequestVotes with ``early_vote_requests``, and what the known-bug variants in sim.nodes.bugs misuse it for.
        self.unsynced_messages: list[Message] = []
        # (timer, delay in local microseconds); a delay of None cancels the timer.
        self.timers: list[tuple[str, int | None]] = []
        # (index, entry) applied to the state machine by this input, in order.
        self.applied: list[tuple[int, Entry]] = []

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Output({fields})"


class Progress:
    """The leader's view of one follower: Figure 2's nextIndex and matchIndex, plus flow control.

    While ``probing`` the leader does not know where the follower's log matches its own: it sends one
    AppendEntries at a time (``paused`` until a reply or the next heartbeat). Once one succeeds it *replicates*:
    it streams entries as they arrive, advancing ``next`` optimistically, with at most ``max_inflight``
    AppendEntries carrying entries unacknowledged (``inflight``: the last index and send time of each). The cap
    matters on a network that reorders: a message that overtakes its predecessor is rejected, the leader probes
    again, and without a cap each success would resend the whole backlog (a message storm).
    """

    __slots__ = ("inflight", "match", "next", "paused", "probing")

    def __init__(self, next_index: int) -> None:
        self.next = next_index
        self.match = 0
        self.probing = True
        self.paused = False
        self.inflight: deque[tuple[int, int]] = deque()

    def probe(self, next_index: int) -> None:
        self.next = next_index
        self.probing = True
        self.paused = False
        self.inflight.clear()

    def acknowledge(self, match: int) -> None:
        """The follower's log matches up to ``match``: free the in-flight messages that it covers."""
        if match > self.match:
            self.match = match
        if self.next <= match:
            self.next = match + 1
        self.probing = False
        self.paused = False
        inflight = self.inflight
        while inflight and inflight[0][0] <= match:
            inflight.popleft()


class Node:
    def __init__(
        self,
        node_id: int,
        peers: tuple[int, ...],
        config: RaftConfig,
        rng: random.Random,
        state: PersistentState | None = None,
    ) -> None:
        state = state or PersistentState()
        self.id = node_id
        self.peers = tuple(p for p in peers if p != node_id)
        self.majority = (len(self.peers) + 1) // 2 + 1
        self.config = config
        self.rng = rng
        self._timeout_min = config.election_timeout_min
        self._timeout_span = config.election_timeout_max - config.election_timeout_min + 1
        self._timeout_step = config.election_timeout_step
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
        # Candidates and pre-candidates: who granted a vote.
        self.votes: set[int] = set()
        # Leaders.
        self.progress: dict[int, Progress] = {}
        self.last_ack: dict[int, int] = {}
        self.pending: dict[int, Command] = {}  # log index -> client command waiting for its reply
        self._hard_dirty = False
        self._log_from: int | None = None
        self.out = Output()

    # ------------------------------------------------------------------ inputs

    def start(self, now: int) -> Output:
        """First input after construction (a boot or a restart): arm the election timer."""
        self.now = now
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
        return self._take()

    def step(self, m: Message, now: int) -> Output:
        self.now = now
        kind = type(m)
        if kind is ClientRequest:
            self._on_client_request(m)
            return self._take()
        term = m.term
        if term > self.term:
            if kind is RequestVote and (m.prevote or self._in_leader_lease()):
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
        return self._take()

    # --------------------------------------------------------------- elections

    def _pre_campaign(self) -> None:
        """PreVote (thesis 9.6): ask whether a majority would vote before disturbing anyone's term."""
        self.role = PRECANDIDATE
        self.leader_id = None
        self.votes = {self.id}
        self._reset_election_timer()
        if len(self.votes) >= self.majority:
            self._campaign()
            return
        for p in self.peers:
            self._send(RequestVote(self.term + 1, self.id, p, self.log.last_index, self.log.last_term, True))

    def _campaign(self) -> None:
        self.role = CANDIDATE
        self.term += 1
        self.voted_for = self.id
        self._hard_dirty = True
        self.leader_id = None
        self.votes = {self.id}
        self._reset_election_timer()
        if len(self.votes) >= self.majority:
            self._become_leader()
            return
        out = self.out.unsynced_messages if self.config.early_vote_requests else self.out.messages
        for p in self.peers:
            out.append(RequestVote(self.term, self.id, p, self.log.last_index, self.log.last_term))

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
        if not m.granted:
            return
        if m.prevote:
            if self.role == PRECANDIDATE and m.term == self.term + 1:
                self.votes.add(m.src)
                if len(self.votes) >= self.majority:
                    self._campaign()
        elif self.role == CANDIDATE and m.term == self.term:
            self.votes.add(m.src)
            if len(self.votes) >= self.majority:
                self._become_leader()

    def _heard_from_leader_recently(self) -> bool:
        if self.role == LEADER:
            return True
        contact = self.last_leader_contact
        return (
            self.leader_id is not None and contact is not None and self.now - contact < self.config.election_timeout_min
        )

    def _in_leader_lease(self) -> bool:
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
            self.pending = {}
        self.role = FOLLOWER
        self.leader_id = leader
        self.votes = set()
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
        next_index = self.log.last_index + 1
        self.progress = {p: Progress(next_index) for p in self.peers}
        self.last_ack = {p: self.now for p in self.peers}
        self.pending = {}
        self.out.timers.append((ELECTION, None))
        self.out.timers.append((HEARTBEAT, self.config.heartbeat_interval))
        # A no-op of the new term lets the leader commit (and so learn) what earlier terms left (Section 8).
        self._append(Entry(self.term, None))
        self._broadcast_append()
        self._maybe_commit()

    def _on_heartbeat_timer(self) -> None:
        if self.config.check_quorum:
            window = self.config.election_timeout_min
            active = 1 + sum(1 for p in self.peers if self.now - self.last_ack[p] < window)
            if active < self.majority:
                # CheckQuorum (thesis 9.6): a leader that cannot reach a majority steps down.
                self._become_follower(self.term, None)
                return
        self.out.timers.append((HEARTBEAT, self.config.heartbeat_interval))
        self._broadcast_append(heartbeat=True)

    # -------------------------------------------------------------- replication

    def _on_append_entries(self, m: AppendEntries) -> None:
        if self.role != FOLLOWER:
            # A candidate learns of a legitimate leader of its own term (Figure 2, Candidates).
            self._become_follower(self.term, m.src)
        else:
            self.leader_id = m.src
            self.last_leader_contact = self.now
            # _reset_election_timer(), inline: this is the protocol's most frequent input.
            timeout = self._timeout_min + int(self.rng.random() * self._timeout_span)
            if self._timeout_step != 1:
                timeout = self._round_timeout(timeout)
            self.out.timers.append((ELECTION, timeout))
        log = self.log
        prev = m.prev_index
        if prev > log.last_index:
            self._send(AppendEntriesReply(self.term, self.id, m.src, False, prev, 0, log.last_index + 1, 0))
            return
        if log.items[prev].term != m.prev_term:  # prev <= last_index here
            conflict_term = log.items[prev].term
            first = log.first_index_of_term(conflict_term)
            self._send(AppendEntriesReply(self.term, self.id, m.src, False, prev, 0, first, conflict_term))
            return
        self._merge_entries(prev, m.entries)
        match = prev + len(m.entries)
        if m.commit > self.commit:
            # Bounded by the last entry this message vouches for: entries after it may be stale.
            new_commit = min(m.commit, match)
            if new_commit > self.commit:
                self.commit = new_commit
                self._apply_committed()
        self.out.messages.append(AppendEntriesReply(self.term, self.id, m.src, True, prev, match))

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
        index = prev
        for k, entry in enumerate(entries):
            index += 1
            if index <= log.last_index:
                if log.items[index].term == entry.term:
                    continue
                log.truncate_from(index)
            self._mark_log(index)
            log.extend(entries[k:] if k else entries)
            return

    def _on_append_reply(self, m: AppendEntriesReply) -> None:
        pr = self.progress[m.src]
        self.last_ack[m.src] = self.now
        if m.success:
            advanced = m.match_index > pr.match
            pr.acknowledge(m.match_index)
            if advanced:
                self._maybe_commit()
            if pr.next <= self.log.last_index:
                self._send_append(m.src)
            return
        # Rejections of requests this leader has since moved past are stale (reordered or duplicated).
        if pr.probing and m.prev_index != pr.next - 1:
            return
        if not pr.probing and m.prev_index <= pr.match:
            return
        next_index = m.conflict_index
        if m.conflict_term:
            last_of_term = self.log.last_index_of_term(m.conflict_term)
            if last_of_term:
                next_index = last_of_term + 1
        pr.probe(max(pr.match + 1, min(next_index, m.prev_index)))
        self._send_append(m.src)

    def _broadcast_append(self, heartbeat: bool = False) -> None:
        for p in self.peers:
            self._send_append(p, heartbeat)

    def _send_append(self, peer: int, heartbeat: bool = False) -> None:
        """Send what ``peer`` is missing, as flow control allows; on a heartbeat, send something in any case."""
        pr = self.progress[peer]
        log = self.log
        last = log.last_index
        if pr.probing:
            if pr.paused and not heartbeat:
                return
            prev = pr.next - 1
            entries = log.slice(pr.next, min(last + 1, pr.next + self.config.max_batch))
            self._send(AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), entries, self.commit))
            pr.paused = True
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
            pr.probe(pr.match + 1)
            self._send_append(peer, heartbeat)
            return
        sent = False
        messages = self.out.messages
        while pr.next <= last and len(inflight) < self.config.max_inflight:
            prev = pr.next - 1
            stop = min(last + 1, pr.next + self.config.max_batch)
            entries = log.slice(pr.next, stop)
            messages.append(AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), entries, self.commit))
            inflight.append((stop - 1, self.now))
            pr.next = stop  # optimistic: stream the rest without waiting for replies
            sent = True
        if heartbeat and not sent:
            # A heartbeat anchored at the last index known to match: it cannot be rejected because of entries
            # still in flight, and it carries the commit index only as far as that match (Figure 2's min rule on
            # the follower's side does the rest).
            prev = pr.match
            messages.append(AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), (), self.commit))

    def _maybe_commit(self) -> None:
        """Section 5.4.2: commit the highest index stored on a majority, but only if it is of the current term
        (counting replicas of an older term's entry is unsafe: Figure 8)."""
        matches = sorted([pr.match for pr in self.progress.values()] + [self.log.last_index])
        candidate = matches[len(matches) - self.majority]
        if candidate > self.commit and self.log.term_at(candidate) == self.term:
            self.commit = candidate
            self._apply_committed()

    def _apply_committed(self) -> None:
        log = self.log
        leader = self.role == LEADER
        while self.last_applied < self.commit:
            index = self.last_applied + 1
            self.last_applied = index
            entry = log.items[index]
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
        timeout = self._timeout_min + int(self.rng.random() * self._timeout_span)
        if self._timeout_step != 1:
            timeout = self._round_timeout(timeout)
        self.out.timers.append((ELECTION, timeout))

    def _round_timeout(self, timeout: int) -> int:
        """To the nearest multiple of the step, halves up (C's lround), within [min, max]."""
        step = self._timeout_step
        rounded = (timeout + step // 2) // step * step
        return min(max(rounded, self.config.election_timeout_min), self.config.election_timeout_max)

    def _send(self, m: Message) -> None:
        self.out.messages.append(m)

    def _take(self) -> Output:
        out = self.out
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
