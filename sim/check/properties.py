"""Every property a run can fail, by name: the safety invariants the incremental checker watches after every event
(``sim.check.safety``), and the properties judged of a whole run. Scenario files name them in
``violation = "..."`` expectations; fuzz failures are filed under them."""

from __future__ import annotations

from sim.check.safety import PROPERTIES as SAFETY

LIVENESS = "Liveness"  # no leader followed by a majority, or client operations never completed, by the deadline
LIVELOCK = "Livelock"  # more SimPy events per simulated ms than ClusterConfig.max_events_per_ms allows
EXCEPTION = "Exception"  # a node, or anything in the simulated world, raised
LINEARIZABILITY = "Linearizability"  # the client history cannot be ordered (sim.check.linearizability)
CONVERGENCE = "Convergence"  # live servers' state machines differ after the cluster recovered
NODE_FAILURE = "NodeFailure"  # a node broke its contract: its process died, hung or wrote malformed output

RUN = (LIVENESS, LIVELOCK, EXCEPTION, LINEARIZABILITY, CONVERGENCE, NODE_FAILURE)
ALL = (*SAFETY, *RUN)
# What a scenario's ``violation = "..."`` may name: every property that a run is found to violate. Liveness is not
# one: a scenario states it as expectations (``leader_within``, ``clients_complete``), which a run passes or fails.
EXPECTABLE = (*SAFETY, LIVELOCK, EXCEPTION, LINEARIZABILITY, CONVERGENCE, NODE_FAILURE)
