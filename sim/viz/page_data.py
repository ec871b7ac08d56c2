"""A trace turned into the tables the HTML timeline reads (``sim.viz.html``): compact, columnar, and enough to
answer "what was the state of server 3 after event p?" in the page without the trace itself.

The page's model (``assets/model.js``) answers those questions; this module only reorganizes what the trace says,
in one pass over its records, and adds the two things a page cannot work out cheaply:

- **Message copies.** Every ``send`` and ``duplicate`` record starts a copy of a message in flight (an arrow in
  the Lamport diagram); a ``deliver`` or ``drop`` record ends one. Messages carry no identity, so a record ends
  the earliest copy in flight with the same content (FIFO), except for the two cases the simulator writes next to
  each other: a drop when sent (``random`` loss, or a cut link: the record right after its ``send``) ends the copy
  just sent, and a message delivered to a server that is down is recorded as ``deliver`` then ``drop`` with
  reason ``crashed``: one copy, dropped. Copies still in flight when the trace ends stay open (outcome
  ``in flight``). Two copies with the same content are indistinguishable, so which of them arrived first is the
  only thing this pairing can get wrong, and nothing a reader could tell apart depends on it.
- **The client history and its linearizability.** The operations are rebuilt from the ``invoke`` and
  ``complete`` records, with each operation's value from its first ``ClientRequest`` (``invoke`` does not carry
  it), exactly as ``sim.world.clients.operations`` gives them to the checker; then checked
  (``sim.check.linearizability``, the key-value model). A violation brings the longest linearizable prefix the
  search found (with the model's state after each of its operations) and the operations that cannot come next.

AppendEntries entries are not repeated when they equal the sender's log (rebuilt from ``append`` records, as
``scenarios/TRACE.md`` describes) at the moment it sent them, which is always the case for traces this simulator
writes; the page fills them in from the log. Where they differ, the copy keeps its own.

Layout of the result (every list is a column; ``pos`` is a record's index in the trace, header included; times
are microseconds; ``*_dt`` columns are delta-encoded, each value the difference from the one before):

- ``events``: ``t_dt``, ``kind`` (index into ``kinds``), ``who`` (a row: servers first, then clients; -1 for
  none) and ``ref`` (for a message record the copy, for a client record the operation, for a server record its
  index in that server's table of the kind, for anything else an index into ``misc``).
- ``servers`` (ids) and ``clients`` (names): the rows. ``server_tables[i]`` holds server i's ``state`` (pos,
  role, term), ``boot`` (pos, term, log), ``crash`` (pos, lost), ``vote`` (pos, term, candidate), ``commit`` and
  ``apply`` (pos, index), ``append`` (pos, index, off, n: ``n`` entries from ``off`` of its ``entries``) and
  ``entries`` (term, client row or -1 for a no-op, seq or -1).
- ``copies``: ``ts_dt`` (send time), ``flight`` (end minus send), ``src``/``dst`` (rows), ``type`` (index into
  ``types``), ``outcome`` (index into ``OUTCOMES``), ``dup`` (1 for a duplicate's copy), ``ps``/``pe`` (the
  records that start and end it; ``pe`` -1 in flight) and ``fields`` (the values of the type's ``fields``).
- ``ops``: ``client`` (row), ``seq``, ``f``, ``key``, ``value``, ``expected`` (a cas's), ``status`` (``ok``,
  ``fail``, ``info`` or ``pending``), ``result``, ``ti``/``tc`` (invoke and completion times; tc -1 when it never
  completed) and ``pi``/``pc`` (their records).
- ``timeline``: what the PNG timeline draws (``sim.viz.timeline``): role ``bands`` per server (start, end, role,
  term), ``partitions``, ``cuts``, ``faults``, ``violations``; and ``lin``: the history's verdict.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sim.check.history import Operation
from sim.check.linearizability import DEFAULT_BUDGET, check, describe_op
from sim.check.models import KV
from sim.errors import UsageError
from sim.viz.timeline import KINDS as TIMELINE_KINDS
from sim.viz.timeline import ROLES, _build, _header_title
from sim.world.clients import OpRecord, operations

FORMAT = 1
KINDS = (
    "header",
    "boot",
    "crash",
    "state",
    "vote",
    "append",
    "commit",
    "apply",
    "send",
    "deliver",
    "drop",
    "duplicate",
    "invoke",
    "request",
    "ack",
    "complete",
    "fault",
    "violation",
    "end",
)
SERVER_KINDS = ("boot", "crash", "state", "vote", "append", "commit", "apply")
CLIENT_KINDS = ("invoke", "request", "ack", "complete")
OUTCOMES = ("delivered", "lost", "partition", "crashed", "in flight")
_DROP_OUTCOME = {"random": 1, "partition": 2, "crashed": 3}
_DELIVER = '{"ev":"deliver","msg":'  # how a deliver record starts, as this simulator writes it (keys sorted)
# Columns of each server table (besides ``entries``), in order.
SERVER_COLUMNS = {
    "state": ("pos", "role", "term"),
    "boot": ("pos", "term", "log"),
    "crash": ("pos", "lost"),
    "vote": ("pos", "term", "candidate"),
    "commit": ("pos", "index"),
    "apply": ("pos", "index"),
    "append": ("pos", "index", "off", "n"),
}
OP_COLUMNS = ("client", "seq", "f", "key", "value", "expected", "status", "result", "ti", "tc", "pi", "pc")
COPY_COLUMNS = ("ts_dt", "flight", "src", "dst", "type", "outcome", "dup", "ps", "pe", "fields")


def _msg_key(line: str, d: dict[str, Any]) -> str:
    """The message's content as written: the same message gives the same text in every record that carries it
    (keys sorted, one encoder), so the text itself identifies it. A trace written by other means falls back to
    re-encoding the parsed message."""
    start = line.find('"msg":')
    end = line.rfind(',"node":')
    if start >= 0 and end > start:
        return line[start + 6 : end]
    return json.dumps(d["msg"], sort_keys=True, separators=(",", ":"))


class _Server:
    """One server's tables, and its durable log as rebuilt so far (to check AppendEntries against)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[Any]]] = {k: {c: [] for c in cols} for k, cols in SERVER_COLUMNS.items()}
        self.entries: dict[str, list[int]] = {"term": [], "client": [], "seq": []}
        self.log: list[tuple[Any, Any, Any]] = []

    def add(self, kind: str, *values: Any) -> int:
        table = self.tables[kind]
        for column, value in zip(SERVER_COLUMNS[kind], values, strict=True):
            table[column].append(value)
        return len(table["pos"]) - 1


