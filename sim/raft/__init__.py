"""The Raft protocol as a pure state machine: no SimPy, no clock, no I/O (see ``node``)."""

from .kv import KeyValueStore
from .log import RaftLog
from .messages import (
    Address,
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
from .node import (
    CANDIDATE,
    ELECTION,
    FOLLOWER,
    HEARTBEAT,
    LEADER,
    PRECANDIDATE,
    Node,
    Output,
    PersistentState,
    RaftConfig,
    SoftState,
)
from .progress import PROBE, REPLICATE, SNAPSHOT, Progress
from .quorum import LOST, PENDING, WON, Configuration

__all__ = [
    "CANDIDATE",
    "ELECTION",
    "FOLLOWER",
    "HEARTBEAT",
    "LEADER",
    "LOST",
    "PENDING",
    "PRECANDIDATE",
    "PROBE",
    "REPLICATE",
    "SNAPSHOT",
    "WON",
    "Address",
    "AppendEntries",
    "AppendEntriesReply",
    "ClientReply",
    "ClientRequest",
    "Command",
    "Configuration",
    "Entry",
    "KeyValueStore",
    "Message",
    "Node",
    "Output",
    "PersistentState",
    "Progress",
    "RaftConfig",
    "RaftLog",
    "RequestVote",
    "RequestVoteReply",
    "SoftState",
    "TimeoutNow",
    "TransferLeader",
]
