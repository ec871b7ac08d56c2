"""The node contract (``examples/CONTRACT.md``, version 1) as the world sees it: which implementation runs the
servers, what it declared it can do, and the one kind of error a node that breaks the contract raises.

An implementation is a *factory* called like the built-in node's class, ``factory(node_id, voters, config, rng,
state)``, once per server boot, whose value has ``start(now)``, ``step(message, now)`` and ``tick(timer, now)``
returning an ``Output``, optionally ``query(what)`` (the end-of-run digest) and ``close()`` (called when its server
crashes or the run ends). The built-in ``sim.raft.Node`` and its bug variants are such factories, and so are a
``module:Class`` named with ``--node`` (``load_class``) and ``sim.nodes.process.ProcessNode`` bound to a command
(``--node-cmd``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

VERSION = 1

# Every capability of version 1 (CONTRACT.md, "Capabilities"): what a node may declare beyond the core.
STATE = "state"  # reports its soft state (role, term, leader, commit, applied): a white box
DIGEST = "digest"  # answers the query "digest" with a digest of its state machine
PREVOTE = "prevote"
CHECK_QUORUM = "check_quorum"
EARLY_VOTE_REQUESTS = "early_vote_requests"
CAPABILITIES = (STATE, DIGEST, PREVOTE, CHECK_QUORUM, EARLY_VOTE_REQUESTS)
# The configuration switches (RaftConfig fields) that a node honours only if it declared the capability.
SWITCHES = (PREVOTE, CHECK_QUORUM, EARLY_VOTE_REQUESTS)


class NodeFailure(Exception):
    """A node broke the contract: its process died, hung, or wrote something that is not a valid output. Raised
    from the node's input handler; the simulation reports it as the property ``NodeFailure``."""


class ImplementationError(ValueError):
    """A node implementation cannot be used at all (it does not import, is not a node, does not start): bad input,
    reported in one line naming the flag or key."""


@dataclass(frozen=True)
class Implementation:
    """A node implementation: how to build a server's node, what it declared, and how to name it in reports."""

    factory: Callable[..., Any]
    capabilities: frozenset[str]
    name: str

    def lacks(self, needs: dict[str, bool]) -> list[str]:
        """Of the capabilities switched on in ``needs`` (capability -> wanted), those this implementation did not
        declare."""
        return [c for c, wanted in needs.items() if wanted and c not in self.capabilities]


def capabilities_of(cls: Any) -> frozenset[str]:
    """What a node class declares (its ``capabilities`` class attribute; none if it has none), unknown names left
    out (a later version's, which this simulator does not know how to ask for)."""
    declared = getattr(cls, "capabilities", ())
    if isinstance(declared, str) or not hasattr(declared, "__iter__"):
        raise ImplementationError(f"expected capabilities to be a list of names, got {declared!r}")
    return frozenset(c for c in declared if c in CAPABILITIES)


def load_class(spec: str) -> type:
    """The class named ``module:Class`` (the module from the current directory or the Python path)."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ImplementationError(f"expected module:Class, got {spec!r}")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # as ``python -m`` would: a module beside the user's working directory
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or anything the module raised while importing
        raise ImplementationError(f"cannot import {module_name!r}: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in class_name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ImplementationError(f"module {module_name!r} has no {class_name!r}")
    if not isinstance(obj, type):
        raise ImplementationError(f"{spec!r} is not a class")
    missing = [m for m in ("start", "step", "tick") if not callable(getattr(obj, m, None))]
    if missing:
        raise ImplementationError(f"{spec!r} is not a node: it has no {', '.join(missing)} method (CONTRACT.md)")
    return obj
