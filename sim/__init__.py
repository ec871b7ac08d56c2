"""raftsim: a deterministic discrete-event simulator for the Raft consensus protocol.

The package, by layer (each imports only from the layers above it in this list):

- ``sim.raft``: the pure protocol (sans-I/O): a node is fed inputs and returns what to persist, send, arm, apply.
- ``sim.nodes``: implementations of the node contract besides the correct one (the bug catalog).
- ``sim.world``: the simulated world on SimPy: cluster and servers, network, storage, timers, clients, faults.
- ``sim.check``: judging a run: the incremental safety checker and its slow reference.
- ``sim.scenario``: scenario files: their model, parsing, writing, expectation monitors, running.
- ``sim.fuzz``: seed-replayable swarm fuzzing: cases, drawing, campaigns, shrinking, export, bug hunts.
- ``sim.viz``: drawing a trace (the timeline PNG).
- ``sim.experiments``: Figure 16 of the paper and the benchmark.
- ``sim.cli``: the ``raftsim`` command, dispatching to each package's ``cli`` module.

Shared by all: ``sim.trace`` (the event record), ``sim.rng`` (named seeded streams), ``sim.units`` (times as
written and printed), ``sim.errors`` (bad input).
"""

from importlib import metadata

try:
    __version__ = metadata.version("raftsim")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
