"""The leader's view of one follower: Figure 2's nextIndex and matchIndex, and how it sends to it, as one state.

The states follow etcd-io/raft's ``tracker/state.go``:

- ``PROBE``: the leader does not know where the follower's log matches its own. It sends one AppendEntries at a
  time (``probe_sent`` until a reply or the next heartbeat), backing ``next`` off on each rejection.
- ``REPLICATE``: an AppendEntries succeeded, so the logs match up to ``match``. The leader streams entries as they
  arrive, advancing ``next`` optimistically, with at most ``max_inflight`` AppendEntries carrying entries
  unacknowledged (``inflight``: the last index and the send time of each). The cap matters on a network that
  reorders: a message that overtakes its predecessor is rejected, the leader probes again, and without a cap each
  success would resend the whole backlog (a message storm).
- ``SNAPSHOT``: waiting for an InstallSnapshot to finish (paper Section 7, Figure 13). The follower needs entries
  the leader has discarded, so the leader sends it no AppendEntries carrying entries; ``pending_snapshot`` is the
  last index the snapshot covers. Once the follower acknowledges that index (or beyond) the leader probes from
  there. Nothing enters this state yet: it is the place for log compaction (issue 11).

``probe_sent`` is meaningful only in PROBE (etcd's ``MsgAppFlowPaused`` of a probing follower) and is cleared by
every change of state.
"""

from __future__ import annotations

from collections import deque

PROBE = "probe"
REPLICATE = "replicate"
SNAPSHOT = "snapshot"


class Progress:
    __slots__ = ("inflight", "match", "next", "pending_snapshot", "probe_sent", "state")

    def __init__(self, next_index: int) -> None:
        self.next = next_index
        self.match = 0
        self.state = PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflight: deque[tuple[int, int]] = deque()

    def __repr__(self) -> str:
        return f"Progress({self.state}, match={self.match}, next={self.next}, inflight={len(self.inflight)})"

    def become_probe(self, next_index: int) -> None:
        """Probe from ``next_index``: the follower's log is known to match only up to ``match``."""
        self.next = next_index
        self.state = PROBE
        self.probe_sent = False
        self.inflight.clear()

    def become_snapshot(self, snapshot_index: int) -> None:
        """An InstallSnapshot covering the log through ``snapshot_index`` is on its way to the follower."""
        self.state = SNAPSHOT
        self.probe_sent = False
        self.pending_snapshot = snapshot_index
        self.inflight.clear()

    def acknowledge(self, match: int) -> None:
        """The follower's log matches up to ``match`` (a successful AppendEntries reply): replicate from there
        and free the in-flight messages that it covers. In SNAPSHOT, an acknowledgement short of the snapshot
        leaves the state as it is; one that covers it ends the state with a probe from after ``match``."""
        if match > self.match:
            self.match = match
        if self.next <= match:
            self.next = match + 1
        state = self.state
        if state is SNAPSHOT:
            if match >= self.pending_snapshot:
                self.become_probe(match + 1)
            return
        self.state = REPLICATE
        self.probe_sent = False
        inflight = self.inflight
        while inflight and inflight[0][0] <= match:
            inflight.popleft()
