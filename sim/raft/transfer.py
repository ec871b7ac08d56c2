"""Leadership transfer (thesis 3.10): a leader hands its role to a server of its choice.

The operator's ``TransferLeader(target)`` reaches the leader as an input. The leader then:

1. stops accepting client requests (they are refused with no leader named, so the client waits a little and
   tries again), and gives up its read lease for the rest of its term (``sim.raft.read_only``);
2. brings the target's log up to date through ordinary replication;
3. once the target's matchIndex is its last index, sends it ``TimeoutNow`` (at once, or on the reply that brings
   it there), and again with each heartbeat while the transfer lasts, in case one was lost.

On ``TimeoutNow`` of its current term, a follower starts an election at once. It skips PreVote, and its
RequestVotes carry ``transfer``: voters grant them even while they hear from the leader, skipping the check of
thesis 4.2.3 (as etcd-io/raft's ``campaignTransfer`` does). Its log is at least as up to date as the leader's, so
it normally wins, and the old leader steps down when it sees the new term.

If the transfer has not completed within an election timeout (``election_timeout_min``, the ``TRANSFER`` timer),
the leader gives up and accepts clients again. The target may have crashed, or its messages may have been lost.
A transfer ends with the leader's term too. Asking for the transfer already in progress changes nothing; asking
for another target starts over with that one.
"""

from __future__ import annotations

from .messages import ClientReply, ClientRequest, TimeoutNow, TransferLeader

TRANSFER = "transfer"  # the leader's timer: give up a transfer that has not completed
_LEADER, _FOLLOWER = "leader", "follower"  # sim.raft.node's role names (node imports this module)


class LeadershipTransfer:
    """The node's side of a leadership transfer, mixed into ``sim.raft.node.Node``: the leader's (``transferee``,
    the server it is handing over to, None when it is not) and the target's (``_on_timeout_now``)."""

    def _on_transfer_leader(self, m: TransferLeader) -> None:
        target = m.target
        if self.role != _LEADER or target == self.id or target == self.transferee:
            return
        if target not in self.progress or target not in self.configuration.voters:
            return  # not a server this leader replicates to as a voter (a server being added votes only once added)
        self.transferee = target
        self.reads.forgo_lease()
        self.out.timers.append((TRANSFER, self.config.election_timeout_min))
        if self.progress[target].match == self.log.last_index:
            self._send(TimeoutNow(self.term, self.id, target))
        else:
            self._send_append(target)  # and on, as replies come, until _transfer_progress sees it caught up

    def _transfer_progress(self, peer: int) -> None:
        """The transferee's log may have caught up with the leader's: if so, tell it to campaign. A transferee that
        a membership change has taken out of the configuration since ends the transfer."""
        pr = self.progress.get(peer)
        if pr is None or peer not in self.configuration.voters:
            self._end_transfer()
        elif pr.match == self.log.last_index:
            self._send(TimeoutNow(self.term, self.id, peer))

    def _refuse_during_transfer(self, m: ClientRequest) -> None:
        self._send(ClientReply(self.id, m.src, m.command.seq, False, None, None))

    def _on_transfer_timeout(self) -> None:
        if self.role == _LEADER:
            self.transferee = None  # not done within an election timeout: accept clients again

    def _end_transfer(self) -> None:
        """The leader steps down: whatever transfer it had begun is over."""
        if self.transferee is not None:
            self.transferee = None
            self.out.timers.append((TRANSFER, None))

    def _on_timeout_now(self, m: TimeoutNow) -> None:
        if self.role == _FOLLOWER:
            self._campaign(transfer=True)
