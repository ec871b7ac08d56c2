"""A slow, obviously-correct checker that recomputes every property of ``sim.check.safety`` from scratch.

It exists only to cross-check the incremental ``Checker`` in the tests. After every SimPy event it looks at every
live server's node (term, role, log, commit index, last applied index) and at the trace records written since the
previous event, keeps its history in the plainest form it can (every leader ever seen per term, the first entry
ever seen committed at each index, the highest term each server ever had, every log prefix ever seen per
(index, term), the acknowledgements clients received), and checks every property by brute force.

Use::

    sim = Simulation(cluster, network, workload, seed=..., check=True)   # trace must be on
    ref = ReferenceChecker(sim)
    sim.run(until_us, after_event=ref.check)
    ref.violation  # a sim.check.safety.Violation or None; same property names as the incremental checker

A server that compacted its log holds a snapshot at some index s and the entries after it. Its log, for every
check here, is the one it stands for: the entries 1..s it had before compacting them (a snapshot it took), or the
committed ones (a snapshot it installed, which a leader took from committed entries), then the entries it holds.
SnapshotIntegrity is checked for each new snapshot by replaying the committed entries 1..s from scratch into a
fresh key-value store and comparing data and client sessions.

It reads the nodes' in-memory state (for ConfigurationOverlap, every server's durable log and snapshot), while
the incremental checker observes a node once its writes are durable: the two agree when
``ClusterConfig.disk_latency`` is 0 (the default), so cross-check runs use that (ConfigurationOverlap agrees
with any disk).

``Simulation.run`` does not call ``after_event`` for the event at which the incremental checker stops the run, so
after such a stop call ``ref.check(sim)`` once more to look at that last event (a second call for the same event
number does nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

from sim.check.safety import Violation
from sim.raft.kv import KeyValueStore
from sim.raft.messages import Entry
from sim.raft.node import LEADER, Node
from sim.raft.quorum import Configuration
from sim.raft.snapshot import Snapshot
from sim.trace import record_to_dict

if TYPE_CHECKING:
    from sim.world.cluster import Simulation


@dataclass(frozen=True)
class _Snapshot:
    """One live server as it looked after an event."""

    node: Node  # the object itself: a new object means the server restarted in between
    term: int
    role: str
    log: tuple[Entry, ...]  # without the sentinel: log[k] is the entry at index k + 1 (through any snapshot)
    commit: int
    last_applied: int
    snapshot: Snapshot | None = None


def _same_command(entry: Entry, client: Any, seq: Any) -> bool:
    c = entry.command
    if c is None:
        return client is None
    return c.client == client and c.seq == seq


class ReferenceChecker:
    def __init__(self, sim: Simulation) -> None:
        if not sim.trace.enabled:
            raise ValueError("the reference checker reads the trace: run the Simulation with trace=True")
        self.sim = sim
        self.violation: Violation | None = None
        self.checked_events = -1
        self._trace_cursor = 0
        # History, in the plainest form.
        self.leaders: dict[int, set[int]] = {}  # term -> every server ever seen leading in it
        self.max_term: dict[int, int] = {}  # server -> highest term it ever had (across crashes)
        # committed[k]: the entry first seen committed at index k + 1; committed_in[k]: the term of the server
        # that committed it first (the term it was "committed in", for Leader Completeness).
        self.committed: list[Entry] = []
        self.committed_in: list[int] = []
        self.prefixes: dict[tuple[int, int], tuple[Entry, ...]] = {}  # (index, term) -> log[1..index] first seen
        self.acks: list[tuple[str, int, int]] = []  # (client, seq, index) of every acknowledgement
        self.previous: dict[int, _Snapshot] = {}  # server -> its snapshot after the previous event
        # server -> (its snapshot, the entries 1..index it stands for), once worked out
        self.compacted: dict[int, tuple[Snapshot, tuple[Entry, ...]]] = {}

    # ------------------------------------------------------------------------------------------ entry point

    def check(self, sim: Simulation) -> None:
        """Look at the simulation after one event. Records the first violation in ``violation``."""
        if self.violation is not None or sim.events == self.checked_events:
            return
        self.checked_events = sim.events
        now: dict[int, _Snapshot] = {}
        found = None
        for i, server in sim.servers.items():
            node = server.node
            if server.alive and node is not None:
                log = tuple(node.log.entries())
                snapshot = node.snapshot
                if snapshot is not None:
                    prefix = self._compacted_prefix(i, snapshot)
                    if prefix is None:
                        found = found or (
                            "SnapshotIntegrity",
                            f"node {i} holds a snapshot at {snapshot.index}, beyond its log and the committed log",
                            (i,),
                        )
                        continue
                    log = prefix + log
                now[i] = _Snapshot(node, node.term, node.role, log, node.commit, node.last_applied, snapshot)
        new_records = sim.trace.records[self._trace_cursor :]
        self._trace_cursor = len(sim.trace.records)
        found = found or self._find(now, new_records) or self._overlap(sim)
        self.previous = now
        if found is not None:
            prop, detail, nodes = found
            self.violation = Violation(prop, detail, nodes, sim.now, sim.events)

    def _compacted_prefix(self, i: int, snapshot: Snapshot) -> tuple[Entry, ...] | None:
        """The entries 1..index that server ``i``'s snapshot stands for: the committed ones if committed that far,
        else the ones its log held at the previous event (a snapshot it took as it committed them)."""
        known = self.compacted.get(i)
        if known is not None and known[0] is snapshot:
            return known[1]
        index = snapshot.index
        if len(self.committed) >= index:
            prefix = tuple(self.committed[:index])
        else:
            before = self.previous.get(i)
            if before is None or len(before.log) < index:
                return None
            prefix = before.log[:index]
        self.compacted[i] = (snapshot, prefix)
        return prefix

    # ----------------------------------------------------------------------------------------- the checks

    def _find(self, now: dict[int, _Snapshot], records: list[Any]) -> tuple[str, str, tuple[int | str, ...]] | None:
        """Update the history with this event and return the first broken property (name, detail, nodes)."""
        # TermMonotonic: a server's term never falls below the highest it ever had, crashes included.
        for i, s in now.items():
            if s.term < self.max_term.get(i, 0):
                return "TermMonotonic", f"node {i} is in term {s.term} after term {self.max_term[i]}", (i,)
            self.max_term[i] = s.term

        # LeaderAppendOnly: a server that led term T at the previous event and still does has only appended.
        for i, s in now.items():
            p = self.previous.get(i)
            if p is not None and p.node is s.node and p.role == LEADER and s.role == LEADER and p.term == s.term:
                if s.log[: len(p.log)] != p.log:
                    return "LeaderAppendOnly", f"leader {i} of term {s.term} changed its log", (i,)

        # StateMachineSafety, deletion part: a live server never loses an entry at or below its commit index.
        for i, s in now.items():
            if s.commit > len(s.log):
                return "StateMachineSafety", f"node {i} has commit {s.commit} but only {len(s.log)} entries", (i,)

        # LogMatching: the same (index, term) means the same log up to that index, for every log ever seen.
        for i, s in now.items():
            p = self.previous.get(i)
            if p is not None and p.log == s.log:
                continue  # unchanged since its last check
            for k, entry in enumerate(s.log):
                index = k + 1
                prefix = s.log[:index]
                seen = self.prefixes.setdefault((index, entry.term), prefix)
                if seen != prefix:
                    return "LogMatching", f"node {i}: two logs differ up to index {index}, term {entry.term}", (i,)

        # ElectionSafety: at most one leader per term, counting every leadership the trace recorded in between.
        for record in records:
            _, kind, node, data = record
            if kind == "state" and data["role"] == LEADER:
                self.leaders.setdefault(data["term"], set()).add(node)
        for i, s in now.items():
            if s.role == LEADER:
                self.leaders.setdefault(s.term, set()).add(i)
        for term, who in self.leaders.items():
            if len(who) > 1:
                return "ElectionSafety", f"term {term} has leaders {sorted(who)}", tuple(sorted(who))

        # CommitMonotonic: a live server's commit index never decreases (until it crashes).
        for i, s in now.items():
            p = self.previous.get(i)
            if p is not None and p.node is s.node and s.commit < p.commit:
                return "CommitMonotonic", f"node {i} commit fell from {p.commit} to {s.commit}", (i,)

        # StateMachineSafety: at every index, every server commits the same entry (the first one ever committed
        # there), and keeps it for as long as it lives.
        for i, s in now.items():
            mine = s.log[: s.commit]
            both = min(len(self.committed), len(mine))
            if mine[:both] != tuple(self.committed[:both]):
                index = next(k + 1 for k in range(both) if mine[k] != self.committed[k])
                return "StateMachineSafety", f"node {i} committed a different entry at index {index}", (i,)
            for entry in mine[both:]:
                self.committed.append(entry)
                self.committed_in.append(s.term)
            if s.last_applied > s.commit:
                return "StateMachineSafety", f"node {i} applied {s.last_applied} beyond commit {s.commit}", (i,)
        for record in records:
            if record[1] == "apply":
                data = record_to_dict(record)
                node = record[2]
                first = self._committed_at(data["index"])
                if first is None or first.term != data["term"] or not _same_command(first, data["client"], data["seq"]):
                    return "StateMachineSafety", f"node {node} applied index {data['index']} not committed", (node,)

        # LeaderCompleteness: a leader of term T holds every entry committed in a term below T.
        for i, s in now.items():
            if s.role != LEADER:
                continue
            for k, entry in enumerate(self.committed):
                index = k + 1
                if self.committed_in[k] < s.term and (index > len(s.log) or s.log[k] != entry):
                    return "LeaderCompleteness", f"leader {i} of term {s.term} lacks committed index {index}", (i,)

        # AckedDurable: an acknowledged command is the committed entry at the index it was acknowledged with.
        # (That it stays there is StateMachineSafety above: committed entries are compared on every event.)
        for record in records:
            _, kind, client, data = record
            if kind == "ack":
                self.acks.append((client, data["seq"], data["index"]))
                first = self._committed_at(data["index"])
                if first is None or not _same_command(first, client, data["seq"]):
                    return "AckedDurable", f"client {client} seq {data['seq']} is not committed at its index", (client,)

        # SnapshotIntegrity: each new snapshot covers committed entries only, has the committed entry's term, and
        # holds the state produced by applying the committed entries 1..index (replayed here from scratch).
        for i, s in now.items():
            snapshot = s.snapshot
            p = self.previous.get(i)
            if snapshot is None or (p is not None and p.snapshot is snapshot):
                continue
            index = snapshot.index
            if index > s.commit:
                return "SnapshotIntegrity", f"node {i} has a snapshot at {index} beyond its commit {s.commit}", (i,)
            if index > len(self.committed) or self.committed[index - 1].term != snapshot.term:
                return "SnapshotIntegrity", f"node {i}'s snapshot at {index} is not of the committed entry", (i,)
            replayed = KeyValueStore()
            for k, entry in enumerate(self.committed[:index], start=1):
                if entry.command is not None:
                    replayed.apply(entry.command, k)
            held = snapshot.restore()
            if (held.data, held.sessions) != (replayed.data, replayed.sessions):
                return "SnapshotIntegrity", f"node {i}'s snapshot at {index} is not the committed state", (i,)
        return None

    def _overlap(self, sim: Simulation) -> tuple[str, str, tuple[int | str, ...]] | None:
        """ConfigurationOverlap (see ``sim.check.safety``), from scratch: every server's durable log and snapshot,
        its configuration in force (the latest in the log, else the snapshot's, else the one it started with),
        whether some majority of it would still elect the server (every voter's last entry compared with its own),
        and whether the configurations that might have majorities that do not meet."""
        held: dict[int, tuple[Configuration, tuple[int, int]]] = {}  # server -> (configuration, (last term, index))
        for i, server in sim.servers.items():
            # What is durable, as the incremental checker sees a server (its writes once durable): a leader's entry
            # still on its way to disk is in force in its memory, but nothing outside it has seen that yet.
            entries, snapshot = tuple(server.storage.entries), server.storage.snapshot
            point = (snapshot.term, snapshot.index) if snapshot is not None else (0, 0)
            config = snapshot.configuration if snapshot is not None else Configuration(server.bootstrap)
            for entry in entries:
                if entry.config is not None:
                    config = entry.config
            last = (entries[-1].term, point[1] + len(entries)) if entries else point
            held[i] = (config, last)
        electable: dict[int, Configuration] = {}
        for i, (config, last) in held.items():
            # Voters that would grant it their vote on the log check (Section 5.4.1): are a majority among them?
            willing = [v for v in config.voters if v not in held or held[v][1] <= last]
            if len(willing) >= _majority(config):
                electable[i] = config
        for (i, a), (j, b) in combinations(sorted(electable.items()), 2):
            if a != b and _disjoint_majorities(a, b):
                return "ConfigurationOverlap", f"nodes {i} and {j} use {list(a.voters)} and {list(b.voters)}", (i, j)
        return None

    def _committed_at(self, index: int) -> Entry | None:
        return self.committed[index - 1] if 1 <= index <= len(self.committed) else None


def _majority(config: Configuration) -> int:
    return len(config.voters) // 2 + 1


def _disjoint_majorities(a: Configuration, b: Configuration) -> bool:
    """Whether some majority of ``a`` and some majority of ``b`` share no server. Counted rather than enumerated
    (ten voters have 210 majorities, two such configurations 44,100 pairs): a majority of ``a`` takes what it can
    from the voters only ``a`` has and the rest from those both have, a majority of ``b`` likewise, and the two
    are disjoint exactly when the shared voters suffice for both rests."""
    va, vb = set(a.voters), set(b.voters)
    shared = len(va & vb)
    need_a = max(0, _majority(a) - len(va - vb))
    need_b = max(0, _majority(b) - len(vb - va))
    return need_a + need_b <= shared
