"""Raft's safety properties (the paper's Figure 3, and a few more), checked incrementally.

The simulator tells the checker what each server did after every input it handled (``observe``), when it
crashed and restarted, and when a client was told its command committed. Every check costs O(1) per entry
appended, committed or applied, and O(servers) per new leader or newly committed index: nothing depends on the
length of the log or of the run. The trick is a chained hash per log entry,
``chain[i] = H(chain[i-1], term_i, command_i)``, so that "these two logs agree up to i" is one integer
comparison, and one global table ``(index, term) -> chain`` that makes Log Matching a lookup (a list indexed by
index for the first term seen there, a dictionary for the rare later ones).

Log compaction (``sim.raft.snapshot``) changes none of that. A snapshot at index i stands for the committed log up
to i, so a server's view there simply is the committed chain, and the chain hash carries across the snapshot
point: ``chain[i]`` is the committed one, and the entries after i chain on from it. The tables are kept only from
the lowest snapshot index of any server (crashed ones included: they restart from their snapshots) on, as lists
that all start at that index (``_base``), so memory stays flat while every server compacts its log.

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
- SnapshotIntegrity: a snapshot at index i (taken or installed) covers committed entries only, its term is that
  of the committed entry at i, and its state is the one produced by applying exactly the committed entries 1..i,
  the client sessions included (``sim.check.statemachine`` keeps that state and a digest of it per index).
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

from sim.check.statemachine import CommittedState, state_digest
from sim.raft.membership import share_quorum
from sim.raft.messages import Entry
from sim.raft.node import LEADER
from sim.raft.quorum import Configuration
from sim.raft.snapshot import Snapshot

PROPERTIES = (
    "ElectionSafety",
    "LeaderAppendOnly",
    "LogMatching",
    "LeaderCompleteness",
    "StateMachineSafety",
    "TermMonotonic",
    "CommitMonotonic",
    "AckedDurable",
    "SnapshotIntegrity",
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
    """One server's log as the checker sees it, from the checker's base index on (``chain[k]`` is the chain hash
    at index base + k), and its commit index as such a position."""

    term: int = 0
    max_term: int = 0  # survives crashes
    role: str = "follower"
    commit: int = 0  # a position: the index is base + commit
    alive: bool = True
    snapshot: int = 0  # the index of its durable snapshot (survives crashes); 0 without one
    chain: list[int] = field(default_factory=lambda: [0])
    # Command identity (client number, seq) per position, None for a no-op; position 0 is the base (index 0: the
    # sentinel).
    ids: list[tuple[int, int] | None] = field(default_factory=lambda: [None])
    # For ConfigurationOverlap, in log indexes (not positions), kept through a rebase of the tables: the
    # configuration the server started with, or its snapshot's, at that index; the configuration entries its log
    # holds after it, (index, config); where each term's entries start, (index, term); and its last index.
    base_config: tuple[int, Configuration] = (0, Configuration(()))
    configs: list[tuple[int, Configuration]] = field(default_factory=list)
    terms: list[tuple[int, int]] = field(default_factory=list)
    last: int = 0


class Checker:
    """Incremental checker. After the first violation every further call is ignored; read ``violation``.

    ``snapshots``: whether servers may take snapshots; then the checker keeps the state machine of the committed
    log too, to check SnapshotIntegrity (``properties`` lists what it checks)."""

    # The tables forget what every server has compacted away once that is at least this many indexes (and at
    # least what they keep after it, so that forgetting costs O(1) per index, amortized).
    REBASE_MIN = 1024

    def __init__(self, nodes: Iterable[int], snapshots: bool = False) -> None:
        """The checker of a cluster whose initial servers, and first configuration, are ``nodes``."""
        nodes = tuple(nodes)
        first = (0, Configuration(nodes))
        self.servers: dict[int, _ServerView] = {n: _ServerView(base_config=first) for n in nodes}
        self.properties = PROPERTIES if snapshots else tuple(p for p in PROPERTIES if p != "SnapshotIntegrity")
        self._state = CommittedState() if snapshots else None
        self._snapshot_digests: dict[bytes, tuple[int, int]] = {}  # a snapshot's content -> its state digest
        self.violation: Violation | None = None
        self._leaders: dict[int, int] = {}  # term -> leader
        self._top_leader_term = 0  # the highest of those terms: no server leads a later one
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
        # Every list above, and each server's view, starts at index ``_base`` (position 0): the lowest snapshot
        # index of any server, once the tables have forgotten what is before it (0 until then).
        self._base = 0
        # Committed commands at indexes the tables have forgotten, until their client acknowledges a later one:
        # client number -> {seq: [indexes]}, for AckedDurable when an acknowledgement arrives that late.
        self._forgotten: dict[int, dict[int, list[int]]] = {}

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
        snapshot: Snapshot | None = None,
    ) -> None:
        """What ``node`` looks like after handling one input, once its writes are durable: its term, role and
        commit index, the log suffix it rewrote from ``log_from`` on, the entries it applied, and the snapshot it
        took or installed (with the log compaction it implies: ``sim.raft.output.Output``)."""
        if self.violation:
            return
        v = self.servers[node]
        if term < v.max_term:
            return self._fail("TermMonotonic", f"node {node} went from term {v.max_term} to {term}", node)
        was_leader = v.role == LEADER and v.term == term
        base = self._base
        commit -= base  # positions from here on
        configs = v.configs
        in_force = configs[-1] if configs else v.base_config
        if log_from is not None:
            last = len(v.chain) - 1
            log_from -= base
            if log_from <= last:
                if was_leader and role == LEADER:
                    return self._fail(
                        "LeaderAppendOnly",
                        f"leader {node} of term {term} rewrote its log from index {log_from}",
                        node,
                    )
                # The correct protocol never rewrites at or below its commit index; keep what was there to
                # compare after the rewrite (one atomic write: rewriting identical entries loses nothing).
                if log_from < 1:
                    return self._fail(
                        "StateMachineSafety",
                        f"node {node} rewrote its log from index {base + log_from}, which every snapshot covers",
                        node,
                    )
                kept_committed = v.chain[log_from : v.commit + 1]
                del v.chain[log_from:]
                del v.ids[log_from:]
                cut = base + log_from
                while configs and configs[-1][0] >= cut:
                    configs.pop()
                starts = v.terms
                while starts and starts[-1][0] >= cut:
                    starts.pop()
            elif log_from != last + 1:
                if snapshot is None or log_entries or base + log_from != snapshot.index + 1:
                    return self._fail("LogMatching", f"node {node} left a hole before index {base + log_from}", node)
                kept_committed = []  # an installed snapshot beyond the log's end: the log after it goes (none)
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
                    f"node {node} deleted committed entry {base + index} (commit {base + v.commit})",
                    node,
                )
            v.last = base + len(v.chain) - 1  # (the view's log changes only here and with a snapshot)
        if snapshot is not None:
            if not self._snapshot_view(node, v, snapshot):
                return
            self._snapshot_configuration(v, snapshot)
            v.last = base + len(v.chain) - 1
        v.term = term
        v.max_term = term
        if role == LEADER and not was_leader:
            if not self._new_leader(node, term, v.chain):
                return
        v.role = role
        if commit < v.commit:
            return self._fail(
                "CommitMonotonic", f"node {node} commit index fell from {base + v.commit} to {base + commit}", node
            )
        if commit > v.commit:
            if not self._commit(node, v, commit):
                return
        committed_ids = self._committed_ids
        numbers = self._client_numbers
        state = self._state
        for index, entry in applied:
            c = entry.command  # its identity: (client number, seq), None for a no-op
            ident = None if c is None else (numbers.get(c.client), c.seq)
            k = index - base
            if k > v.commit or k < 1 or committed_ids[k] != ident:
                return self._fail(
                    "StateMachineSafety",
                    f"node {node} applied index {index}, which is not the committed entry",
                    node,
                )
            if state is not None and index == state.index + 1:
                state.apply(index, entry)  # the first server to apply it: the committed state machine follows
        if snapshot is not None:
            self._snapshot_integrity(node, v, snapshot)
            if self.violation:
                return
        # (``v.configs``, not ``configs``: a snapshot replaces the list, and may change the configuration in force.)
        if (v.configs[-1] if v.configs else v.base_config) is not in_force:
            self._check_overlap(node, v)

    def joined(self, node: int) -> None:
        """A server that boots empty to join the cluster (it has no configuration until its log gives it one)."""
        self.servers.setdefault(node, _ServerView())

    def crashed(self, node: int) -> None:
        v = self.servers[node]
        v.alive = False
        v.role = "follower"
        v.commit = 0

    def restarted(self, node: int, term: int, entries: Sequence[Entry], snapshot: Snapshot | None = None) -> None:
        """``node`` came back with this durable state: a snapshot, and the log entries after it. Its log view is
        rebuilt (O(log), once per restart): the committed chain up to the snapshot's index, then the entries."""
        if self.violation:
            return
        v = self.servers[node]
        v.alive = True
        v.role = "follower"
        if term < v.max_term:
            return self._fail(
                "TermMonotonic", f"node {node} restarted in term {term} after reaching term {v.max_term}", node
            )
        v.term = term
        point = snapshot.index if snapshot is not None else 0
        k = point - self._base  # >= 0: the base is the lowest durable snapshot index
        if not 0 <= k < len(self._committed):
            return self._fail(
                "SnapshotIntegrity", f"node {node} restarted from a snapshot at index {point}, not committed", node
            )
        v.snapshot = point
        v.commit = k  # a snapshot holds committed entries only: the node restarts with them committed
        v.chain = self._committed[: k + 1]
        v.ids = self._committed_ids[: k + 1]
        v.configs = []
        if snapshot is not None:
            v.base_config = (snapshot.index, snapshot.configuration)
            v.terms = [(snapshot.index, snapshot.term)]
        else:
            v.terms = []
        if self._extend_chain(node, v, entries):
            v.last = self._base + len(v.chain) - 1
            self._check_overlap(node, v)

    def acked(self, client: str, seq: int, index: int) -> None:
        """A client was told that its command ``seq`` committed at ``index``."""
        if self.violation:
            return
        number = self._client_number(client)
        ident = (number, seq)
        k = index - self._base
        forgotten = self._forgotten.get(number)
        if k < 0:
            # So late that every server has compacted that index away since: the tables have forgotten it.
            if forgotten is None or index not in forgotten.get(seq, ()):
                self._fail(
                    "AckedDurable",
                    f"client {client} was told command {seq} committed at index {index}, but the committed log "
                    "holds another entry there",
                    client,
                )
        elif k >= len(self._committed) or self._committed_ids[k] != ident:
            self._fail(
                "AckedDurable",
                f"client {client} was told command {seq} committed at index {index}, but the committed log "
                f"{'holds another entry there' if k < len(self._committed) else 'does not reach it'}",
                client,
            )
        if forgotten:
            for old in [q for q in forgotten if q <= seq]:  # this client has moved past them
                del forgotten[old]

    # -------------------------------------------------------------------------------------- internals

    def _client_number(self, client: str) -> int:
        # Chain hashes must not depend on PYTHONHASHSEED, so they hash ints: clients get numbers in order of
        # appearance.
        n = self._client_numbers.get(client)
        if n is None:
            n = self._client_numbers[client] = len(self._client_numbers) + 1
        return n

    def _extend_chain(self, node: int, v: _ServerView, entries: Sequence[Entry]) -> bool:
        chains = self._first_chains
        ids = self._first_ids
        firsts = self._first_entries
        chain = v.chain
        chain_ids = v.ids
        h = chain[-1]
        starts = v.terms
        last_term = starts[-1][1] if starts else 0
        for entry in entries:
            index = len(chain)
            term = entry.term
            if term != last_term:
                last_term = term
                starts.append((self._base + index, term))
            if entry.config is not None:
                v.configs.append((self._base + index, entry.config))
            if index < len(firsts) and firsts[index] is entry and h is chains[index - 1]:
                # The very entry object first seen here, after the very same prefix: the same hash, not
                # recomputed (the common case: followers append the objects the leader sent).
                h = chains[index]
                chain.append(h)
                chain_ids.append(ids[index])
                continue
            c = entry.command  # its identity: (client number, seq), None for a no-op or a configuration
            if c is None:
                n, seq = (-1, -1) if entry.config is None else (-2, hash(entry.config.voters))
            else:
                n = self._client_numbers.get(c.client) or self._client_number(c.client)  # numbers start at 1
                seq = c.seq
            # Hashing a tuple of ints is the same in every process, whatever PYTHONHASHSEED says.
            h = hash((h, term, n, seq))
            terms = self._first_terms
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
                seen, ident = self._other_chains.setdefault((self._base + index, term), (h, ident))
                if seen != h:
                    return self._log_mismatch(node, index, term)
                h = seen
            chain.append(h)
            chain_ids.append(ident)
        return True

    def _log_mismatch(self, node: int, index: int, term: int) -> bool:
        self._fail(
            "LogMatching",
            f"node {node} holds an entry at index {self._base + index} of term {term} whose log differs from "
            f"another log's entry with the same index and term",
            node,
        )
        return False

    def _new_leader(self, node: int, term: int, chain: list[int]) -> bool:
        other = self._leaders.setdefault(term, node)
        if term > self._top_leader_term:
            self._top_leader_term = term
        if other != node:
            self._fail("ElectionSafety", f"nodes {other} and {node} are both leaders of term {term}", other, node)
            return False
        return self._holds_committed(node, chain, term)

    def _holds_committed(self, node: int, chain: list[int], term: int) -> bool:
        # A leader elected in term T may lack what a leader of a later term has meanwhile committed (its vote
        # replies can arrive late); it must hold everything committed in earlier terms (Section 5.4, Figure 3).
        top = bisect_left(self._committed_term, term) - 1  # -1: nothing the tables keep was committed before T
        # Position 0 is the base: the sentinel, or an index every server's snapshot covers.
        if top > 0 and (len(chain) <= top or chain[top] != self._committed[top]):
            self._fail(
                "LeaderCompleteness",
                f"leader {node} of term {term} lacks committed entries up to index {self._base + top}",
                node,
            )
            return False
        return True

    def _commit(self, node: int, v: _ServerView, commit: int) -> bool:
        chain = v.chain
        if commit >= len(chain):
            self._fail("StateMachineSafety", f"node {node} committed index {self._base + commit} beyond its log", node)
            return False
        committed = self._committed
        known = len(committed)
        for i in range(v.commit + 1, min(commit + 1, known)):
            if committed[i] != chain[i]:
                self._fail(
                    "StateMachineSafety", f"node {node} committed a different entry at index {self._base + i}", node
                )
                return False
        v.commit = commit
        if commit < known:
            return True
        committed_term = self._committed_term
        term = max(v.term, committed_term[-1])
        if commit == known:  # the common case: the first commit of one more index
            committed.append(chain[commit])
            self._committed_ids.append(v.ids[commit])
            committed_term.append(term)
        else:
            committed.extend(chain[known : commit + 1])
            self._committed_ids.extend(v.ids[known : commit + 1])
            committed_term.extend([term] * (commit + 1 - known))
        if self._top_leader_term > v.term:
            # Every leader of a later term must already hold what was just committed.
            for other, w in self.servers.items():
                if w.alive and w.role == LEADER and w.term > v.term:
                    if not self._holds_committed(other, w.chain, w.term):
                        return False
        return True

    # ------------------------------------------------------------------------------------------- snapshots

    def _snapshot_view(self, node: int, v: _ServerView, snapshot: Snapshot) -> bool:
        """Before the commit index is checked: the node's log up to the snapshot's index is now the snapshot, which
        stands for the committed log there. So the view holds the committed chain up to it (unless it is the
        node's own log, not yet committed anywhere: a node that commits and snapshots at once)."""
        k = snapshot.index - self._base
        if k <= v.commit:
            return True  # it covers what the view holds as committed already (or less: see CommitMonotonic)
        committed = self._committed
        chain = v.chain
        if k < len(committed):
            if len(chain) > k + 1:
                # It kept the log after the snapshot (Figure 13, step 6): that log must extend the snapshot.
                if chain[k] != committed[k]:
                    self._fail(
                        "LogMatching",
                        f"node {node} kept log entries after its snapshot at index {snapshot.index}, but its log "
                        "there is not the committed one",
                        node,
                    )
                    return False
                return True
            start = v.commit + 1
            del chain[start:]
            del v.ids[start:]
            chain.extend(committed[start : k + 1])
            v.ids.extend(self._committed_ids[start : k + 1])
            return True
        if k >= len(chain):
            self._fail(
                "SnapshotIntegrity",
                f"node {node} holds a snapshot at index {snapshot.index}, beyond its log and the committed log",
                node,
            )
            return False
        return True

    def _snapshot_integrity(self, node: int, v: _ServerView, snapshot: Snapshot) -> None:
        """After the commit index and the applied entries are checked: SnapshotIntegrity, then the tables may
        forget what every server has compacted away."""
        state = self._state
        if state is None:
            raise ValueError("a server took a snapshot: make the Checker with snapshots=True")
        index = snapshot.index
        k = index - self._base
        v.snapshot = index
        if k > v.commit:
            return self._fail(
                "SnapshotIntegrity",
                f"node {node} holds a snapshot at index {index}, beyond its commit index {self._base + v.commit}: "
                "a snapshot may cover applied entries only",
                node,
            )
        if k >= 0:  # (an older one than the tables keep can only come with a fall of the commit index, reported)
            if not self._is_committed_term(k, snapshot.term):
                return self._fail(
                    "SnapshotIntegrity",
                    f"node {node} holds a snapshot at index {index} of term {snapshot.term}, but the committed "
                    "entry there has another term",
                    node,
                )
            expected = state.digest_at(index)
            if expected is None:
                return self._fail(
                    "SnapshotIntegrity",
                    f"node {node} holds a snapshot at index {index}, which no server has applied",
                    node,
                )
            # Servers that snapshot at the same index write the same bytes (the encoding is canonical), and a
            # leader's snapshot reaches every follower it installs on: its digest is computed once. (The bytes are
            # the key: a snapshot that differs in anything gets a digest of its own.)
            digests = self._snapshot_digests
            found = digests.get(snapshot.data)
            if found is None:
                kv = snapshot.restore()
                found = state_digest(kv.data, kv.sessions)
                if len(digests) >= 32:
                    digests.clear()  # a few recent snapshots are all that recur
                digests[snapshot.data] = found
            data, sessions = found
            if (data, sessions) != expected:
                parts = (("key-value data", data == expected[0]), ("client sessions", sessions == expected[1]))
                what = " and ".join(name for name, same in parts if not same)
                return self._fail(
                    "SnapshotIntegrity",
                    f"node {node} holds a snapshot at index {index} whose {what} differ from the state produced by "
                    f"applying the committed entries 1..{index}",
                    node,
                )
        # The lowest snapshot index of all is at most this one: unless this one passes _maybe_rebase's test, that
        # one does not either (and the minimum over the servers is not worth computing).
        if k >= self.REBASE_MIN and k >= len(self._committed) - k:
            self._maybe_rebase()

    def _is_committed_term(self, k: int, term: int) -> bool:
        """Whether the committed entry at position ``k`` has term ``term``."""
        h = self._committed[k]
        if k < len(self._first_terms) and self._first_terms[k] == term and self._first_chains[k] == h:
            return True
        other = self._other_chains.get((self._base + k, term))
        return other is not None and other[0] == h

    def _maybe_rebase(self) -> None:
        """Forget what every server has compacted away (the lowest snapshot index of any server, crashed or not),
        once it is at least REBASE_MIN indexes and as much as the tables would keep."""
        low = min(v.snapshot for v in self.servers.values())
        k = low - self._base
        if k < self.REBASE_MIN or k < len(self._committed) - k:
            return
        for position in range(k):
            ident = self._committed_ids[position]
            if ident is not None:
                number, seq = ident
                self._forgotten.setdefault(number, {}).setdefault(seq, []).append(self._base + position)
        for table in (
            self._first_terms,
            self._first_chains,
            self._first_ids,
            self._first_entries,
            self._committed,
            self._committed_ids,
            self._committed_term,
        ):
            del table[:k]
        for v in self.servers.values():
            if v.alive:
                del v.chain[:k]
                del v.ids[:k]
                v.commit -= k
            else:  # rebuilt from its durable state when it restarts
                v.chain = [0]
                v.ids = [None]
                v.commit = 0
        self._other_chains = {key: value for key, value in self._other_chains.items() if key[0] >= low}
        assert self._state is not None
        self._state.rebase(low)
        self._base = low

    def _snapshot_configuration(self, v: _ServerView, snapshot: Snapshot) -> None:
        """A snapshot taken or installed: its configuration is the one as of its index, and the view's log is what
        follows it (an installed snapshot may have replaced everything before: the snapshot's term ends there)."""
        index = snapshot.index
        v.base_config = (index, snapshot.configuration)
        v.configs = [c for c in v.configs if c[0] > index]
        starts = v.terms
        while starts and starts[-1][0] > index and self._base + len(v.chain) - 1 <= index:
            starts.pop()
        if self._base + len(v.chain) - 1 == index and (not starts or starts[-1][1] != snapshot.term):
            starts.append((index, snapshot.term))

    def _in_force(self, v: _ServerView) -> tuple[int, Configuration] | None:
        """The server's configuration in force with its index, unless the server can never be elected with it (see
        ConfigurationOverlap in the module docstring): None then."""
        index, config = v.configs[-1] if v.configs else v.base_config
        voters = config.voters
        if not voters:
            return None
        mine = (v.terms[-1][1] if v.terms else 0, v.last)
        servers = self.servers
        spare = len(voters) - (len(voters) // 2 + 1)  # voters a majority can do without
        ahead = 0  # voters whose logs are more up-to-date than this one's
        for voter in voters:
            w = servers.get(voter)
            if w is not None and (w.terms[-1][1] if w.terms else 0, w.last) > mine:
                ahead += 1
                if ahead > spare:
                    return None  # every majority holds one of them
        return index, config

    def _check_overlap(self, node: int, v: _ServerView) -> None:
        # Only two different configurations can fail to share a quorum, and an empty one never counts, so a server
        # whose configuration is this one's, or empty, is passed over before any log is compared (the common case:
        # one configuration everywhere, and servers still joining).
        config = (v.configs[-1] if v.configs else v.base_config)[1]
        if not config.voters:
            return
        mine = None  # this server's configuration in force, judged on the first other configuration met
        for other, w in self.servers.items():
            if w is v:
                continue
            theirs = (w.configs[-1] if w.configs else w.base_config)[1]
            if theirs is config or not theirs.voters or theirs == config:
                continue
            if mine is None:
                mine = self._in_force(v)
                if mine is None:
                    return
            theirs_in_force = self._in_force(w)
            if theirs_in_force is not None and not share_quorum(config, theirs):
                self._fail(
                    "ConfigurationOverlap",
                    f"node {node} uses configuration {list(config.voters)} (index {mine[0]}) while node {other} uses "
                    f"{list(theirs.voters)} (index {theirs_in_force[0]}): they have majorities that do not meet",
                    node,
                    other,
                )
                return

    def _fail(self, prop: str, detail: str, *nodes: int | str) -> None:
        self.violation = Violation(prop, detail, tuple(nodes))
