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
)

__all__ = [
    "CANDIDATE",
    "ELECTION",
    "FOLLOWER",
    "HEARTBEAT",
    "LEADER",
    "PRECANDIDATE",
    "Address",
    "AppendEntries",
    "AppendEntriesReply",
    "ClientReply",
    "ClientRequest",
    "Command",
    "Entry",
    "KeyValueStore",
    "Message",
    "Node",
    "Output",
    "PersistentState",
    "RaftConfig",
    "RaftLog",
    "RequestVote",
    "RequestVoteReply",
]
