"""A second Raft, written compactly from the paper's Figure 2, to run under raftsim with ``--node``:

    raftsim fuzz --seeds 2000 --node examples.figure2:Figure2Node

It shares no code with the built-in ``sim.raft.Node``, only the contract's values (``examples/CONTRACT.md``): the
client messages, log entries and ``Output`` it returns. Its shape is Figure 2's own: the persistent and volatile
state as plain fields, one handler per RPC and per reply picked from a table by the message's kind, the rules for
all servers applied first. The log is a Python list with a sentinel entry at index 0, so index i is ``log[i]``.
Compared with the built-in node it leaves out everything Figure 2 does not have (PreVote, CheckQuorum, flow control,
pipelining): it replicates one batch at a time, backs off with the follower's hint, and retransmits on every
heartbeat.

``NoLogCheck`` is the same node with one planted bug (it grants votes without the up-to-date check of Section 5.4.1):
``raftsim fuzz --node examples.figure2:NoLogCheck`` finds it within a few seeds.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from sim.raft.messages import ClientReply, ClientRequest, Command, Entry
from sim.raft.output import Output, PersistentState, SoftState


class Rpc:
    """Every message between servers: its kind, sender, receiver, term and the kind's arguments (``args``).
    Never changed once built (the network may deliver it twice)."""

    __slots__ = ("args", "dst", "kind", "src", "term")

    def __init__(self, kind: str, src: int, dst: int, term: int, **args: Any) -> None:
        self.kind, self.src, self.dst, self.term, self.args = kind, src, dst, term, args

    def asdict(self) -> dict[str, Any]:  # what the trace shows
        shown = {k: [[e.term, e.command and e.command.client, e.command and e.command.seq] for e in v]
                 if k == "entries" else v for k, v in self.args.items()}  # fmt: skip
        return {"type": self.kind, "src": self.src, "dst": self.dst, "term": self.term, **shown}


FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


class Figure2Node:
    capabilities = ("state", "digest")
    check_log = True  # Section 5.4.1's election restriction (NoLogCheck turns it off)

    def __init__(self, node_id: int, voters: tuple[int, ...], config: Any, rng: random.Random,
                 state: PersistentState | None = None) -> None:  # fmt: skip
        state = state or PersistentState()
        self.me, self.servers, self.cfg, self.rng = node_id, tuple(voters), config, rng
        self.others = [s for s in self.servers if s != node_id]
        # Persistent state on all servers (Figure 2), restored from what was made durable.
        self.current_term, self.voted_for = state.term, state.voted_for
        self.log: list[Entry] = [Entry(0), *state.entries]
        # Volatile state on all servers; the state machine and its client sessions (Section 8).
        self.commit_index = self.last_applied = 0
        self.role, self.leader = FOLLOWER, None
        self.data: dict[str, str] = {}
        self.sessions: dict[str, tuple[int, str | None, int]] = {}  # client -> (seq, result, index)
        # Volatile state on leaders (reinitialised after election), and a candidate's votes.
        self.next_index: dict[int, int] = {}
        self.match_index: dict[int, int] = {}
        # Each AppendEntries to a follower is numbered; only the reply to the latest one sent leads to another, so
        # that each follower has one stream of AppendEntries however many were started (heartbeats, requests).
        self.sent: dict[int, int] = {}
        self.waiting: dict[int, tuple[str, int]] = {}  # log index -> (client, seq) to answer once applied
        self.votes: set[int] = set()
        # What this input asks of the environment.
        self.out = Output()
        self.dirty_term = False
        self.dirty_log: int | None = None
        self.reported: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------------------------------ inputs

    def start(self, now: int) -> Output:
        self.arm_election()
        return self.flush()

    def tick(self, timer: str, now: int) -> Output:
        if timer == "election" and self.role != LEADER:
            self.start_election()
        elif timer == "heartbeat" and self.role == LEADER:
            self.out.timers.append(("heartbeat", self.cfg.heartbeat_interval))
            for p in self.others:
                self.send_append(p)
        return self.flush()

    def step(self, m: Any, now: int) -> Output:
        if type(m) is ClientRequest:
            self.client_request(m)
            return self.flush()
        # Rules for all servers: a higher term makes anyone a follower of that term.
        if m.term > self.current_term:
            self.set_term(m.term)
            if self.role != FOLLOWER:
                self.become_follower(None)
        HANDLERS[m.kind](self, m)
        return self.flush()

    def query(self, what: str) -> str | None:
        if what != "digest":
            return None
        return hashlib.sha256(repr((sorted(self.data.items()), sorted(self.sessions.items()))).encode()).hexdigest()

    # -------------------------------------------------------------------------------- RequestVote RPC

    def start_election(self) -> None:
        self.role, self.leader, self.votes = CANDIDATE, None, {self.me}
        self.set_term(self.current_term + 1)
        self.voted_for = self.me
        self.arm_election()
        last = len(self.log) - 1
        for p in self.others:
            self.send(Rpc("RequestVote", self.me, p, self.current_term, last_log_index=last,
                          last_log_term=self.log[last].term))  # fmt: skip
        self.count_votes()

    def on_request_vote(self, m: Rpc) -> None:
        last = len(self.log) - 1
        up_to_date = (m.args["last_log_term"], m.args["last_log_index"]) >= (self.log[last].term, last)
        grant = (
            m.term == self.current_term
            and self.voted_for in (None, m.src)
            and (up_to_date or not self.check_log)
        )
        if grant:
            self.voted_for, self.dirty_term = m.src, True
            self.arm_election()
        self.send(Rpc("Vote", self.me, m.src, self.current_term, granted=grant))

    def on_vote(self, m: Rpc) -> None:
        if self.role == CANDIDATE and m.term == self.current_term and m.args["granted"]:
            self.votes.add(m.src)
            self.count_votes()

    def count_votes(self) -> None:
        if 2 * len(self.votes) > len(self.servers):
            self.become_leader()

    # ------------------------------------------------------------------------------ AppendEntries RPC

    def on_append_entries(self, m: Rpc) -> None:
        a = m.args
        seq = a["seq"]
        if m.term < self.current_term:
            self.send(Rpc("AppendResult", self.me, m.src, self.current_term, success=False, match=0, hint=0,
                          seq=seq))  # fmt: skip
            return
        self.become_follower(m.src)
        prev, entries = a["prev_log_index"], a["entries"]
        if prev >= len(self.log) or self.log[prev].term != a["prev_log_term"]:
            # Fast back-off: where the leader should try next (the start of the conflicting term, or our end).
            hint = len(self.log)
            if prev < len(self.log):
                hint = prev
                while hint > 1 and self.log[hint - 1].term == self.log[prev].term:
                    hint -= 1
            self.send(Rpc("AppendResult", self.me, m.src, self.current_term, success=False, match=0, hint=hint,
                          seq=seq))  # fmt: skip
            return
        # Delete an existing entry only where it conflicts with a new one, then append what is new.
        for k, entry in enumerate(entries):
            i = prev + 1 + k
            if i < len(self.log) and self.log[i].term == entry.term:
                continue
            del self.log[i:]
            self.log.extend(entries[k:])
            self.dirty_log = i if self.dirty_log is None else min(self.dirty_log, i)
            break
        match = prev + len(entries)
        if a["leader_commit"] > self.commit_index:
            self.commit_index = max(self.commit_index, min(a["leader_commit"], match))
            self.apply_committed()
        self.send(Rpc("AppendResult", self.me, m.src, self.current_term, success=True, match=match, hint=0, seq=seq))

    def on_append_result(self, m: Rpc) -> None:
        if self.role != LEADER or m.term != self.current_term:
            return
        p = m.src
        latest = m.args["seq"] == self.sent[p]
        if m.args["success"]:
            self.match_index[p] = max(self.match_index[p], m.args["match"])
            self.next_index[p] = max(self.next_index[p], self.match_index[p] + 1)
            self.advance_commit()
            if latest and self.next_index[p] < len(self.log):
                self.send_append(p)
        elif latest:
            self.next_index[p] = max(self.match_index[p] + 1, min(m.args["hint"], self.next_index[p] - 1))
            self.send_append(p)

    def send_append(self, p: int) -> None:
        n = self.next_index[p]
        self.sent[p] += 1
        entries = tuple(self.log[n : n + self.cfg.max_batch])
        self.send(Rpc("AppendEntries", self.me, p, self.current_term, prev_log_index=n - 1, seq=self.sent[p],
                      prev_log_term=self.log[n - 1].term, entries=entries,
                      leader_commit=self.commit_index))  # fmt: skip

    # ---------------------------------------------------------------------------------------- leaders

    def become_leader(self) -> None:
        self.role, self.leader = LEADER, self.me
        self.next_index = {p: len(self.log) for p in self.others}
        self.match_index = {p: 0 for p in self.others}
        self.sent = {p: 0 for p in self.others}
        self.waiting = {}
        self.out.timers += [("election", None), ("heartbeat", self.cfg.heartbeat_interval)]
        self.append(Entry(self.current_term))  # a no-op, to commit what earlier terms left (Section 8)
        for p in self.others:
            self.send_append(p)
        self.advance_commit()

    def advance_commit(self) -> None:
        """The highest N > commitIndex stored on a majority with log[N].term == currentTerm (Section 5.4.2)."""
        for n in range(len(self.log) - 1, self.commit_index, -1):
            if self.log[n].term != self.current_term:
                break  # terms only fall going back: no older index is of this term
            if 2 * (1 + sum(1 for p in self.others if self.match_index[p] >= n)) > len(self.servers):
                self.commit_index = n
                self.apply_committed()
                break

    def client_request(self, m: ClientRequest) -> None:
        c = m.command
        if self.role != LEADER:
            self.send(ClientReply(self.me, m.src, c.seq, False, None, self.leader))
            return
        seq, result, index = self.sessions.get(c.client, (0, None, 0))
        if c.seq == seq:
            self.send(ClientReply(self.me, m.src, c.seq, True, result, None, index))
        elif c.seq > seq:
            self.waiting[self.append(Entry(self.current_term, c))] = (c.client, c.seq)
            for p in self.others:
                self.send_append(p)
            self.advance_commit()

    # ------------------------------------------------------------------------------ the state machine

    def apply_committed(self) -> None:
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            i, entry = self.last_applied, self.log[self.last_applied]
            self.out.applied.append((i, entry))
            if entry.command is not None:
                result, first = self.execute(entry.command, i)
                if self.waiting.pop(i, None) is not None and self.role == LEADER:
                    c = entry.command
                    self.send(ClientReply(self.me, c.client, c.seq, True, result, None, first))

    def execute(self, c: Command, index: int) -> tuple[str | None, int]:
        seq, result, first = self.sessions.get(c.client, (0, None, 0))
        if c.seq <= seq:
            return result, first  # a retry: applied once already, answered from the session
        current = self.data.get(c.key, "")
        result = {"get": current, "put": c.value, "append": current + c.value}.get(c.op)
        if c.op == "cas":
            result = c.value if current == c.expected else None
        if c.op != "get" and result is not None:
            self.data[c.key] = result
        self.sessions[c.client] = (c.seq, result, index)
        return result, index

    # ---------------------------------------------------------------------------------------- helpers

    def become_follower(self, leader: int | None) -> None:
        was_leader = self.role == LEADER
        if was_leader:
            self.out.timers.append(("heartbeat", None))
        self.role, self.votes, self.leader = FOLLOWER, set(), leader
        if leader is not None or was_leader:
            self.arm_election()  # heard from the current leader (or no longer leads: needs its timer again)

    def set_term(self, term: int) -> None:
        self.current_term, self.voted_for, self.dirty_term = term, None, True
        self.leader = None

    def append(self, entry: Entry) -> int:
        self.log.append(entry)
        i = len(self.log) - 1
        self.dirty_log = i if self.dirty_log is None else min(self.dirty_log, i)
        return i

    def arm_election(self) -> None:
        self.out.timers.append(
            ("election", self.rng.randint(self.cfg.election_timeout_min, self.cfg.election_timeout_max))
        )

    def send(self, m: Any) -> None:
        self.out.messages.append(m)

    def flush(self) -> Output:
        out, self.out = self.out, Output()
        soft = (self.role, self.current_term, self.leader, self.commit_index, self.last_applied)
        if soft != self.reported:
            self.reported = soft
            out.soft_state = SoftState(*soft)
        if self.dirty_term:
            out.hard_state, self.dirty_term = (self.current_term, self.voted_for), False
        if self.dirty_log is not None:
            out.log_from, out.log_entries = self.dirty_log, tuple(self.log[self.dirty_log :])
            self.dirty_log = None
        return out


HANDLERS = {
    "RequestVote": Figure2Node.on_request_vote,
    "Vote": Figure2Node.on_vote,
    "AppendEntries": Figure2Node.on_append_entries,
    "AppendResult": Figure2Node.on_append_result,
}


class NoLogCheck(Figure2Node):
    """The planted bug: votes for any candidate of the current term, however far behind its log is."""

    check_log = False