def build(
    lines: Iterable[tuple[int, str]],
    source: str = "trace",
    run_end_us: int | None = None,
    budget: int = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """The page's tables from a trace's ``(line number, line)`` pairs (see the module docstring). ``run_end_us``
    ends the run there (else the trace's end record, its header's duration or its last record, as for the PNG).
    Raises ``UsageError`` naming ``source`` and the line for a line that is not a trace record."""
    servers: dict[Any, _Server] = {}
    clients: dict[str, int] = {}  # name -> number in order of appearance (rows are given at the end)
    kinds = list(KINDS)
    kind_index = {k: i for i, k in enumerate(kinds)}
    ev_t: list[int] = []
    ev_kind: list[int] = []
    ev_who: list[Any] = []  # ids for now; rows at the end
    ev_ref: list[int] = []
    misc: list[dict[str, Any]] = []
    copies: dict[str, list[Any]] = {c: [] for c in COPY_COLUMNS if c != "ts_dt"}
    flight, src, dst, type_, outcome, dups, ps, pe, fields_ = (copies[c] for c in COPY_COLUMNS[1:])
    copy_ts: list[int] = []
    types: list[dict[str, Any]] = []  # {"name", "fields"}
    type_index: dict[str, int] = {}
    in_flight: dict[str, deque[int]] = {}
    ops: dict[str, list[Any]] = {c: [] for c in OP_COLUMNS}
    op_index: dict[tuple[str, int], int] = {}
    timeline_records: list[dict[str, Any]] = []
    header: dict[str, Any] | None = None
    last_t = 0
    # The copy the previous record started (a send) or ended (a deliver), with its content: a drop right after
    # either is about that very copy (see the module docstring).
    previous: tuple[str, int, str] | None = None

    def server(node: Any) -> _Server:
        s = servers.get(node)
        if s is None:
            s = servers[node] = _Server()
        return s

    def client(name: str) -> int:
        c = clients.get(name)
        if c is None:
            c = clients[name] = len(clients)
        return c

    def op_for(name: str, seq: int) -> int:
        key = (name, seq)
        i = op_index.get(key)
        if i is None:
            i = op_index[key] = len(ops["seq"])
            for column, value in zip(
                OP_COLUMNS, (name, seq, None, None, None, None, "pending", None, -1, -1, -1, -1), strict=True
            ):
                ops[column].append(value)
        return i

    def new_copy(t: int, pos: int, d: dict[str, Any], key: str, dup: int) -> int:
        m = d["msg"]
        name = str(m.get("type"))
        ti = type_index.get(name)
        if ti is None:
            ti = type_index[name] = len(types)
            types.append({"name": name, "fields": sorted(k for k in m if k not in ("type", "src", "dst"))})
        fields = types[ti]["fields"]
        values = [m.get(k) for k in fields]
        if name == "AppendEntries" and "entries" in m:
            values[fields.index("entries")] = _entries_or_log(m, servers.get(m.get("src")))
        i = len(copy_ts)
        copy_ts.append(t)
        flight.append(0)
        src.append(m.get("src"))
        dst.append(m.get("dst"))
        type_.append(ti)
        outcome.append(4)
        dups.append(dup)
        ps.append(pos)
        pe.append(-1)
        fields_.append(values)
        queue = in_flight.get(key)
        if queue is None:
            in_flight[key] = deque((i,))
        else:
            queue.append(i)
        return i

    def end_copy(i: int, t: int, pos: int, how: int) -> None:
        flight[i] = t - copy_ts[i]
        outcome[i] = how
        pe[i] = pos

    def take(key: str, i: int | None = None) -> int | None:
        """The copy in flight with this content that a record ends: ``i`` if given, else the earliest."""
        queue = in_flight.get(key)
        if not queue:
            return None
        if i is None:
            i = queue.popleft()
        else:
            queue.remove(i)
        if not queue:
            del in_flight[key]
        return i

    pos = -1
    for lineno, line in lines:
        key = None
        try:
            if line.startswith(_DELIVER):
                # The commonest record: only its time and receiver are parsed, its message is its text (key).
                at = line.rfind(',"node":')
                d = json.loads("{" + line[at + 1 :])
                d["ev"] = "deliver"
                key = line[len(_DELIVER) : at]
            else:
                d = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{source}:{lineno}: expected a JSON trace record, got invalid JSON ({e.msg})") from None
        if not isinstance(d, dict) or "t" not in d or "ev" not in d:
            raise UsageError(f"{source}:{lineno}: expected a trace record with 't' and 'ev', got {line[:60]!r}")
        pos += 1
        t = d["t"]
        kind = d["ev"]
        node = d.get("node")
        if not isinstance(t, int) or not isinstance(kind, str):
            raise UsageError(f"{source}:{lineno}: expected an integer 't' and a string 'ev', got {line[:60]!r}")
        last_t = max(last_t, t)
        k = kind_index.get(kind)
        if k is None:
            k = kind_index[kind] = len(kinds)
            kinds.append(kind)
        if kind in TIMELINE_KINDS:
            timeline_records.append(d)
        ref = -1
        was, previous = previous, None
        try:
            if kind in ("send", "duplicate"):
                key = _msg_key(line, d)
                ref = new_copy(t, pos, d, key, int(kind == "duplicate"))
                if kind == "send":
                    previous = ("send", ref, key)
            elif kind in ("deliver", "drop"):
                if key is None:
                    key = _msg_key(line, d)
                how = 0 if kind == "deliver" else _DROP_OUTCOME.get(d.get("reason"), 1)
                if kind == "drop" and was is not None and was[2] == key and _about(was[0], d):
                    # Lost as it was sent, or arrived at a server that is down (see the module docstring).
                    i = was[1]
                    if was[0] == "send":
                        take(key, i)
                    end_copy(i, t, pos, how)
                    ref = i
                else:
                    i = take(key)
                    if i is None:  # ends a copy this trace never saw start: it starts and ends here
                        i = new_copy(t, pos, json.loads(line) if "msg" not in d else d, key, 0)
                        take(key, i)
                        ps[i] = -1
                    end_copy(i, t, pos, how)
                    ref = i
                    if kind == "deliver":
                        previous = ("deliver", i, key)
            elif kind in SERVER_KINDS:
                s = server(node)
                if kind == "state":
                    role = d["role"]
                    ref = s.add("state", pos, ROLES.index(role) if role in ROLES else 0, d["term"])
                elif kind == "boot":
                    ref = s.add("boot", pos, d.get("term", 0), d.get("log", 0))
                elif kind == "crash":
                    ref = s.add("crash", pos, d.get("lost_writes", 0))
                elif kind == "vote":
                    ref = s.add("vote", pos, d["term"], d["candidate"])
                elif kind == "commit":
                    ref = s.add("commit", pos, d["index"])
                elif kind == "apply":
                    ref = s.add("apply", pos, d["index"])
                else:  # append
                    index, written = d["index"], d["entries"]
                    ref = s.add("append", pos, index, len(s.entries["term"]), len(written))
                    for term, name, seq in written:
                        s.entries["term"].append(term)
                        s.entries["client"].append(-1 if name is None else client(name))
                        s.entries["seq"].append(-1 if seq is None else seq)
                    del s.log[index - 1 :]
                    s.log.extend(tuple(e) for e in written)
            elif kind in CLIENT_KINDS:
                client(node)
                ref = op_for(node, d["seq"])
                if kind == "invoke":
                    ops["f"][ref] = d.get("f")
                    ops["key"][ref] = d.get("key")
                    ops["ti"][ref] = t
                    ops["pi"][ref] = pos
                elif kind == "complete":
                    ops["status"][ref] = d.get("type")
                    ops["result"][ref] = d.get("value")
                    ops["tc"][ref] = t
                    ops["pc"][ref] = pos
                else:  # request and ack: their own fields
                    ref = len(misc)
                    misc.append({k: v for k, v in d.items() if k not in ("t", "ev", "node")})
            else:
                if kind == "header":
                    header = d
                ref = len(misc)
                misc.append({k: v for k, v in d.items() if k not in ("t", "ev", "node")})
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"{source}:{lineno}: expected a well-formed {kind!r} record, got {line[:80]!r}") from e
        if kind == "send" and d["msg"].get("type") == "ClientRequest":
            command = d["msg"].get("command") or {}
            i = op_index.get((command.get("client"), command.get("seq")))
            if i is not None and ops["value"][i] is None:
                ops["value"][i] = command.get("value")
                ops["expected"][i] = command.get("expected")
        ev_t.append(t)
        ev_kind.append(k)
        ev_who.append(node)
        ev_ref.append(ref)
    if pos < 0:
        raise UsageError(f"{source}: expected a trace, got an empty file")

    tl = _build(timeline_records, run_end_us, last_t)
    server_ids = sorted(set(servers) | set(tl.nodes), key=_id_order)
    for n in server_ids:
        server(n)
    rows: dict[Any, int] = {n: i for i, n in enumerate(server_ids)}  # servers first, then clients
    client_names = sorted(clients, key=_client_order)
    for j, name in enumerate(client_names):
        rows[name] = len(server_ids) + j
    remap_client = [0] * len(clients)
    for name, c in clients.items():
        remap_client[c] = rows[name] - len(server_ids)
    for s in servers.values():
        s.entries["client"] = [-1 if c < 0 else remap_client[c] for c in s.entries["client"]]

    def row_of(x: Any) -> int:
        return rows.get(x, -1) if x is not None else -1

    end = tl.end
    for i, p in enumerate(pe):
        if p < 0:
            flight[i] = max(0, end - copy_ts[i])
    copies["src"] = [row_of(x) for x in copies["src"]]
    copies["dst"] = [row_of(x) for x in copies["dst"]]
    ops["client"] = [row_of(x) - len(server_ids) for x in ops["client"]]
    for i, v in enumerate(ev_who):
        ev_who[i] = row_of(v) if isinstance(v, int | str) else -1

    lin = _linearizability(ops, client_names, budget)
    bands = [
        [[b.start, b.end, (*ROLES, "down").index(b.role), b.term] for b in tl.bands.get(n, [])] for n in server_ids
    ]
    return {
        "format": FORMAT,
        "title": _header_title(header) or Path(source).name,
        "source": header.get("source") if header else source,
        "seed": header.get("seed") if header else None,
        "verdict": misc[ev_ref[-1]].get("verdict") if ev_kind[-1] == kind_index["end"] else None,
        "start": tl.first,
        "end": end,
        "kinds": kinds,
        "roles": [*ROLES, "down"],
        "outcomes": list(OUTCOMES),
        "servers": server_ids,
        "clients": client_names,
        "events": {"t_dt": _deltas(ev_t), "kind": ev_kind, "who": ev_who, "ref": ev_ref},
        "misc": misc,
        "server_tables": [{**servers[n].tables, "entries": servers[n].entries} for n in server_ids],
        "types": types,
        "copies": {"ts_dt": _deltas(copy_ts), **copies},
        "ops": ops,
        "timeline": {
            "bands": bands,
            "partitions": [[s, e, text, [rows[n] for n in cut if n in rows]] for s, e, text, cut in tl.network],
            "cuts": [[s, e, rows.get(a, -1), rows.get(b, -1)] for s, e, a, b in tl.cuts],
            "faults": [[t, text] for t, text in tl.other_faults],
            "violations": [[t, text] for t, text in tl.violations],
        },
        "lin": lin,
    }


