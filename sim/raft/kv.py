"""The replicated state machine: a key-value store with client sessions.

Sessions make commands idempotent (Section 8): each client numbers its commands, and a command whose number is
not above the last one applied for that client is a retry, answered from the session instead of applied again.
Clients have one command outstanding at a time, so remembering the last result per client is enough.
"""

from __future__ import annotations

from .messages import Command


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
        op = command.op
        if op == "put":
            self.data[command.key] = command.value
            result: str | None = command.value
        elif op == "append":
            result = self.data.get(command.key, "") + command.value
            self.data[command.key] = result
        elif op == "get":
            result = self.data.get(command.key)
        else:
            raise ValueError(f"unknown operation {op!r}")
        self.sessions[command.client] = (command.seq, result, index)
        return result, index
