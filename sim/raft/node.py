"""A Raft server as a pure state machine (sans-I/O): the paper's Figure 2, Section 8, and PreVote/CheckQuorum.

A ``Node`` does no I/O and reads no clock. Every input carries the node's local time ``now`` (integer
microseconds) and returns an ``Output`` (``sim.raft.output`` documents every field): its soft state when it
changed, state to make durable, messages to send (only once that state is durable), timers to arm, and the
entries it applied. The caller must handle an Output in that order, as etcd's ``Ready``: persist, then send, then
arm timers. Inputs:

- ``step(msg, now)``: a peer message or a client request;
- ``tick(timer, now)``: a timer the node armed has expired;
- ``Node(..., state=PersistentState)`` followed by ``start(now)``: a restart from what was made durable.

Membership changes (thesis Chapter 4) are in ``membership``: the node holds the configuration in force, takes an
operator's ``MembershipChange`` as a leader, and reports its configuration in its Outputs.

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
from .membership import (
    ADD,
    BUSY,
    INVALID,
    MAX_ROUNDS,
    NOT_LEADER,
    OK,
    TIMEOUT,
    CatchUp,
    Change,
    ConfigurationLog,
    changed,
)
from .messages import (
    AppendEntries,
    AppendEntriesReply,
    ClientReply,
    ClientRequest,
    Command,
    ConfigEntry,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    MembershipChange,
    MembershipReply,
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
from .snapshot import SnapshotRules
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
    # Election timeouts are drawn in whole multiples of this many microseconds, rounded to the nearest as LogCabin
    # draws whole milliseconds (Core::Random::randomRange: lround of a uniform draw); 1: any microsecond.
    election_timeout_step: int = 1
    # Log compaction (sim.raft.snapshot): a snapshot once this many entries were applied since the last one (0:
    # never), sent to followers that need discarded entries in InstallSnapshot chunks of this many bytes.
    snapshot_every: int = 0
    snapshot_chunk: int = 1024
    # How a leader answers a get (sim.raft.read_only): "log" (a command like the others), "readindex" or "lease"
    # (thesis 6.4, without a log entry). lease_drift: the bound on how much faster one server's clock may run
    # than another's (0.1: 10%); the lease is election_timeout_min / (1 + lease_drift).
    read: str = LOG
    lease_drift: float = DEFAULT_LEASE_DRIFT

    def __post_init__(self) -> None:
        if not 0 < self.election_timeout_min <= self.election_timeout_max:
            raise ValueError("need 0 < election_timeout_min <= election_timeout_max")
        if self.election_timeout_step <= 0:
            raise ValueError("election_timeout_step must be positive")
        if self.heartbeat_interval <= 0 or self.max_batch <= 0 or self.max_inflight <= 0:
            raise ValueError("heartbeat_interval, max_batch and max_inflight must be positive")
        if self.snapshot_every < 0 or self.snapshot_chunk <= 0:
            raise ValueError("need snapshot_every >= 0 and snapshot_chunk > 0")
        if self.read not in READ_MODES or not self.lease_drift >= 0:
            raise ValueError(f"read must be one of {', '.join(READ_MODES)} and lease_drift >= 0")


class Node(SnapshotRules, LeaderReads, LeadershipTransfer):
    # What this implementation declares under the node contract (examples/CONTRACT.md, "Capabilities"): it reports
    # its soft state, answers the digest query, and honours these RaftConfig switches.
    capabilities = ("state", "digest", "prevote", "check_quorum", "early_vote_requests")

    def __init__(
        self,
        node_id: int,
        voters: tuple[int, ...],
        config: RaftConfig,
        rng: random.Random,
        state: PersistentState | None = None,
    ) -> None:
        """Server ``node_id`` of a cluster whose voters are ``voters`` (itself included), restarting from
        ``state`` (what it had made durable) or booting empty. ``voters`` is the configuration the server starts
        with: configuration entries in its log replace it (``()`` for a server that boots empty to join a cluster:
        it learns its configuration from the leader)."""
        state = state or PersistentState()
        snapshot = state.snapshot
        self.id = node_id
        self.config = config
        self.rng = rng
        self._timeout_min = config.election_timeout_min
        self._timeout_span = config.election_timeout_max - config.election_timeout_min + 1
        self._timeout_step = config.election_timeout_step
        # Persistent (Figure 2).
        self.term = state.term
        self.voted_for = state.voted_for
        self.log = RaftLog(state.entries, snapshot.index, snapshot.term) if snapshot else RaftLog(state.entries)
        # The configurations the log holds, after the one it started with or its snapshot holds (as of the
        # snapshot's last entry, Section 7); the latest is in force (thesis 4.1).
        if snapshot:
            self.membership = ConfigurationLog(snapshot.configuration, snapshot.index)
        else:
            self.membership = ConfigurationLog(Configuration(tuple(voters)))
        self.membership.scan(self.log.first_index, state.entries)
        self.configuration = self.membership.current
        # Every other server of the configuration, in its order: whom a candidate and a leader send to (a leader
        # also to a server it is catching up, and to one whose removal is not yet committed).
        self.peers = tuple(p for p in self.configuration.ids() if p != node_id)
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
        self.change: Change | None = None  # the membership change being carried out, until its entry is appended
        self.awaiting: list[tuple[int, str, int]] = []  # (config entry index, admin, seq) waiting for the commit
        self.reads = ReadOnly()  # rounds, lease, reads waiting (sim.raft.read_only): a new one for each term led
        self.transferee: int | None = None  # the server a leadership transfer hands over to (sim.raft.transfer)
        self._hard_dirty = False
        self._log_from: int | None = None
        # The soft state last reported in an Output (None: nothing yet, so the first Output reports it).
        self._reported: tuple[str, int, int | None, int, int] | None = None
        self._config_changed = True  # the configuration in force is to be reported (always in the first Output)
        self.out = Output()
        self._init_snapshots(snapshot)  # sim.raft.snapshot: a restart from a snapshot starts from its state

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
                if not self._may_campaign():
                    self._reset_election_timer()
                elif self.config.prevote:
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
        kind = m.__class__
        if kind is ClientRequest:
            self._on_client_request(m)
            return self._take()
        if kind is MembershipChange:
            self._on_membership_change(m)
            return self._take()
        term = m.term
        if term > self.term:
            if kind is RequestVote and (m.prevote or (self._in_leader_lease() and not m.transfer) or self._disrupts(m)):
                # A pre-vote changes nobody's term; a real vote inside the lease is ignored so a server that
                # was partitioned away cannot depose a working leader (thesis 4.2.3).
                if not m.prevote:
                    return self._take()
            elif kind is RequestVoteReply and m.prevote and m.granted:
                pass  # a granted pre-vote carries the term the candidate proposed, not the voter's
            else:
                self._become_follower(term, m.src if kind is AppendEntries or kind is InstallSnapshot else None)
        elif term < self.term:
            # Stale sender: answer requests so it learns the current term; drop stale replies.
            if kind is AppendEntries:
                self._send(AppendEntriesReply(self.term, self.id, m.src, False, m.prev_index, 0))
            elif kind is RequestVote:
                self._send(RequestVoteReply(self.term, self.id, m.src, False, m.prevote))
            elif kind is InstallSnapshot:
                self._send(InstallSnapshotReply(self.term, self.id, m.src, m.last_index, m.offset, 0))
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
        elif kind is InstallSnapshot:
            self._on_install_snapshot(m)
        elif kind is InstallSnapshotReply:
            if self.role == LEADER:
                self._on_install_reply(m)
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

    def _may_campaign(self) -> bool:
        """Whether this server may stand for election: it knows a configuration, and is a voter of it or does not
        know it to be committed. A server still joining (no configuration) or whose removal it knows to be
        committed stays out; one whose configuration excludes it but may still be undone must not (it may hold
        the most up-to-date log, which the others need to elect anyone: a leader removing itself, cut off
        before the change commits, comes back as such a server)."""
        voters = self.configuration.voters
        return bool(voters) and (self.id in voters or self.membership.index > self.commit)

    def _disrupts(self, m: RequestVote) -> bool:
        """A RequestVote from a server outside this one's configuration (removed, most likely: it will never hear
        from the leader again and times out over and over) within the minimum election timeout of hearing from a
        leader: ignored, term and all (thesis 4.2.3).

        Outside the configuration of a snapshot this server is receiving, too: that configuration is committed,
        while the one in force is the log's, which the snapshot is to replace and which may predate the removal.
        Otherwise a removed server looks like a member to a server being caught up by a snapshot, which takes its
        term and, with it, deposes the leader; the next leader sends its own snapshot from the start, and a
        snapshot that takes longer than the removed server's election timeout is never installed (fuzz seeds
        62390, 87715). The thesis ignores every RequestVote in that window; only these are, so that elections
        among members go as before."""
        if m.src in self.configuration.voters:
            receiving = self._receiving_configuration()
            if receiving is None or m.src in receiving.voters:
                return False
        return self._heard_from_leader_recently()

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
            self.change = None
            self.awaiting = []
            self.reads = ReadOnly()  # reads waiting are dropped, as pending commands are: clients retry
            self._end_transfer()
        self.role = FOLLOWER
        if was_leader:
            self._refresh_peers()
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
        self.progress = {}
        self.match = {}
        self.last_ack = {}
        self._refresh_peers()
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
        if self.change is not None:
            self._advance_change()  # a catch-up may have run out of time
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
            timeout = self._timeout_min + int(self.rng.random() * self._timeout_span)
            if self._timeout_step != 1:
                timeout = self._round_timeout(timeout)
            self.out.timers.append((ELECTION, timeout))
        log = self.log
        prev = m.prev_index
        if prev > log.last_index:
            self._send(AppendEntriesReply(self.term, self.id, m.src, False, prev, 0, log.last_index + 1, 0, m.round))
            return
        conflict_term = log.term_at(prev)  # prev <= last_index here
        entries = m.entries
        if conflict_term != m.prev_term:
            if conflict_term == -1:
                # prev is inside this server's snapshot (a leader never sends a prev_term it does not know).
                prev, entries = self._after_snapshot_point(prev, entries)
            else:
                first = log.first_index_of_term(conflict_term)
                self._send(AppendEntriesReply(self.term, self.id, m.src, False, prev, 0, first, conflict_term, m.round))
                return
        self._merge_entries(prev, entries)
        match = prev + len(entries)
        if m.commit > self.commit:
            # Bounded by the last entry this message vouches for: entries after it may be stale.
            new_commit = min(m.commit, match)
            if new_commit > self.commit:
                self.commit = new_commit
                self._apply_committed()
        self.out.messages.append(
            AppendEntriesReply(self.term, self.id, m.src, True, m.prev_index, match, 0, 0, m.round)
        )

    def _merge_entries(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Append ``entries`` after ``prev``, deleting an existing entry only where it conflicts (Figure 2,
        receiver step 3). Entries that already match are kept, so a stale or reordered AppendEntries never
        shortens the log."""
        log = self.log
        if prev == log.last_index:  # the common case: nothing to compare, the entries extend the log
            if entries:
                self._mark_log(prev + 1)
                log.extend(entries)
                self._note_configurations(prev + 1, entries)
            return
        k = log.matching_prefix(prev, entries)
        if k == len(entries):
            return  # every entry already held: a duplicate or a reordered, older AppendEntries
        index = prev + 1 + k
        if index <= log.last_index:
            self._truncate(index)
        self._mark_log(index)
        new = entries[k:] if k else entries
        log.extend(new)
        self._note_configurations(index, new)

    def _on_append_reply(self, m: AppendEntriesReply) -> None:
        pr = self.progress.get(m.src)
        if pr is None:
            return  # from a server this leader no longer replicates to (removed)
        self.last_ack[m.src] = self.now
        if m.round and self.reads.acknowledge(m.src, m.round, self.configuration):
            self._serve_reads()
        if m.success:
            advanced = m.match_index > pr.match
            pr.acknowledge(m.match_index)
            if advanced:
                self.match[m.src] = pr.match
                if pr.match > self.commit:
                    # (A match at or below the commit index moves no quorum's index past it: nothing to commit.)
                    self._maybe_commit()
                if self.progress.get(m.src) is not pr:
                    return  # the commit removed the follower, or this leader (see _configuration_committed)
                change = self.change
                if change is not None and change.catch_up is not None and m.src == change.server:
                    self._advance_change()
                    if self.progress.get(m.src) is not pr:
                        return  # the catch-up ran out of time: the new server was given up
                if m.src == self.transferee:
                    self._transfer_progress(m.src)
            if pr.next <= self.log.last_index:
                self._send_append(m.src)
            return
        # Rejections of requests this leader has since moved past are stale (reordered or duplicated).
        if pr.state is REPLICATE:
            if m.prev_index <= pr.match:
                return
        elif pr.state is SNAPSHOT or m.prev_index != pr.next - 1:
            return  # SNAPSHOT: the InstallSnapshot under way decides where the follower's log resumes
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
            if pr.state is SNAPSHOT:
                if heartbeat:
                    self._resend_snapshot(peer)  # no AppendEntries until the InstallSnapshot is done
                return
            if pr.probe_sent and not heartbeat:
                return
            prev = pr.next - 1
            try:
                entries = log.slice(pr.next, min(last + 1, pr.next + self.config.max_batch))
            except IndexError:  # compacted: the entries the follower needs are in the snapshot only
                self._start_snapshot(peer, pr)
                return
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
            try:
                entries = log.slice(pr.next, stop)
            except IndexError:  # compacted: the entries the follower needs are in the snapshot only
                self._start_snapshot(peer, pr)
                return
            messages.append(AppendEntries(self.term, self.id, peer, prev, log.term_at(prev), entries, self.commit, rnd))
            inflight.append((stop - 1, self.now))
            pr.next = stop  # optimistic: stream the rest without waiting for replies
            sent = True
        if heartbeat and not sent:
            # A heartbeat anchored at the last index known to match: it cannot be rejected because of entries
            # still in flight, and it carries the commit index only as far as that match (Figure 2's min rule on
            # the follower's side does the rest).
            prev = pr.match
            if prev < log.snapshot_index:
                prev = log.snapshot_index  # the match is compacted: probe at the snapshot's index instead
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
            if self.change is not None and self.role == LEADER:
                self._advance_change()  # it may have been waiting for this commit
            if self.reads.held:
                self._release_held_reads()  # the term's first commit: reads held for it may go on

    def _apply_committed(self) -> None:
        leader = self.role == LEADER
        configured = False
        start = self.last_applied + 1
        for index, entry in enumerate(self.log.slice(start, self.commit + 1), start):
            self.last_applied = index
            command = entry.command
            self.out.applied.append((index, entry))
            if command is None:
                configured = configured or entry.config is not None
                continue
            result, first_index = self.kv.apply(command, index)
            if leader:
                waiting = self.pending.pop(index, None)
                if waiting is not None:
                    self._send(ClientReply(self.id, command.client, command.seq, True, result, None, first_index))
        if configured and leader:
            self._configuration_committed()
        every = self._snapshot_every
        if every and self.last_applied - self._snapshot_point >= every:
            self._take_snapshot()  # Section 7: compact the log once enough has been applied since

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

    # -------------------------------------------------------------- membership

    def _note_configurations(self, first_index: int, entries: tuple[Entry, ...]) -> None:
        """Entries were appended from ``first_index`` on: a configuration among them is in force at once (thesis
        4.1). One attribute read per entry appended: configuration entries are rare."""
        for entry in entries:
            if entry.config is not None:
                self.membership.scan(first_index, entries)
                self._configuration_changed()
                return

    def _configuration_changed(self) -> None:
        self.configuration = self.membership.current
        self._config_changed = True
        self._refresh_peers()

    def _refresh_peers(self) -> None:
        """Whom to send to: the configuration's servers; for a leader also a server it is catching up and, while
        the configuration in force is not committed, the servers of the one before (so that a server being
        removed learns of it, and does not campaign once it has)."""
        ids = self.configuration.ids()
        if self.role == LEADER:
            extra: tuple[int, ...] = ()
            change = self.change
            if change is not None and change.catch_up is not None:
                extra = (change.server,)
            previous = self.membership.previous()
            if previous is not None and self.membership.index > self.commit:
                extra += previous.ids()
            if extra:
                ids = ids + tuple(dict.fromkeys(p for p in extra if p not in ids))
        self.peers = tuple(p for p in ids if p != self.id)
        if self.role == LEADER:
            progress = self.progress
            for p in self.peers:
                if p not in progress:
                    progress[p] = Progress(self.log.last_index + 1)
                    self.match[p] = 0
                    self.last_ack[p] = self.now
            log = self.log
            for p in [p for p in progress if p not in self.peers]:
                # A last AppendEntries, with what the server may still lack and the commit index: a removed server
                # learns that its removal is committed, and stays out of elections.
                prev = progress[p].match
                if prev >= log.snapshot_index:  # else what it lacks is compacted: it will not hear of it
                    entries = log.slice(prev + 1, prev + 1 + self.config.max_batch)
                    self._send(AppendEntries(self.term, self.id, p, prev, log.term_at(prev), entries, self.commit))
                del progress[p]
                del self.match[p]
                del self.last_ack[p]
                self._transfers.pop(p, None)  # an InstallSnapshot on its way to it is dropped

    def _on_membership_change(self, m: MembershipChange) -> None:
        """An operator's AddServer or RemoveServer (thesis Figure 4.1), answered once the configuration that makes
        it so is committed."""
        if self.role != LEADER:
            self._send(MembershipReply(self.id, m.src, m.seq, NOT_LEADER, self.leader_id))
            return
        change = self.change
        if (change is not None and (change.admin, change.seq) == (m.src, m.seq)) or any(
            (admin, seq) == (m.src, m.seq) for _, admin, seq in self.awaiting
        ):
            return  # a retry of the change under way, or of one whose entry is on its way to commit
        target = changed(self.configuration, m.op, m.server)
        if not target.voters:
            self._send(MembershipReply(self.id, m.src, m.seq, INVALID, self.id))
            return
        if target == self.configuration:
            # Already so in the configuration in force: done once that configuration is committed.
            self.awaiting.append((self.membership.index, m.src, m.seq))
            self._reply_committed_changes()
            return
        if change is not None or self._configuration_pending():
            # One change at a time (thesis 4.1): the operator asks again later.
            self._send(MembershipReply(self.id, m.src, m.seq, BUSY, self.id))
            return
        self.change = Change(m.op, m.server, m.src, m.seq)
        if m.op == ADD and m.server != self.id:
            # Thesis 4.2.1: catch the new server up, as a member that does not vote, before it joins.
            limit = MAX_ROUNDS * self.config.election_timeout_max
            self.change.catch_up = CatchUp(self.now, self.log.last_index, self.config.election_timeout_min, limit)
            self._refresh_peers()
            self._send_append(m.server)
        self._advance_change()

    def _advance_change(self) -> None:
        """Carry the membership change under way as far as it can go now: the new server's catch-up, then its
        configuration entry once one may be appended."""
        change = self.change
        assert change is not None
        catch_up = change.catch_up
        if catch_up is not None:
            caught_up = catch_up.step(self.progress[change.server].match, self.log.last_index, self.now)
            if caught_up is None:
                return
            change.catch_up = None
            if not caught_up:
                self.change = None
                self._refresh_peers()
                self._send(MembershipReply(self.id, change.admin, change.seq, TIMEOUT, self.id))
                return
        if not self._may_change_configuration():
            return
        self.change = None
        target = changed(self.configuration, change.op, change.server)
        index = self._append(ConfigEntry(self.term, target))
        self.awaiting.append((index, change.admin, change.seq))
        self._broadcast_append()
        self._maybe_commit()

    def _configuration_pending(self) -> bool:
        """Whether the configuration in force is not yet committed: a change is in progress (thesis 4.1)."""
        return self.membership.index > self.commit

    def _snapshot_configuration(self, index: int) -> Configuration:
        """The configuration a snapshot through ``index`` holds: the latest at or before it (Section 7), not the
        one in force, which may be later and uncommitted."""
        return self.membership.committed(index)[1]

    def _hand_over_snapshot(self, out: Output) -> None:
        installed = self._new_snapshot_installed
        super()._hand_over_snapshot(out)
        if not installed:  # a snapshot taken: the log now starts after it, and so do its configurations
            snapshot = self.snapshot
            assert snapshot is not None
            index, config = self.membership.committed(snapshot.index)  # the entry it holds, index unchanged
            self.membership.rebase(snapshot.index, config, index)

    def _adopt_configuration(self, configuration: Configuration) -> None:
        """An installed snapshot: its configuration is the base of the log that follows it (Figure 13, step 8),
        and the configurations of entries the installation discarded are gone."""
        log = self.log
        before = (self.membership.index, self.configuration)
        self.membership.rebase(log.snapshot_index, configuration)
        self.membership.truncated(log.last_index + 1)
        if (self.membership.index, self.membership.current) != before:
            self._configuration_changed()

    def _may_change_configuration(self) -> bool:
        """Whether a leader may append a configuration entry now: its configuration in force is committed (one
        change at a time) and so is an entry of its own term (the 2015 fix: see ``membership``)."""
        return not self._configuration_pending() and self.log.term_at(self.commit) == self.term

    def _configuration_committed(self) -> None:
        """A configuration entry committed: answer who waited for it, stop replicating to servers it removed, and
        step down if it removed this leader (thesis 4.2.2)."""
        self._reply_committed_changes()
        self._refresh_peers()
        if self.id not in self.configuration.voters and self.membership.index <= self.commit:
            self._become_follower(self.term, None)

    def _reply_committed_changes(self) -> None:
        if not self.awaiting:
            return
        done = [w for w in self.awaiting if w[0] <= self.commit]
        if done:
            self.awaiting = [w for w in self.awaiting if w[0] > self.commit]
            for _, admin, seq in done:
                self._send(MembershipReply(self.id, admin, seq, OK, self.id))

    # ------------------------------------------------------------------ helpers

    def _append(self, entry: Entry) -> int:
        index = self.log.append(entry)
        self._mark_log(index)
        if entry.config is not None:
            self._note_configurations(index, (entry,))
        return index

    def _truncate(self, index: int) -> None:
        """Delete the log from ``index`` on (a follower's conflicting suffix), and the configurations it held."""
        self.log.truncate_from(index)
        self._mark_log(index)
        if self.membership.truncated(index):
            self._configuration_changed()

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
        soft = (self.role, self.term, self.leader_id, self.commit, self.last_applied)
        if soft != self._reported:
            self._reported = soft
            out.soft_state = _soft_state(SoftState, soft)
        if self._config_changed:
            self._config_changed = False
            out.configuration = (self.membership.index, self.configuration)
        if self._hard_dirty:
            out.hard_state = (self.term, self.voted_for)
            self._hard_dirty = False
        if self._log_from is not None:
            out.log_from = self._log_from
            out.log_entries = self.log.slice(self._log_from, self.log.last_index + 1)
            self._log_from = None
        if self._new_snapshot is not None:
            self._hand_over_snapshot(out)
        self.out = Output()
        return out

    def query(self, what: str) -> str | None:
        """The contract's ``query`` input: ``"digest"``, a digest of the state machine (data and sessions), equal
        for two servers exactly when their state machines are. Changes nothing."""
        return self.kv.digest() if what == "digest" else None

    def persistent_state(self) -> PersistentState:
        return PersistentState(self.term, self.voted_for, tuple(self.log.entries()), self.snapshot)