def _entries_or_log(m: dict[str, Any], sender: _Server | None) -> list[Any] | None:
    """None when an AppendEntries carries exactly the sender's log from ``prev_index + 1`` (the page takes them
    from there), else its own entries."""
    entries = m["entries"]
    if sender is not None:
        lo = m.get("prev_index", 0)
        log = sender.log
        if lo + len(entries) <= len(log) and all(tuple(e) == log[lo + j] for j, e in enumerate(entries)):
            return None
    return entries


def _about(previous: str, drop: dict[str, Any]) -> bool:
    """Whether a drop record right after a send (or deliver) of the same message is about that copy: a loss when
    sent is recorded by the sender, a delivery to a server that is down by that server, as ``crashed``."""
    m = drop["msg"]
    if previous == "send":
        return drop.get("reason") in ("random", "partition") and drop.get("node") == m.get("src")
    return drop.get("reason") == "crashed" and drop.get("node") == m.get("dst")


def _id_order(x: Any) -> tuple[int, Any]:
    return (0, x) if isinstance(x, int) else (1, str(x))


def _client_order(name: str) -> tuple[int, int, str]:
    digits = name[1:]
    return (0, int(digits), name) if digits.isdigit() else (1, 0, name)


def _deltas(values: list[int]) -> list[int]:
    out = []
    last = 0
    for v in values:
        out.append(v - last)
        last = v
    return out


