"""The JSON form of the node contract (``examples/CONTRACT.md``): inputs written, outputs read and checked.

Decoding is strict: whatever a node writes that is not what the contract allows raises ``NodeFailure`` naming the
field and what was expected, because a node that is wrong about the contract would otherwise be reported as
wrong about Raft (or crash the simulator).
"""

from __future__ import annotations

import json
from typing import Any

from sim.nodes.contract import NodeFailure
from sim.raft.kv import OPS
from sim.raft.messages import ClientReply, ClientRequest, Command, Entry
from sim.raft.output import SoftState

ROLES = ("follower", "precandidate", "candidate", "leader")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().decode


class WireMessage:
    """A message between two servers of a foreign implementation: the JSON object its sender wrote, which the
    simulator routes by ``dst``, names by ``kind`` (traces, timelines, counts) and never looks into. Immutable by
    contract, like every message (the network may deliver it twice); ``src`` is set by the simulator."""

    __slots__ = ("_text", "body", "dst", "kind", "src")

    def __init__(self, src: int, dst: int, kind: str, body: dict[str, Any]) -> None:
        self.src = src
        self.dst = dst
        self.kind = kind
        self.body = body
        self._text: str | None = None

    def text(self) -> str:
        """The object as the receiver gets it, ``src`` included (encoded once, on first delivery)."""
        t = self._text
        if t is None:
            body = self.body
            body["src"] = self.src
            t = self._text = _encode(body)
        return t

    def asdict(self) -> dict[str, Any]:
        """The trace's form: ``type`` is the node's kind, then the object's own fields."""
        d: dict[str, Any] = {"type": self.kind, "src": self.src, "dst": self.dst}
        for k, v in self.body.items():
            if k not in d and k != "kind":
                d[k] = v
        return d

    def __eq__(self, other: object) -> bool:
        return type(other) is WireMessage and self.asdict() == other.asdict()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.src, self.dst, self.kind))

    def __repr__(self) -> str:
        return f"WireMessage({self.asdict()!r})"


# ------------------------------------------------------------------------------------------------- writing


def command_to_json(c: Command) -> dict[str, Any]:
    return {"client": c.client, "seq": c.seq, "op": c.op, "key": c.key, "value": c.value, "expected": c.expected}


def entry_to_json(e: Entry) -> dict[str, Any]:
    return {"term": e.term, "command": None if e.command is None else command_to_json(e.command)}


def boot_line(
    node_id: int, peers: tuple[int, ...], config: dict[str, Any], seed: int, term: int, voted_for: int | None,
    log: tuple[Entry, ...], now: int,
) -> bytes:  # fmt: skip
    durable = {"term": term, "voted_for": voted_for, "log": [entry_to_json(e) for e in log]}
    boot = {"type": "boot", "version": 1, "now": now, "id": node_id, "peers": list(peers), "config": config}
    boot.update(seed=seed, durable=durable)
    return (_encode(boot) + "\n").encode()


def message_line(m: Any, now: int) -> bytes:
    if m.__class__ is WireMessage:
        return f'{{"type":"message","now":{now},"msg":{m.text()}}}\n'.encode()
    if m.__class__ is ClientRequest:
        c = m.command
        d = {"type": "client", "now": now, "client": c.client, "seq": c.seq, "op": c.op, "key": c.key}
        d.update(value=c.value, expected=c.expected)
        return (_encode(d) + "\n").encode()
    raise NodeFailure(f"cannot deliver a {type(m).__name__} to a node outside the process")


def timer_line(name: str, now: int) -> bytes:
    return (_encode({"type": "timer", "now": now, "name": name}) + "\n").encode()


def query_line(what: str, now: int) -> bytes:
    return (_encode({"type": "query", "now": now, "what": what}) + "\n").encode()


# ------------------------------------------------------------------------------------------------- reading


def parse_object(line: bytes) -> dict[str, Any]:
    """One output line as a JSON object."""
    try:
        d = _decode(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise NodeFailure(f"malformed output (not JSON: {e}): {_quote(line)}") from None
    if type(d) is not dict:
        raise NodeFailure(f"malformed output (expected a JSON object): {_quote(line)}")
    return d


def _quote(line: bytes) -> str:
    text = line.decode("utf-8", "replace").rstrip("\n")
    return repr(text[:120] + ("..." if len(text) > 120 else ""))


def _bad(field: str, expected: str, value: Any) -> NodeFailure:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:80] + "..."
    return NodeFailure(f"malformed output: {field}: expected {expected}, got {shown}")


