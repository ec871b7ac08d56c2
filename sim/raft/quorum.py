"""The one majority rule: which indexes are committed, who won an election, whether a set of servers is a quorum.

Every decision a Raft server takes by counting servers goes through this module, given the configuration in force
(a ``Configuration``): the leader's commit index (Figure 2, "Leaders", last rule), an election's result, CheckQuorum
(thesis 9.6: has a majority been heard from recently?) and, to come, the acknowledgements of a ReadIndex round
(thesis 6.4). So a membership change is a new ``Configuration`` value, and nothing else.

A majority configuration is an ordered tuple of voter ids; a quorum of it is any ``len // 2 + 1`` of them. A joint
configuration (the paper's Section 6, thesis 4.3) is a pair (incoming, outgoing) in which a decision needs a
quorum of *each* half: its committed index is the smaller of the two halves' (as etcd-io/raft's
``quorum/joint.go``), its vote is won only when both halves won and lost as soon as either half lost. An empty
outgoing half means "not in a joint change"; an empty half decides nothing against the other (its committed index
is unbounded, its vote won), so a plain configuration is the joint one with an empty outgoing half.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass

Voters = tuple[int, ...]

WON = "won"
LOST = "lost"
PENDING = "pending"

# The committed index of an empty half: larger than any index, so that min() leaves the other half's.
UNBOUNDED = sys.maxsize


def majority_committed_index(voters: Voters, match: Mapping[int, int]) -> int:
    """The highest index that a majority of ``voters`` hold, given each one's match index (a voter missing from
    ``match`` holds nothing: 0). UNBOUNDED for no voters."""
    n = len(voters)
    if not n:
        return UNBOUNDED
    try:
        acked = sorted(map(match.__getitem__, voters))  # the leader's hot path: every voter known
    except KeyError:
        acked = sorted([match.get(v, 0) for v in voters])
    # Ascending: the (n - quorum)th value is held by the quorum of voters from there on. n - (n // 2 + 1).
    return acked[(n - 1) // 2]


def majority_vote_result(voters: Voters, granted: Collection[int], rejected: Collection[int]) -> str:
    """WON once a majority of ``voters`` granted, LOST once a majority can no longer grant (so many rejected),
    else PENDING. Ids outside ``voters`` do not count. An empty configuration has WON (it decides nothing)."""
    n = len(voters)
    if not n:
        return WON
    quorum = n // 2 + 1
    yes = sum(1 for v in voters if v in granted)
    if yes >= quorum:
        return WON
    no = sum(1 for v in voters if v in rejected)
    return LOST if n - no < quorum else PENDING


@dataclass(frozen=True, slots=True)
class Configuration:
    """Who votes: ``voters``, and during a joint change ``outgoing`` (the previous voters), else ().

    Order is kept as given: the node sends to its peers in this order, so it is part of a run's determinism."""

    voters: Voters
    outgoing: Voters = ()

    @property
    def joint(self) -> bool:
        return bool(self.outgoing)

    def ids(self) -> Voters:
        """Every server of the configuration, once each: the voters, then outgoing servers not among them."""
        return self.voters + tuple(i for i in self.outgoing if i not in self.voters)

    def committed_index(self, match: Mapping[int, int]) -> int:
        """The highest index held by a quorum (of both halves, if joint), from each server's match index."""
        index = majority_committed_index(self.voters, match)
        if self.outgoing:
            index = min(index, majority_committed_index(self.outgoing, match))
        return index

    def vote_result(self, granted: Collection[int], rejected: Collection[int] = ()) -> str:
        """WON, LOST or PENDING: an election (or pre-election) given who granted and who rejected."""
        result = majority_vote_result(self.voters, granted, rejected)
        if not self.outgoing:
            return result
        other = majority_vote_result(self.outgoing, granted, rejected)
        if result == other:
            return result
        if LOST in (result, other):
            return LOST
        return PENDING

    def is_quorum(self, ids: Collection[int]) -> bool:
        """Whether ``ids`` include a quorum: CheckQuorum's recently active servers (thesis 9.6), or the servers
        that acknowledged a ReadIndex heartbeat round (thesis 6.4)."""
        return self.vote_result(ids) == WON
