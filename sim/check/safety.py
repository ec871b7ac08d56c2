"""Raft's safety properties (the paper's Figure 3, and a few more), checked incrementally.

The simulator tells the checker what each server did after every input it handled (``observe``), when it
crashed and restarted, and when a client was told its command committed. Every check costs O(1) per entry
appended, committed or applied, and O(servers) per new leader or newly committed index: nothing depends on the
length of the log or of the run. The trick is a chained hash per log entry,
``chain[i] = H(chain[i-1], term_i, command_i)``, so that "these two logs agree up to i" is one integer
comparison, and one global table ``(index, term) -> chain`` that makes Log Matching a lookup (a list indexed by
index for the first term seen there, a dictionary for the rare later ones).

Properties (names as reported):

- ElectionSafety: at most one leader per term.
- LeaderAppendOnly: a leader never overwrites or deletes entries of its log during its term.
- LogMatching: two logs with an entry of the same index and term are identical up to that index (also across
  time: an (index, term) pair names one log prefix for the whole run).
- LeaderCompleteness: a leader's log holds every entry committed in an earlier term.
- StateMachineSafety: no two servers commit or apply different entries at one index, and no server deletes an
  entry it has committed.
- TermMonotonic: a server's currentTerm never decreases, also across a crash and restart.
- CommitMonotonic: a live server's commit index never decreases.
- AckedDurable: a command acknowledged to a client is the committed entry at the index it was acknowledged with.
- ConfigurationOverlap: any two configurations in force at once share a quorum (every majority of one meets every
  majority of the other). Each server's configuration in force counts (the latest in its log, thesis 4.1; a crashed
  server's too: it comes back with it) unless the server can never be elected with it: it is empty (a server still
  joining), or every majority of it holds a server whose log is more up-to-date than this one's (Section 5.4.1:
  each of them refuses its vote; being behind such logs also bars a leader in office from committing, since their
  terms are higher). That judgement rests on the logs alone, not on what was committed, so a commit made with the
  wrong quorum cannot hide a configuration. In a correct run with one change at a time, what counts is the latest
  committed configuration and at most one successor, one server away: a server behind a committed configuration is
  barred by the majority of that configuration that holds it, and a sibling that a leader of an older term left on a
  minority is barred once the new leader commits an entry of its term, which it does before changing anything. A
  violation is a state from which two leaders, or two different commits, are a schedule away: the 2015
  single-server bug and a second change started too early both reach one. Checked when a server's configuration in
  force changes (the only way a new pair arises in a correct run: a server's log overtakes logs that bar it only by
  taking their configuration entries too): O(servers^2) per change, and nothing per entry beyond a term comparison.

``ReferenceChecker`` in ``sim.check.reference`` recomputes the same properties from scratch; the tests use it to
cross-check this one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sim.raft.membership import share_quorum
from sim.raft.messages import Entry
from sim.raft.node import LEADER
from sim.raft.quorum import Configuration

PROPERTIES = (
    "ElectionSafety",
    "LeaderAppendOnly",
    "LogMatching",
    "LeaderCompleteness",
    "StateMachineSafety",
    "TermMonotonic",
    "CommitMonotonic",
    "AckedDurable",
    "ConfigurationOverlap",
)


@dataclass(frozen=True)
class Violation:
    property: str
    detail: str
    nodes: tuple[int | str, ...]
    time: int = 0  # simulated microseconds, stamped by the simulation
    event: int = 0  # number of SimPy events processed, stamped by the simulation
    trace_tail: str = ""

    def report(self) -> str:
        head = (
            f"invariant violated: {self.property} at t={self.time / 1000:.3f}ms (event {self.event}), "
            f"nodes {', '.join(map(str, self.nodes))}: {self.detail}"
        )
        return head + ("\nlast events:\n" + self.trace_tail if self.trace_tail else "")


@dataclass
class _ServerView:
    term: int = 0
    max_term: int = 0  # survives crashes
    role: str = "follower"
    commit: int = 0
    alive: bool = True
    chain: list[int] = field(default_factory=lambda: [0])
    # Command identity (client number, seq) per index, None for a no-op; index 0 is the sentinel.
    ids: list[tuple[int, int] | None] = field(default_factory=lambda: [None])
    # The configuration the server started with, and the configuration entries its log holds, as (index, config).
    bootstrap: Configuration = Configuration(())
    configs: list[tuple[int, Configuration]] = field(default_factory=list)
    # Where each term's entries start in its log, as (index, term): the last one gives its last log term.
    terms: list[tuple[int, int]] = field(default_factory=list)


class Checker:
    """Incremental checker. After the first violation every further call is ignored; read ``violation``."""

    def __init__(self, nodes: Iterable[int]) -> None:
        """The checker of a cluster whose initial servers, and first configuration, are ``nodes``."""
        nodes = tuple(nodes)
        self.servers: dict[int, _ServerView] = {n: _ServerView(bootstrap=Configuration(nodes)) for n in nodes}
        self.violation: Violation | None = None
        self._leaders: dict[int, int] = {}  # term -> leader
        # The first log prefix seen ending in each (index, term): by index, for the first term seen there (lists:
        # the index advances with the logs, so these stay in cache), and a dict for any later term at an index.
        # Servers' chains share the hash objects kept here. Also each such entry's command identity, and the entry
        # object itself: a server appending that very object after the very same prefix needs no hashing.
        self._first_terms: list[int] = [0]
        self._first_chains: list[int] = [0]
        self._first_ids: list[tuple[int, int] | None] = [None]
        self._first_entries: list[Entry | None] = [None]
        self._other_chains: dict[tuple[int, int], tuple[int, tuple[int, int] | None]] = {}
        # The committed log as first committed anywhere: chain hashes and command identities, index 0 a sentinel.
        self._committed: list[int] = [0]
        self._committed_ids: list[tuple[int, int] | None] = [None]
        # The term each index was first committed in (the committing server's term), made non-decreasing along the
        # log (in a correct run it already is: committing an index commits every index before it). Leader
        # Completeness binds only leaders of later terms, so a leader of term T must hold the committed prefix up
        # to the last index committed in a term below T: a bisection of this list.
        self._committed_term: list[int] = [0]
        self._client_numbers: dict[str, int] = {}

    # ----------------------------------------------------------------------------------------- inputs

    def observe(
        self,
        node: int,
        term: int,
        role: str,
        commit: int,
        log_from: int | None = None,
        log_entries: Sequence[Entry] = (),
        applied: Sequence[tuple[int, Entry]] = (),
    ) -> None:
        """What ``node`` looks like after handling one input, once its writes are durable: its term, role and
        commit index, the log suffix it rewrote from ``log_from`` on, and the entries it applied."""
        if self.violation:
            return
        v = self.servers[node]
        if term < v.max_term:
            return self._fail("TermMonotonic", f"node {node} went from term {v.max_term} to {term}", node)
        was_leader = v.role == LEADER and v.term == term
        configs = v.configs
        in_force = configs[-1] if configs else None
        if log_from is not None:
            last = len(v.chain) - 1
            if log_from <= last:
                if was_leader and role == LEADER:
                    return self._fail(
                        "LeaderAppendOnly",
                        f"leader {node} of term {term} rewrote its log from index {log_from}",
                        node,
                    )
                # The correct protocol never rewrites at or below its commit index; keep what was there to
                # compare after the rewrite (one atomic write: rewriting identical entries loses nothing).
                kept_committed = v.chain[log_from : v.commit + 1]
                del v.chain[log_from:]
                del v.ids[log_from:]
                while configs and configs[-1][0] >= log_from:
                    configs.pop()
                terms = v.terms
                while terms and terms[-1][0] >= log_from:
                    terms.pop()
            elif log_from != last + 1:
                return self._fail("LogMatching", f"node {node} left a hole before index {log_from}", node)
            else:
                kept_committed = []
            if not self._extend_chain(node, v, log_entries):
                return
            if kept_committed and (len(v.chain) <= v.commit or v.chain[v.commit] != kept_committed[-1]):
                index = next(
                    (
                        log_from + k
                        for k, h in enumerate(kept_committed)
                        if log_from + k >= len(v.chain) or v.chain[log_from + k] != h
                    ),
                    log_from,
                )
                return self._fail(
                    "StateMachineSafety",
                    f"node {node} deleted committed entry {index} (commit {v.commit})",
                    node,
                )
        v.term = term
        v.max_term = term
        if role == LEADER and not was_leader:
            if not self._new_leader(node, term, v.chain):
                return
        v.role = role
        if commit < v.commit:
            return self._fail("CommitMonotonic", f"node {node} commit index fell from {v.commit} to {commit}", node)
        if commit > v.commit:
            if not self._commit(node, v, commit):
                return
        committed_ids = self._committed_ids
        numbers = self._client_numbers
        for index, entry in applied:
            c = entry.command  # its identity: (client number, seq), None for a no-op
            ident = None if c is None else (numbers.get(c.client), c.seq)
            if index > v.commit or committed_ids[index] != ident:
                return self._fail(
                    "StateMachineSafety",
                    f"node {node} applied index {index}, which is not the committed entry",
                    node,
                )
        if (configs[-1] if configs else None) is not in_force:
            self._check_overlap(node, v)

    def joined(self, node: int) -> None:
        """A server that boots empty to join the cluster (it has no configuration until its log gives it one)."""
        self.servers.setdefault(node, _ServerView())

    def crashed(self, node: int) -> None:
        v = self.servers[node]
        v.alive = False
        v.role = "follower"
        v.commit = 0

    def restarted(self, node: int, term: int, entries: Sequence[Entry]) -> None:
        """``node`` came back with this durable state. Its log view is rebuilt (O(log), once per restart)."""
        if self.violation:
            return
        v = self.servers[node]
        v.alive = True
        v.role = "follower"
        v.commit = 0
        if term < v.max_term:
            return self._fail(
                "TermMonotonic", f"node {node} restarted in term {term} after reaching term {v.max_term}", node
            )
        v.term = term
        v.chain = [0]
        v.ids = [None]
        v.configs = []
        v.terms = []
        if self._extend_chain(node, v, entries):
            self._check_overlap(node, v)

    def acked(self, client: str, seq: int, index: int) -> None:
        """A client was told that its command ``seq`` committed at ``index``."""
        if self.violation:
            return
        ident = (self._client_number(client), seq)
        if index >= len(self._committed) or self._committed_ids[index] != ident:
            self._fail(
                "AckedDurable",
                f"client {client} was told command {seq} committed at index {index}, but the committed log "
                f"{'holds another entry there' if index < len(self._committed) else 'does not reach it'}",
                client,
            )

    # -------------------------------------------------------------------------------------- internals

    def _client_number(self, client: str) -> int:
        # Chain hashes must not depend on PYTHONHASHSEED, so they hash ints: clients get numbers in order of
        # appearance.
        n = self._client_numbers.get(client)
        if n is None:
            n = self._client_numbers[client] = len(self._client_numbers) + 1
        return n

    def _extend_chain(self, node: int, v: _ServerView, entries: Sequence[Entry]) -> bool:
        numbers = self._client_numbers
        terms = self._first_terms
        chains = self._first_chains
        ids = self._first_ids
        firsts = self._first_entries
        chain = v.chain
        h = chain[-1]
        starts = v.terms
        last_term = starts[-1][1] if starts else 0
        for entry in entries:
            index = len(chain)
            if entry.term != last_term:
                last_term = entry.term
                starts.append((index, last_term))
            if entry.config is not None:
                v.configs.append((index, entry.config))
            if index < len(firsts) and firsts[index] is entry and h is chains[index - 1]:
                # The very entry object first seen here, after the very same prefix: the same hash, not
                # recomputed (the common case: followers append the objects the leader sent).
                h = chains[index]
                chain.append(h)
                v.ids.append(ids[index])
                continue
            term = entry.term
            c = entry.command  # its identity: (client number, seq), None for a no-op or a configuration
            if c is None:
                n, seq = (-1, -1) if entry.config is None else (-2, hash(entry.config.voters))
            else:
                n = numbers.get(c.client) or self._client_number(c.client)  # numbers start at 1
                seq = c.seq
            # Hashing a tuple of ints is the same in every process, whatever PYTHONHASHSEED says.
            h = hash((h, term, n, seq))
            if index == len(terms):  # the first log to reach this index
                ident = None if c is None else (n, seq)
                terms.append(term)
                chains.append(h)
                ids.append(ident)
                firsts.append(entry)
            elif terms[index] == term:
                seen = chains[index]
                if seen != h:
                    return self._log_mismatch(node, index, term)
                h = seen
                ident = ids[index]
            else:
                ident = None if c is None else (n, seq)
                seen, ident = self._other_chains.setdefault((index, term), (h, ident))
                if seen != h:
                    return self._log_mismatch(node, index, term)
                h = seen
            chain.append(h)
            v.ids.append(ident)
        return True

    def _log_mismatch(self, node: int, index: int, term: int) -> bool:
        self._fail(
            "LogMatching",
            f"node {node} holds an entry at index {index} of term {term} whose log differs from "
            f"another log's entry with the same index and term",
            node,
        )
        return False

    def _new_leader(self, node: int, term: int, chain: list[int]) -> bool:
        other = self._leaders.setdefault(term, node)
        if other != node:
            self._fail("ElectionSafety", f"nodes {other} and {node} are both leaders of term {term}", other, node)
            return False
        return self._holds_committed(node, chain, term)

    def _holds_committed(self, node: int, chain: list[int], term: int) -> bool:
        # A leader elected in term T may lack what a leader of a later term has meanwhile committed (its vote
        # replies can arrive late); it must hold everything committed in earlier terms (Section 5.4, Figure 3).
        top = bisect_left(self._committed_term, term) - 1
        if top and (len(chain) <= top or chain[top] != self._committed[top]):
            self._fail(
                "LeaderCompleteness",
                f"leader {node} of term {term} lacks committed entries up to index {top}",
                node,
            )
            return False
        return True

    def _commit(self, node: int, v: _ServerView, commit: int) -> bool:
        chain = v.chain
        if commit >= len(chain):
            self._fail("StateMachineSafety", f"node {node} committed index {commit} beyond its log", node)
            return False
        committed = self._committed
        known = len(committed)
        for i in range(v.commit + 1, min(commit + 1, known)):
            if committed[i] != chain[i]:
                self._fail("StateMachineSafety", f"node {node} committed a different entry at index {i}", node)
                return False
        grew = commit >= known
        if grew:
            committed.extend(chain[known : commit + 1])
            self._committed_ids.extend(v.ids[known : commit + 1])
            self._committed_term.extend([max(v.term, self._committed_term[-1])] * (commit + 1 - known))
        v.commit = commit
        if grew:
            # Every leader of a later term must already hold what was just committed.
            for other, w in self.servers.items():
                if w.alive and w.role == LEADER and w.term > v.term:
                    if not self._holds_committed(other, w.chain, w.term):
                        return False
        return True

    def _in_force(self, v: _ServerView) -> tuple[int, Configuration] | None:
        """The server's configuration in force with its index, unless the server can never be elected with it (see
        ConfigurationOverlap in the module docstring): None then."""
        index, config = v.configs[-1] if v.configs else (0, v.bootstrap)
        voters = config.voters
        if not voters:
            return None
        mine = (v.terms[-1][1] if v.terms else 0, len(v.chain))
        ahead = 0  # voters whose logs are more up-to-date than this one's
        for voter in voters:
            w = self.servers.get(voter)
            if w is not None and (w.terms[-1][1] if w.terms else 0, len(w.chain)) > mine:
                ahead += 1
        if ahead > len(voters) - (len(voters) // 2 + 1):
            return None  # every majority holds one of them
        return index, config

    def _check_overlap(self, node: int, v: _ServerView) -> None:
        mine = self._in_force(v)
        if mine is None:
            return
        for other, w in self.servers.items():
            if w is v:
                continue
            theirs = self._in_force(w)
            if theirs is not None and theirs[1] != mine[1] and not share_quorum(mine[1], theirs[1]):
                self._fail(
                    "ConfigurationOverlap",
                    f"node {node} uses configuration {list(mine[1].voters)} (index {mine[0]}) while node {other} uses "
                    f"{list(theirs[1].voters)} (index {theirs[0]}): they have majorities that do not meet",
                    node,
                    other,
                )
                return

    def _fail(self, prop: str, detail: str, *nodes: int | str) -> None:
        self.violation = Violation(prop, detail, tuple(nodes))
