"""The record of what happened in a run: kept in memory, or streamed to a JSON Lines file while the run goes on.

A record is a tuple ``(time_us, kind, node, data)``; ``data`` is a message object for the message kinds (kept by
reference: messages are immutable), ``(index, entry)`` for ``apply``, the index for ``commit`` (the two kinds
written most often after messages), ``(index, entries)`` for ``append``, and a dict otherwise. Turning records into
JSON is deferred until someone asks (``record_to_dict``), so keeping the trace on costs one tuple per record.

Every record kind, field and unit, the header and end records of a written trace, and how to rebuild a server's
log from a trace are documented for users in ``scenarios/TRACE.md``.

The digest (``Trace.digest``) is the SHA-256 of the event records in the form they had before format 1 added the
header and end records, the ``entries`` of AppendEntries and the ``append`` records: a run keeps the digest it
had, whatever the version that ran it.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from .raft.messages import AppendEntries, ClientRequest, Command, Entry, InstallSnapshot

Record = tuple[int, str, Any, Any]

MESSAGE_KINDS = frozenset({"send", "deliver", "drop", "duplicate"})
# The version of the file format that the header record names.
FORMAT = 1
# Kinds added by format 1: left out of the digest (see the module's docstring).
UNDIGESTED_KINDS = frozenset({"append"})
# While streaming, the records in memory are written out once there are this many.
CHUNK = 4096

_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def entry_to_list(e: Entry) -> list[Any]:
    """An entry as ``[term, client, seq]``; client and seq are null for a leader's no-op, and for a configuration
    entry, which has a fourth element: the configuration's voters."""
    c = e.command
    if c is None:
        config = e.config
        return [e.term, None, None] if config is None else [e.term, None, None, list(config.voters)]
    return [e.term, c.client, c.seq]


def message_to_dict(m: Any, entries: bool = True) -> dict[str, Any]:
    """A message's JSON form. An AppendEntries carries ``n`` and ``first_term`` (format 0) and, unless
    ``entries`` is false (the digest's form), its ``entries`` as ``entry_to_list`` writes them."""
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
        if m.round:  # a heartbeat round of reads without a log entry (sim.raft.read_only); absent otherwise
            d["round"] = m.round
        if entries:
            d["entries"] = [entry_to_list(e) for e in m.entries]
        return d
    if type(m) is InstallSnapshot:
        # The chunk's bytes are the state machine's content: the trace gives their number, ``n``.
        d.update(
            term=m.term,
            src=m.src,
            dst=m.dst,
            last_index=m.last_index,
            last_term=m.last_term,
            offset=m.offset,
            n=len(m.data),
            done=m.done,
            configuration=asdict(m.configuration),
        )
        return d
    for name, value in m.asdict().items():
        d[name] = value.asdict() if type(value) is Command else value
    if type(m) is ClientRequest:
        del d["term"]
    return d


def record_to_dict(record: Record, entries: bool = True) -> dict[str, Any]:
    """A record's JSON form; ``entries`` as for ``message_to_dict`` (an ``append`` record always lists its
    entries)."""
    t, kind, node, data = record
    d: dict[str, Any] = {"t": t, "ev": kind, "node": node}
    if kind in MESSAGE_KINDS:
        if type(data) is tuple:  # (message, reason) for drops
            d["msg"] = message_to_dict(data[0], entries)
            d["reason"] = data[1]
        else:
            d["msg"] = message_to_dict(data, entries)
    elif kind == "apply":
        index, entry = data
        c = entry.command
        d.update(index=index, term=entry.term, client=c and c.client, seq=c and c.seq)
        if entry.config is not None:
            d["config"] = list(entry.config.voters)
    elif kind == "commit":
        d["index"] = data
    elif kind == "append":
        index, written = data
        d.update(index=index, entries=[entry_to_list(e) for e in written])
    elif data:
        d.update(data)
    return d


