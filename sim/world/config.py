"""What a simulated world is made of: the cluster, its network and its clients' workload."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.raft.node import RaftConfig
from sim.world.network import Delay, Uniform
from sim.world.storage import FsyncDisk


@dataclass(frozen=True)
class ClusterConfig:
    nodes: int = 5
    raft: RaftConfig = field(default_factory=RaftConfig)
    disk_latency: int = 0  # microseconds for a write to become durable
    # When set, each write's latency instead follows LogCabin's files and fsyncs (sim.world.storage.FsyncDisk).
    disk: FsyncDisk | None = None
    # A timer a node arms counts from the input that armed it, as in LogCabin (setElectionTimer runs before the
    # write it then waits for) and etcd (the election tick count is reset in Step); False: from when the input's
    # writes became durable. The two differ only with disk latency.
    timers_from_input: bool = False
    bug: str | None = None  # a known-bug variant from sim.nodes.bugs, None for the correct protocol
    # Another node implementation (examples/CONTRACT.md): a Python class "module:Class" run in process, or a
    # command run as one OS process per server boot. None for both: the built-in sim.raft.Node.
    implementation: str | None = None
    implementation_cmd: str | None = None
    # A run that needs more SimPy events than this per simulated ms (checked per 100 ms) is a message storm, a
    # livelock in which messages multiply: it stops with the property Livelock. 0: no budget.
    max_events_per_ms: int = 0


@dataclass(frozen=True)
class NetworkConfig:
    delay: Delay = Uniform(5_000, 15_000)
    drop: float = 0.0
    duplicate: float = 0.0
    # Each directed link delivers in the order it was sent, as a TCP connection does: a message that would
    # overtake an earlier one on its link waits for it. Off, every message's delay is independent (they reorder).
    fifo: bool = False


@dataclass(frozen=True)
class WorkloadConfig:
    """The clients (sim.world.clients). Times are microseconds."""

    clients: int = 0
    rate: float = 0.0  # open loop: operations per simulated second, all clients together
    timeout: int = 500_000  # before a client retries elsewhere
    redirect_backoff: int = 20_000  # to wait when a server knows no leader
    keys: int = 8
    start: int = 0  # first operation not before
    stop: int | None = None  # no new operation after (retries go on)
    ops: tuple[str, ...] = ("put", "append", "get", "cas")
    weights: tuple[float, ...] | None = None  # relative frequency of each of ``ops``; None: all alike
    mode: str = "open"  # "open": Poisson arrivals at ``rate``; "closed": the next after the previous completes
    think: int = 0  # closed loop: mean (exponential) pause between one operation's completion and the next
    give_up: int | None = None  # stop waiting after this long: the outcome is unknown (info); None: never
    # The servers the clients sit beside, client i beside beside[i % len] (sim.world.network.Network.place): its
    # messages pass where that server's would. Empty: outside every partition.
    beside: tuple[int, ...] = ()
