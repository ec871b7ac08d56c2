"""The command-line side of choosing a node implementation: ``--node``, ``--node-cmd``, ``--node-timeout`` (the
same on ``run``, ``fuzz``, ``replay``, ``experiment figure16`` and ``bench``), and refusing what an implementation
did not declare it can do. Every problem is a ``UsageError``: one line, exit code 2."""

from __future__ import annotations

import argparse
from typing import Any

from sim.errors import UsageError
from sim.nodes import process
from sim.nodes.contract import STATE, SWITCHES, Implementation, ImplementationError
from sim.nodes.implementations import implementation
from sim.raft.read_only import LOG


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--node",
        metavar="MODULE:CLASS",
        help="run every server with this Python node class (examples/CONTRACT.md) instead of the built-in one",
    )
    p.add_argument(
        "--node-cmd",
        metavar="COMMAND",
        help="run every server as an OS process of this command, speaking JSON Lines (examples/CONTRACT.md), e.g. "
        '"node examples/raft.js"',
    )
    p.add_argument(
        "--node-timeout",
        metavar="SECONDS",
        help=f"with --node-cmd: wall-clock seconds a process may take to answer one input before it is reported as "
        f"hung (a NodeFailure; default {process.hang_limit:g})",
    )


def chosen(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(``--node``, ``--node-cmd``), each checked: the class imports and is a node, the command boots and answers
    (its capabilities are asked then). Also sets the hang limit from ``--node-timeout``."""
    spec = getattr(args, "node", None)
    command = getattr(args, "node_cmd", None)
    timeout = getattr(args, "node_timeout", None)
    if spec is not None and command is not None:
        raise UsageError("--node-cmd: expected either --node or --node-cmd, got both")
    if timeout is not None:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = 0.0
        if not 0 < seconds < 1e6:
            raise UsageError(f"--node-timeout: expected a positive number of seconds, got {timeout!r}")
        process.set_hang_limit(seconds)
    load(spec, command, "--node-cmd" if command is not None else "--node")
    return spec, command


def load(spec: str | None, command: str | None, where: str) -> Implementation:
    """The implementation, or a UsageError naming ``where`` (a flag, or a scenario file and key)."""
    try:
        return implementation(spec, command)
    except ImplementationError as e:
        raise UsageError(f"{where}: {e}") from None


def overrides(spec: str | None, command: str | None) -> dict[str, Any]:
    """The ClusterConfig fields that select the implementation (none for the built-in node)."""
    if spec is None and command is None:
        return {}
    return {"implementation": spec, "implementation_cmd": command, "bug": None}


def refuse_unsupported(
    cluster: Any, where: str, expectations: tuple[str, ...] = (), actions: tuple[str, ...] = ()
) -> None:
    """A UsageError if ``cluster`` switches on what its implementation did not declare (PreVote, CheckQuorum,
    early vote requests), if ``expectations`` name one a black box cannot be judged on, if ``actions`` change
    the membership or transfer leadership, or if reads do not go through the log (the contract has no messages for
    these yet). ``where`` names the file (or flag)."""
    if not (cluster.implementation or cluster.implementation_cmd):
        return
    if cluster.bug:
        raise UsageError(
            f"{where}: cluster.bug: a known bug is a variant of the built-in node, not of {_name(cluster)}"
        )
    changes = [a for a in actions if a in ("add_server", "remove_server")]
    if changes:
        raise UsageError(
            f"{where}: events: {changes[0]}: membership changes run on the built-in node only (the node contract "
            f"has no membership messages), not on {_name(cluster)}"
        )
    if "transfer_leader" in actions:
        raise UsageError(
            f"{where}: events: transfer_leader: leadership transfer runs on the built-in node only (the node "
            f"contract has no TimeoutNow), not on {_name(cluster)}"
        )
    raft = cluster.raft
    if raft.read != LOG:
        raise UsageError(
            f"{where}: cluster.read: {raft.read!r} runs on the built-in node only (a node of the contract answers "
            f'reads as it will, judged by the client history), not on {_name(cluster)}; leave it "{LOG}"'
        )
    impl = load(cluster.implementation, cluster.implementation_cmd, where)
    missing = impl.lacks({s: bool(getattr(raft, s)) for s in SWITCHES})
    if missing:
        raise UsageError(
            f"{where}: cluster.{missing[0]}: {impl.name} does not declare the capability {missing[0]!r} "
            f"(it declares: {', '.join(sorted(impl.capabilities)) or 'none'})"
        )
    if STATE not in impl.capabilities:
        for kind in expectations:
            if kind in BLACK_BOX_UNJUDGED:
                raise UsageError(
                    f"{where}: expect.{kind}: {impl.name} reports no state (a black box: CONTRACT.md), so this "
                    f"expectation cannot be judged"
                )


# Expectations that need a node's reported role, term or commit index (sim.scenario.monitors).
BLACK_BOX_UNJUDGED = (
    "leader_within",
    "committed_at_least",
    "logs_converge_by",
    "no_leader",
    "no_commit",
    "min_elections",
    "max_elections",
)


def _name(cluster: Any) -> str:
    return str(cluster.implementation or cluster.implementation_cmd)
