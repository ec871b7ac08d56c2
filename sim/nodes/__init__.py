"""Node implementations besides the correct ``sim.raft.Node``: the catalog of realistic bugs (``bugs``)."""