class Trace:
    """An append-only sequence of records. ``enabled=False`` keeps only the last ``tail`` records (for reports);
    with ``tail=0`` as well it keeps none, and ``recorder`` is None.

    ``stream`` makes it write to a file as the run goes: from then on ``records`` holds only the records not yet
    written (the simulation calls ``flush`` once there are ``CHUNK`` of them), ``__len__`` still counts every
    record, and the digest is kept up to date as records are written, so it costs nothing at the end.

    Hot paths bind ``recorder`` once and call it with a record tuple: that is all ``add`` does (``flush`` empties
    the list in place, so the bound method stays valid). When it is None they build no record at all: a fuzz
    campaign's runs keep nothing, and a record's tuple (with its dict, for some kinds) costs as much to make as to
    throw away.
    """

    __slots__ = ("_hash", "_out", "_recent", "_written", "enabled", "records", "tail")

    def __init__(self, enabled: bool = True, tail: int = 50) -> None:
        self.records: list[Record] | deque[Record] = [] if enabled else deque(maxlen=tail)
        self.enabled = enabled
        self.tail = tail
        self._out: IO[str] | None = None  # the file while streaming
        self._hash: Any = None  # the running SHA-256 of the records written, once streaming started
        self._written = 0
        self._recent: list[Record] = []  # the last ``tail`` records written, for violation reports

    @property
    def recorder(self) -> Callable[[Record], None] | None:
        """``records.append``, or None if the trace keeps nothing."""
        return self.records.append if self.enabled or self.tail else None

    # ----------------------------------------------------------------------------------------- recording

    def add(self, t: int, kind: str, node: Any, data: Any = None) -> None:
        self.records.append((t, kind, node, data))

    def __len__(self) -> int:
        return self._written + len(self.records)

    def __iter__(self) -> Iterator[Record]:
        """The records in memory (while streaming: those not yet written)."""
        return iter(self.records)

    def last(self, n: int) -> list[Record]:
        return (self._recent + list(self.records))[-n:]

    # ----------------------------------------------------------------------------------------- streaming

    @property
    def streaming(self) -> bool:
        return self._out is not None

    def stream(self, out: IO[str], header: dict[str, Any]) -> None:
        """Write ``header`` and every record so far to ``out``, and from now on each record as ``flush`` is
        called. The caller owns ``out`` (opens and closes it); ``finish`` writes the end record."""
        if not self.enabled:
            raise ValueError("a trace that keeps only its tail cannot be streamed: make it with enabled=True")
        if self._hash is not None:
            raise ValueError("the trace is already being written")
        self._out = out
        self._hash = hashlib.sha256()
        out.write(_encode(header) + "\n")
        self.flush()

    def flush(self) -> None:
        """Write the records in memory to the file and forget them (keeping the last few for reports)."""
        out = self._out
        records = self.records
        if out is None or not records:
            return
        assert isinstance(records, list)
        digested: list[str] = []
        lines: list[str] = []
        for r in records:
            if r[1] in UNDIGESTED_KINDS:
                lines.append(_encode(record_to_dict(r)))
                continue
            d = record_to_dict(r, entries=False)
            line = _encode(d)
            digested.append(line)
            if r[1] in MESSAGE_KINDS:
                m = r[3][0] if type(r[3]) is tuple else r[3]
                if type(m) is AppendEntries:  # its file form adds the entries to the digest form
                    d["msg"]["entries"] = [entry_to_list(e) for e in m.entries]
                    line = _encode(d)
            lines.append(line)
        digested.append("")
        lines.append("")
        self._hash.update("\n".join(digested).encode())
        out.write("\n".join(lines))
        self._recent = (self._recent + records[-self.tail :])[-self.tail :]
        self._written += len(records)
        records.clear()

    def finish(self, end: dict[str, Any]) -> None:
        """Write what is left and the end record; the trace stops streaming (the caller closes the file)."""
        self.flush()
        assert self._out is not None
        self._out.write(_encode(end) + "\n")
        self._out.flush()
        self._out = None

    # ------------------------------------------------------------------------------------ in-memory form

    def lines(self, records: Iterable[Record] | None = None) -> Iterator[str]:
        """The JSON Lines form of the records in memory (or of ``records``), without header and end."""
        for r in self.records if records is None else records:
            yield _encode(record_to_dict(r))

    def write_jsonl(self, path: str | Path) -> None:
        """Write the records in memory to ``path``, one per line, with no header or end record (the commands
        stream their traces instead: ``Simulation.stream_trace``)."""
        with open(path, "w", encoding="utf-8") as f:
            for line in self.lines():
                f.write(line)
                f.write("\n")

    def digest(self) -> str:
        """SHA-256 of the event records in their digest form (see the module's docstring): equal digests mean
        the same run."""
        h = self._hash.copy() if self._hash is not None else hashlib.sha256()
        for r in self.records:
            if r[1] not in UNDIGESTED_KINDS:
                h.update(_encode(record_to_dict(r, entries=False)).encode() + b"\n")
        return h.hexdigest()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a trace written by ``Trace.write_jsonl`` or streamed by ``Trace.stream`` back as dicts (header and
    end records included, when the file has them)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def format_records(records: Iterable[Record]) -> str:
    """A human-readable rendering of records, one per line, for violation reports."""
    out = []
    for r in records:
        d = record_to_dict(r, entries=False)
        t = d.pop("t")
        kind = d.pop("ev")
        node = d.pop("node")
        rest = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in d.items())
        out.append(f"{t / 1000:10.3f}ms {kind:<9} {node!s:<4} {rest}")
    return "\n".join(out)


def rebuild_logs(records: Iterable[dict[str, Any]]) -> dict[Any, list[Sequence[Any]]]:
    """Each server's durable log as ``[term, client, seq]`` lists, replayed from a trace's ``append`` and
    ``snapshot`` records: the entries it holds, which start after its snapshot (``snapshot_points``)."""
    logs: dict[Any, list[Sequence[Any]]] = {}
    points: dict[Any, int] = {}
    for d in records:
        kind = d.get("ev")
        if kind == "append":
            log = logs.setdefault(d["node"], [])
            del log[max(0, d["index"] - 1 - points.get(d["node"], 0)) :]
            log.extend(d["entries"])
        elif kind == "snapshot":
            log = logs.setdefault(d["node"], [])
            del log[: d["index"] - points.get(d["node"], 0)]  # the whole log when it ends before the snapshot
            points[d["node"]] = d["index"]
    return logs


def snapshot_points(records: Iterable[dict[str, Any]]) -> dict[Any, int]:
    """Each server's last snapshot index in a trace (the servers without one are left out)."""
    return {d["node"]: d["index"] for d in records if d.get("ev") == "snapshot"}
