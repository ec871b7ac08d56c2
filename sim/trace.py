"""The record of what happened in a run, kept in memory and written as JSON Lines.

A record is a tuple ``(time_us, kind, node, data)``; ``data`` is a message object for the message kinds (kept by
reference: messages are immutable), ``(index, entry)`` for ``apply``, the index for ``commit`` (the two kinds
written most often after messages), and a dict otherwise. Turning records into JSON is deferred until someone
asks (``record_to_dict``), so keeping the trace on costs one tuple per record.

Kinds and their JSON fields (``t`` is simulated microseconds, ``node`` the server or client concerned):

==========  =================================================================================================
boot        a node process started from durable state: ``term``, ``log`` (its length)
crash       a node crashed (``lost_writes``: writes that had not become durable)
state       a role or term change: ``role`` (follower/precandidate/candidate/leader), ``term``
vote        ``node`` granted its vote to ``candidate`` in ``term``
send        a message left ``node``: ``msg`` (see below)
deliver     a message reached ``node``: ``msg``
drop        the network lost a message: ``msg``, ``reason`` (random, partition, crashed)
duplicate   the network made a second copy of a message: ``msg``
commit      ``node``'s commit index rose to ``index``
apply       ``node`` applied ``index`` (``term``, ``client``, ``seq`` of the entry; client null for a no-op)
request     client ``node`` sent command ``seq`` to server ``to`` (``attempt`` counts retries)
ack         client ``node`` received the result of ``seq`` (``index``, ``latency_us``)
fault       an injected fault: ``action`` and its arguments (``nodes``, ``groups``, ``src``, ``dst``, ``value``)
violation   the checker stopped the run: ``property``, ``detail``, ``nodes``
==========  =================================================================================================

A message is ``{"type": ..., "src", "dst", "term", ...}`` with its fields; an AppendEntries carries the number of
entries (``n``) and the term of the first (``first_term``) instead of the entries themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .raft.messages import AppendEntries, ClientRequest, Command

Record = tuple[int, str, Any, Any]

MESSAGE_KINDS = frozenset({"send", "deliver", "drop", "duplicate"})


def message_to_dict(m: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"type": type(m).__name__}
    if type(m) is AppendEntries:
        d.update(
            term=m.term,
            src=m.src,
            dst=m.dst,
            prev_index=m.prev_index,
            prev_term=m.prev_term,
            n=len(m.entries),
            first_term=m.entries[0].term if m.entries else None,
            commit=m.commit,
        )
        return d
    for name, value in m.asdict().items():
        d[name] = value.asdict() if type(value) is Command else value
    if type(m) is ClientRequest:
        del d["term"]
    return d


def record_to_dict(record: Record) -> dict[str, Any]:
    t, kind, node, data = record
    d: dict[str, Any] = {"t": t, "ev": kind, "node": node}
    if kind in MESSAGE_KINDS:
        if type(data) is tuple:  # (message, reason) for drops
            d["msg"] = message_to_dict(data[0])
            d["reason"] = data[1]
        else:
            d["msg"] = message_to_dict(data)
    elif kind == "apply":
        index, entry = data
        c = entry.command
        d.update(index=index, term=entry.term, client=c and c.client, seq=c and c.seq)
    elif kind == "commit":
        d["index"] = data
    elif data:
        d.update(data)
    return d


class Trace:
    """An append-only sequence of records. ``enabled=False`` keeps only the last ``tail`` records (for reports).

    Hot paths may bind ``trace.records.append`` once and call it with a record tuple: that is all ``add`` does.
    """

    __slots__ = ("enabled", "records", "tail")

    def __init__(self, enabled: bool = True, tail: int = 50) -> None:
        self.records: list[Record] | deque[Record] = [] if enabled else deque(maxlen=tail)
        self.enabled = enabled
        self.tail = tail

    def add(self, t: int, kind: str, node: Any, data: Any = None) -> None:
        self.records.append((t, kind, node, data))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def last(self, n: int) -> list[Record]:
        return list(self.records)[-n:]

    def lines(self, records: Iterable[Record] | None = None) -> Iterator[str]:
        for r in self.records if records is None else records:
            yield json.dumps(record_to_dict(r), separators=(",", ":"), sort_keys=True)

    def write_jsonl(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            for line in self.lines():
                f.write(line)
                f.write("\n")

    def digest(self) -> str:
        """SHA-256 of the JSON Lines form: equal digests mean byte-identical traces."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a trace written by ``Trace.write_jsonl`` back as dicts (for plots and tools)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def format_records(records: Iterable[Record]) -> str:
    """A human-readable rendering of records, one per line, for violation reports."""
    out = []
    for r in records:
        d = record_to_dict(r)
        t = d.pop("t")
        kind = d.pop("ev")
        node = d.pop("node")
        rest = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in d.items())
        out.append(f"{t / 1000:10.3f}ms {kind:<9} {node!s:<4} {rest}")
    return "\n".join(out)
