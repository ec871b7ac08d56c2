"""Which node implementation a cluster runs: the built-in node, a Python class (``--node``) or a command
(``--node-cmd``), each with the capabilities it declared (``sim.nodes.contract``)."""

from __future__ import annotations

from sim.nodes.contract import Implementation, ImplementationError, capabilities_of, load_class
from sim.nodes.process import process_implementation
from sim.raft.node import Node

_CACHE: dict[tuple[str | None, str | None], Implementation] = {}


def implementation(spec: str | None = None, command: str | None = None) -> Implementation:
    """The implementation named by ``--node`` (``spec``) or ``--node-cmd`` (``command``), or the built-in node.
    A command's capabilities are asked of it once (a process booted and ended) and remembered."""
    key = (spec, command)
    found = _CACHE.get(key)
    if found is not None:
        return found
    if spec is not None and command is not None:
        raise ImplementationError("expected one implementation, got both a class and a command")
    if command is not None:
        found = process_implementation(command)
    elif spec is not None:
        cls = load_class(spec)
        found = Implementation(cls, capabilities_of(cls), spec)
    else:
        found = Implementation(Node, capabilities_of(Node), "sim.raft:Node")
    _CACHE[key] = found
    return found