def history(ops: dict[str, list[Any]], client_names: list[str]) -> list[Operation]:
    """The operations as the checker was given them (``sim.world.clients.operations``, here of the client records
    the trace implies), in the order of ``ops``; an operation never invoked in the trace is left out."""
    records = []
    for i in range(len(ops["seq"])):
        if ops["ti"][i] < 0:
            continue
        r = OpRecord(
            client_names[ops["client"][i]],
            ops["seq"][i],
            ops["f"][i],
            ops["key"][i],
            ops["value"][i],
            ops["expected"][i],
            ops["ti"][i],
        )
        if ops["status"][i] != "pending":
            r.status, r.result, r.complete = ops["status"][i], ops["result"][i], ops["tc"][i]
        records.append(r)
    return operations(records)


def _linearizability(ops: dict[str, list[Any]], client_names: list[str], budget: int) -> dict[str, Any]:
    """The verdict on the trace's client history, and for a violation its evidence as op indexes: the longest
    linearizable prefix (with the model's state after each of its operations), the operations that cannot come
    next, and the one whose completion forces the issue."""
    invoked = [i for i in range(len(ops["seq"])) if ops["ti"][i] >= 0]
    history_ops = history(ops, client_names)
    if not history_ops:
        return {"verdict": "none", "summary": "no client operations"}
    try:
        result = check(history_ops, KV, budget)
    except ValueError as e:
        return {"verdict": "unchecked", "summary": f"not checked: {e}"}
    out: dict[str, Any] = {"verdict": result.verdict, "summary": result.summary(), "key": result.key}
    if result.verdict == "ok":
        return out
    index = {id(op): invoked[j] for j, op in enumerate(history_ops)}
    states = []
    state = KV.init
    for op in result.prefix:
        _, state = KV.step(state, op)
        states.append(KV.describe(state))
    out.update(
        prefix=[index[id(op)] for op in result.prefix],
        states=states,
        stuck=[index[id(op)] for op in result.stuck],
        blocking=index[id(result.blocking)] if result.blocking is not None else -1,
        state=result.state,
        stuck_text=[describe_op(op, key=False) for op in result.stuck],
    )
    return out