def _int(field: str, v: Any, lo: int = 0) -> int:
    if type(v) is not int or v < lo:
        raise _bad(field, f"an integer >= {lo}", v)
    return v


def _optional_id(field: str, v: Any) -> int | None:
    if v is not None and (type(v) is not int or v < 1):
        raise _bad(field, "a server id or null", v)
    return v


def _str(field: str, v: Any) -> str:
    if type(v) is not str:
        raise _bad(field, "a string", v)
    return v


def soft_state(d: Any) -> tuple[str, int, int | None, int, int]:
    if type(d) is not dict:
        raise _bad("state", "an object with role, term, leader, commit, applied", d)
    role = d.get("role")
    if role not in ROLES:
        raise _bad("state.role", " or ".join(ROLES), role)
    return (
        role,
        _int("state.term", d.get("term")),
        _optional_id("state.leader", d.get("leader")),
        _int("state.commit", d.get("commit")),
        _int("state.applied", d.get("applied")),
    )


def hard_state(d: Any) -> tuple[int, int | None]:
    if type(d) is not dict:
        raise _bad("hard_state", 'an object {"term": T, "voted_for": V}', d)
    return _int("hard_state.term", d.get("term")), _optional_id("hard_state.voted_for", d.get("voted_for"))


def command(field: str, d: Any) -> Command:
    if type(d) is not dict:
        raise _bad(field, "a client command (client, seq, op, key, value, expected) or null", d)
    op = d.get("op")
    if op not in OPS:
        raise _bad(f"{field}.op", " or ".join(OPS), op)
    return Command(
        _str(f"{field}.client", d.get("client")),
        _int(f"{field}.seq", d.get("seq")),
        op,
        _str(f"{field}.key", d.get("key")),
        _str(f"{field}.value", d.get("value", "")),
        _str(f"{field}.expected", d.get("expected", "")),
    )


def entries(d: Any) -> tuple[Entry, ...]:
    if type(d) is not list:
        raise _bad("log.entries", "a list of entries", d)
    out = []
    for i, e in enumerate(d):
        if type(e) is not dict:
            raise _bad(f"log.entries[{i}]", 'an entry {"term": T, "command": ...}', e)
        c = e.get("command")
        out.append(Entry(_int(f"log.entries[{i}].term", e.get("term")), None if c is None else command(
            f"log.entries[{i}].command", c)))  # fmt: skip
    return tuple(out)


def timers(d: Any) -> list[tuple[str, int | None]]:
    if type(d) is not list:
        raise _bad("timers", "a list of [name, delay] pairs", d)
    out = []
    for t in d:
        if type(t) is not list or len(t) != 2 or type(t[0]) is not str:
            raise _bad("timers", "[name, delay] pairs with a string name", t)
        delay = t[1]
        if delay is not None and (type(delay) is not int or delay < 0):
            raise _bad(f"timers[{t[0]!r}]", "a delay in microseconds (an integer >= 0) or null", delay)
        out.append((t[0], delay))
    return out


def messages(field: str, d: Any, src: int, peers: frozenset[int]) -> list[WireMessage]:
    if type(d) is not list:
        raise _bad(field, "a list of messages", d)
    out = []
    for m in d:
        if type(m) is not dict:
            raise _bad(field, "messages as JSON objects", m)
        dst = m.get("dst")
        if dst not in peers or type(dst) is not int:
            raise _bad(f"{field}[].dst", f"another server's id ({', '.join(map(str, sorted(peers)))})", dst)
        kind = m.get("kind")
        if type(kind) is not str or not kind:
            raise _bad(f"{field}[].kind", "a non-empty string naming the message type", kind)
        out.append(WireMessage(src, dst, kind, m))
    return out


def replies(d: Any, src: int) -> list[ClientReply]:
    if type(d) is not list:
        raise _bad("replies", "a list of client replies", d)
    out = []
    for r in d:
        if type(r) is not dict:
            raise _bad("replies", "replies as JSON objects", r)
        client = _str("replies[].client", r.get("client"))
        seq = _int("replies[].seq", r.get("seq"))
        ok = r.get("ok")
        if type(ok) is not bool:
            raise _bad("replies[].ok", "true or false", ok)
        if ok:
            result = r.get("result")
            if result is not None and type(result) is not str:
                raise _bad("replies[].result", "a string or null", result)
            out.append(ClientReply(src, client, seq, True, result, None, _int("replies[].index", r.get("index", 0))))
        else:
            out.append(ClientReply(src, client, seq, False, None, _optional_id("replies[].leader", r.get("leader"))))
    return out


def soft_state_value(t: tuple[str, int, int | None, int, int]) -> SoftState:
    return SoftState(*t)
