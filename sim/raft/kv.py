"""The replicated state machine: a key-value store with client sessions.

``step`` is the store's whole semantics for one key, a pure function; the store applies it, and the
linearizability checker's model (``sim.check.models``) judges client histories with the same function, so the
two cannot disagree. A key never written holds the empty string (as the MIT 6.5840 key/value service defines it).

Sessions make commands idempotent (Section 8): each client numbers its commands, and a command whose number is
not above the last one applied for that client is a retry, answered from the session instead of applied again.
Clients have one command outstanding at a time, so remembering the last result per client is enough.
"""

from __future__ import annotations

import hashlib

from .messages import Command

OPS = ("get", "put", "append", "cas")


def step(current: str, op: str, value: str, expected: str = "") -> tuple[str | None, str]:
    """One operation on a key holding ``current``: ``(result, new value)``. The result of a get is the value read;
    of a put or append, the value written; of a cas, the value written, or None when ``current != expected`` (the
    comparison failed and nothing changed)."""
    if op == "get":
        return current, current
    if op == "put":
        return value, value
    if op == "append":
        new = current + value
        return new, new
    if op == "cas":
        if current == expected:
            return value, value
        return None, current
    raise ValueError(f"unknown operation {op!r}")


class KeyValueStore:
    __slots__ = ("data", "sessions")

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        # client -> (last applied seq, its result, the log index it was applied at)
        self.sessions: dict[str, tuple[int, str | None, int]] = {}

    def applied(self, client: str, seq: int) -> tuple[str | None, int] | None:
        """The result and index of ``(client, seq)`` if that command was already applied."""
        session = self.sessions.get(client)
        if session is not None and session[0] == seq:
            return session[1], session[2]
        return None

    def is_stale(self, client: str, seq: int) -> bool:
        session = self.sessions.get(client)
        return session is not None and seq <= session[0]

    def apply(self, command: Command, index: int) -> tuple[str | None, int]:
        """Apply once; return (result, index it was first applied at)."""
        session = self.sessions.get(command.client)
        if session is not None and command.seq <= session[0]:
            return session[1], session[2]
        key = command.key
        result, new = step(self.data.get(key, ""), command.op, command.value, command.expected)
        if command.op != "get" and result is not None:
            self.data[key] = new
        self.sessions[command.client] = (command.seq, result, index)
        return result, index

    def digest(self) -> str:
        """SHA-256 of the data and the sessions in key order: equal for two stores exactly when they hold the same
        (O(store); asked for once per convergence check, never on the hot path)."""
        text = repr((sorted(self.data.items()), sorted(self.sessions.items())))
        return hashlib.sha256(text.encode()).hexdigest()
