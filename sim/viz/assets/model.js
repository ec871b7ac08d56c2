"use strict";
// The run as its trace tells it, at any event: the page's model. It reads the tables sim/viz/page_data.py
// builds and answers questions about them; it draws nothing and touches no page element, so the drawing
// (draw.js) can be a pure function of a model and a view, and stepping back and forth is only asking again.
//
// Positions: event p is the trace's record p (0 is the header). "State after event p" means after every record
// up to and including p, which is what a reader of the trace up to that line knows.

const RAFT_ROLES_SHOWN = ["follower", "pre-candidate", "candidate", "leader", "down"];

function raftsimModel(data) {
  const servers = data.servers;
  const clients = data.clients;
  const nServers = servers.length;
  const kinds = data.kinds;
  const kindCode = Object.fromEntries(kinds.map((k, i) => [k, i]));

  // ------------------------------------------------------------------------------------------- events
  const ev = data.events;
  const n = ev.kind.length;
  const evT = prefixSums(ev.t_dt);
  const evKind = Uint8Array.from(ev.kind);
  const evWho = Int32Array.from(ev.who);
  const evRef = Int32Array.from(ev.ref);
  const MESSAGE_KINDS = new Set(["send", "deliver", "drop", "duplicate"].map((k) => kindCode[k]));
  const CLIENT_KINDS = new Set(["invoke", "request", "ack", "complete"].map((k) => kindCode[k]));

  // ------------------------------------------------------------------------------------------ messages
  const cp = data.copies;
  const nCopies = cp.type.length;
  const ts = prefixSums(cp.ts_dt);
  const te = new Float64Array(nCopies);
  for (let i = 0; i < nCopies; i++) te[i] = ts[i] + cp.flight[i];
  const types = data.types;
  // What the kind filter calls each copy: its type, but an AppendEntries without entries is a heartbeat.
  const filterKinds = [];
  const filterIndex = new Map();
  function filterKindOf(name) {
    if (!filterIndex.has(name)) {
      filterIndex.set(name, filterKinds.length);
      filterKinds.push(name);
    }
    return filterIndex.get(name);
  }
  for (const name of ["RequestVote", "RequestVoteReply", "AppendEntries", "heartbeat", "AppendEntriesReply",
    "ClientRequest", "ClientReply"]) filterKindOf(name);
  const copyKind = new Uint8Array(nCopies);
  const nField = types.map((t) => t.fields.indexOf("n"));
  for (let i = 0; i < nCopies; i++) {
    const ty = types[cp.type[i]];
    const heartbeat = ty.name === "AppendEntries" && nField[cp.type[i]] >= 0 && cp.fields[i][nField[cp.type[i]]] === 0;
    copyKind[i] = filterKindOf(heartbeat ? "heartbeat" : ty.name);
  }
  const kindTotals = new Array(filterKinds.length).fill(0);
  for (let i = 0; i < nCopies; i++) kindTotals[copyKind[i]]++;
  // Visible copies are found by send time (sorted): a window needs the copies sent up to a flight time before
  // it. The slowest thousandth go on a list of their own, so one long delay does not widen every search.
  const flights = Float64Array.from(cp.flight).sort();
  const shortFlight = nCopies ? flights[Math.floor((nCopies - 1) * 0.999)] : 0;
  const longCopies = [];
  const isLong = new Uint8Array(nCopies);
  for (let i = 0; i < nCopies; i++) {
    if (cp.flight[i] > shortFlight) {
      longCopies.push(i);
      isLong[i] = 1;
    }
  }

  function copiesOverlapping(t0, t1, visit) {
    const hi = upperBound(ts, t1);
    for (let i = lowerBound(ts, t0 - shortFlight); i < hi; i++) {
      if (te[i] >= t0 && !isLong[i]) visit(i);
    }
    for (const i of longCopies) if (ts[i] <= t1 && te[i] >= t0) visit(i);
  }

  // Traffic at a glance, for windows too busy for arrows: per sender and kind, how many copies were sent by
  // each moment (prefix sums over fixed bins of the run, built on first use), so a frame counts a window's
  // messages per pixel column in time proportional to the columns, not to the messages.
  let traffic = null;
  function trafficBins() {
    if (traffic !== null) return traffic;
    const B = Math.max(256, Math.min(65536, nCopies >> 2));
    const w = Math.max(1, data.end - data.start) / B;
    const byCombo = new Map();
    for (let i = 0; i < nCopies; i++) {
      const s = cp.src[i];
      if (s < 0) continue;
      const key = s * 64 + copyKind[i];
      let counts = byCombo.get(key);
      if (!counts) byCombo.set(key, (counts = new Float32Array(B + 1)));
      counts[1 + Math.min(B - 1, Math.max(0, Math.floor((ts[i] - data.start) / w)))]++;
    }
    const combos = [];
    for (const [key, counts] of byCombo) {
      for (let k = 1; k <= B; k++) counts[k] += counts[k - 1];
      combos.push({ row: Math.floor(key / 64), kind: key % 64, prefix: counts });
    }
    combos.sort((x, y) => x.row - y.row || x.kind - y.kind);
    // Copies sent by time t (linear within a bin).
    const upTo = (prefix, t) => {
      const at = (t - data.start) / w;
      if (at <= 0) return 0;
      if (at >= B) return prefix[B];
      const k = Math.floor(at);
      return prefix[k] + (at - k) * (prefix[k + 1] - prefix[k]);
    };
    traffic = {
      bins: B,
      // Messages of the kinds shown sent within [t0, t1].
      count(kinds, t0, t1) {
        let n = 0;
        for (const c of combos) if (kinds.has(c.kind)) n += upTo(c.prefix, t1) - upTo(c.prefix, t0);
        return Math.round(n);
      },
      // Per row, per column of `columns` equal slices of [t0, t1]: messages of the kinds shown sent then.
      columns(kinds, t0, t1, columns, rows) {
        const out = new Array(rows).fill(null);
        const step = (t1 - t0) / columns;
        for (const c of combos) {
          if (!kinds.has(c.kind)) continue;
          const counts = out[c.row] || (out[c.row] = new Float32Array(columns));
          let before = upTo(c.prefix, t0);
          for (let k = 0; k < columns; k++) {
            const after = upTo(c.prefix, t0 + (k + 1) * step);
            counts[k] += after - before;
            before = after;
          }
        }
        return out;
      },
    };
    return traffic;
  }

  function rowName(row) {
    if (row < 0) return "?";
    return row < nServers ? `server ${servers[row]}` : clients[row - nServers];
  }
  function shortName(row) {
    if (row < 0) return "?";
    return row < nServers ? String(servers[row]) : clients[row - nServers];
  }

  function message(i) {
    const ty = types[cp.type[i]];
    const fields = {};
    ty.fields.forEach((name, j) => (fields[name] = cp.fields[i][j]));
    if (ty.name === "AppendEntries" && fields.entries === null) {
      // The sender's log from prev_index + 1, as it stood when it sent them (see page_data.py).
      const log = logAt(cp.src[i], cp.ps[i]);
      const from = fields.prev_index || 0;
      fields.entries = [];
      for (let k = from; k < from + (fields.n || 0) && k < log.length; k++) fields.entries.push(log.entry(k));
    }
    return {
      id: i,
      type: ty.name,
      kind: filterKinds[copyKind[i]],
      src: cp.src[i],
      dst: cp.dst[i],
      sent: ts[i],
      end: te[i],
      outcome: data.outcomes[cp.outcome[i]],
      duplicate: cp.dup[i] === 1,
      sendPos: cp.ps[i],
      endPos: cp.pe[i],
      fields,
    };
  }

  // ------------------------------------------------------------------------------------------- servers
  const tables = data.server_tables;
  const candidateRole = data.roles.indexOf("candidate");
  const candidacies = tables.map((T) => {
    const out = { pos: [], term: [] };
    T.state.role.forEach((role, k) => {
      if (role === candidateRole) {
        out.pos.push(T.state.pos[k]);
        out.term.push(T.state.term[k]);
      }
    });
    return out;
  });
  const logCache = new Array(nServers).fill(null);

  // Server ``row``'s durable log after event p, replayed from its append records (cached: stepping forward
  // only replays what is new). Entries are [term, client name or null, seq or null].
  function logAt(row, p) {
    if (row < 0 || row >= nServers) return emptyLog();
    const T = tables[row];
    const A = T.append;
    let c = logCache[row];
    if (c === null || p < c.p) c = logCache[row] = { p: -1, next: 0, offs: [] };
    while (c.next < A.pos.length && A.pos[c.next] <= p) {
      const j = c.next++;
      c.offs.length = A.index[j] - 1;
      for (let k = 0; k < A.n[j]; k++) c.offs.push(A.off[j] + k);
    }
    c.p = p;
    const E = T.entries;
    const offs = c.offs;
    return {
      length: offs.length,
      term: (k) => E.term[offs[k]],
      entry: (k) => {
        const o = offs[k];
        return [E.term[o], E.client[o] < 0 ? null : clients[E.client[o]], E.seq[o] < 0 ? null : E.seq[o]];
      },
    };
  }

  function serverState(row, p) {
    const T = tables[row];
    const b = lastAtOrBefore(T.boot.pos, p);
    const c = lastAtOrBefore(T.crash.pos, p);
    const bootPos = b >= 0 ? T.boot.pos[b] : -1;
    const alive = b >= 0 && (c < 0 || T.crash.pos[c] < bootPos);
    const s = lastAtOrBefore(T.state.pos, p);
    // The term: the latest a state record or a restart (from durable state) says.
    let term = 0;
    let role = "follower";
    if (s >= 0 && T.state.pos[s] > bootPos) {
      term = T.state.term[s];
      role = data.roles[T.state.role[s]];
    } else if (b >= 0) {
      term = T.boot.term[b];
    }
    // Its vote in this term: one it granted (a vote record), or its own, cast when it stood as a candidate
    // (Figure 2: a candidate votes for itself; the trace records the role change, not the vote).
    const v = lastAtOrBefore(T.vote.pos, p);
    const own = lastAtOrBefore(candidacies[row].pos, p);
    let votedFor = null;
    if (v >= 0 && T.vote.term[v] === term) votedFor = T.vote.candidate[v];
    else if (own >= 0 && candidacies[row].term[own] === term) votedFor = servers[row];
    // Commit and apply indexes are volatile: a restart begins again from 0.
    const cm = lastAtOrBefore(T.commit.pos, p);
    const ap = lastAtOrBefore(T.apply.pos, p);
    const commit = cm >= 0 && T.commit.pos[cm] > bootPos ? T.commit.index[cm] : 0;
    const applied = ap >= 0 && T.apply.pos[ap] > bootPos ? T.apply.index[ap] : 0;
    const log = logAt(row, p);
    return {
      server: servers[row],
      row,
      pos: p,
      time: p >= 0 ? evT[p] : 0,
      booted: b >= 0,
      alive,
      role: alive ? role : b >= 0 ? "down" : "not started",
      term,
      votedFor,
      commit: alive ? commit : null,
      applied: alive ? applied : null,
      log,
      lastLogTerm: log.length ? log.term(log.length - 1) : 0,
    };
  }

  // ----------------------------------------------------------------------------------------- client ops
  const ops = data.ops;
  const nOps = ops.seq.length;
  const opEnd = new Float64Array(nOps);
  for (let i = 0; i < nOps; i++) opEnd[i] = ops.tc[i] >= 0 ? ops.tc[i] : data.end;
  const lanes = clients.map(() => []);
  for (let i = 0; i < nOps; i++) if (ops.ti[i] >= 0 && ops.client[i] >= 0) lanes[ops.client[i]].push(i);
  for (const lane of lanes) lane.sort((a, b) => ops.ti[a] - ops.ti[b] || a - b);
  const laneEnds = lanes.map((lane) => {
    // A client has one operation outstanding at a time, so the ends rise with the starts; kept as a running
    // maximum all the same, so the search stays right if they did not.
    const out = new Float64Array(lane.length);
    let m = -Infinity;
    lane.forEach((i, k) => (out[k] = m = Math.max(m, opEnd[i])));
    return out;
  });
  const opBySeq = new Map();
  for (let i = 0; i < nOps; i++) opBySeq.set(`${clients[ops.client[i]]}#${ops.seq[i]}`, i);

  const laneStarts = lanes.map((lane) => Float64Array.from(lane, (i) => ops.ti[i]));
  // Visits the lane's operations that overlap [t0, t1], in order, and returns how many there are. With
  // ``skipUntil``, after each one visited those ending before skipUntil(op) are passed over (a drawing skips
  // what would land on a pixel already painted: a lane's cost stays proportional to its pixels).
  function opsOverlapping(lane, t0, t1, visit, skipUntil) {
    const L = lanes[lane];
    const ends = laneEnds[lane];
    const first = lowerBound(ends, t0);
    const last = upperBound(laneStarts[lane], t1);
    for (let k = first; k < last; ) {
      visit(L[k]);
      k = skipUntil ? Math.max(k + 1, lowerBound(ends, skipUntil(L[k]))) : k + 1;
    }
    return Math.max(0, last - first);
  }
  function opsCount(lane, t0, t1) {
    return Math.max(0, upperBound(laneStarts[lane], t1) - lowerBound(laneEnds[lane], t0));
  }
  // The operation of a lane under time t, or the nearest within `slack` of it; -1 if none.
  function opAt(lane, t, slack) {
    let best = -1;
    let bestD = Infinity;
    opsOverlapping(lane, t - slack, t + slack, (i) => {
      const d = t < ops.ti[i] ? ops.ti[i] - t : t > opEnd[i] ? t - opEnd[i] : 0;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    });
    return best;
  }

  function operation(i) {
    const lin = data.lin;
    const rank = lin.prefix ? lin.prefix.indexOf(i) : -1;
    return {
      id: i,
      client: clients[ops.client[i]],
      seq: ops.seq[i],
      f: ops.f[i],
      key: ops.key[i],
      value: ops.value[i],
      expected: ops.expected[i],
      status: ops.status[i],
      result: ops.result[i],
      invoked: ops.ti[i],
      completed: ops.tc[i] >= 0 ? ops.tc[i] : null,
      invokePos: ops.pi[i],
      completePos: ops.pc[i],
      prefixRank: rank,
      stateAfter: rank >= 0 ? lin.states[rank] : null,
      stuck: lin.stuck ? lin.stuck.includes(i) : false,
      blocking: lin.blocking === i,
    };
  }

  function describeOp(i) {
    const f = ops.f[i];
    const key = ops.key[i];
    if (f === "get") return `get ${key}` + (ops.status[i] === "ok" ? ` \u2192 ${quote(ops.result[i])}` : "");
    if (f === "cas") return `cas ${key} ${quote(ops.expected[i])}\u2192${quote(ops.value[i])}`;
    return `${f} ${key} ${quote(ops.value[i])}`;
  }

  function commandText(client, seq) {
    if (client === null) return "no-op";
    const i = opBySeq.get(`${client}#${seq}`);
    return i === undefined ? `${client}.${seq}` : `${client}.${seq} ${describeOp(i)}`;
  }

  // ------------------------------------------------------------------------------------------ the events
  function posAtTime(t) {
    // The last event at or before t (0, the header, when t is before everything).
    return Math.max(0, upperBound(evT, t) - 1);
  }

  function eventInfo(p) {
    const k = kinds[evKind[p]];
    const who = evWho[p];
    const ref = evRef[p];
    const info = { pos: p, time: evT[p], kind: k, who, row: who, copy: -1, op: -1, server: -1 };
    if (MESSAGE_KINDS.has(evKind[p])) info.copy = ref;
    else if (k === "invoke" || k === "complete") info.op = ref;
    if (who >= 0 && who < nServers) info.server = who;
    return info;
  }

  function describe(p) {
    const k = kinds[evKind[p]];
    const who = evWho[p];
    const ref = evRef[p];
    const T = who >= 0 && who < nServers ? tables[who] : null;
    const name = rowName(who);
    switch (k) {
      case "header":
        return `start of the trace: ${data.title}`;
      case "end":
        return `end of the run (verdict ${data.misc[ref].verdict})`;
      case "boot":
        return `${name} starts from its durable state: term ${T.boot.term[ref]}, ${T.boot.log[ref]} log entries`;
      case "crash":
        return `${name} crashes` + (T.crash.lost[ref] ? " (a write in progress is lost)" : "");
      case "state":
        return `${name} becomes ${RAFT_ROLES_SHOWN[T.state.role[ref]]} in term ${T.state.term[ref]}`;
      case "vote":
        return `${name} votes for ${T.vote.candidate[ref]} in term ${T.vote.term[ref]}`;
      case "append": {
        const A = T.append;
        const first = A.index[ref];
        const count = A.n[ref];
        return count
          ? `${name} writes entries ${first}\u2013${first + count - 1} to its log` +
              (first <= logAt(who, p - 1).length ? ` (replacing from ${first})` : "")
          : `${name} deletes its log from index ${first}`;
      }
      case "commit":
        return `${name} commits up to index ${T.commit.index[ref]}`;
      case "apply":
        return `${name} applies entry ${T.apply.index[ref]}`;
      case "send":
      case "deliver":
      case "drop":
      case "duplicate": {
        const m = message(ref);
        const what = `${m.type} ${shortName(m.src)}\u2192${shortName(m.dst)}`;
        if (k === "send") return `${name} sends ${what}`;
        if (k === "duplicate") return `the network duplicates ${what}`;
        if (k === "deliver") return `${name} receives ${what}`;
        return `the network drops ${what} (${m.outcome})`;
      }
      case "invoke":
        return `${name} invokes #${ops.seq[ref]}: ${describeOp(ref)}`;
      case "complete":
        return `${name} completes #${ops.seq[ref]}: ${describeOp(ref)}, ${ops.status[ref]}`;
      case "request": {
        const d = data.misc[ref];
        return `${name} sends #${d.seq} to server ${d.to} (attempt ${d.attempt})`;
      }
      case "ack": {
        const d = data.misc[ref];
        return `${name} is told #${d.seq} committed at index ${d.index}`;
      }
      case "fault": {
        const d = data.misc[ref];
        const args = Object.entries(d)
          .filter(([key]) => key !== "action")
          .map(([key, v]) => `${key} ${JSON.stringify(v)}`)
          .join(", ");
        return `fault: ${d.action}${args ? " (" + args + ")" : ""}`;
      }
      case "violation": {
        const d = data.misc[ref];
        return `violation of ${d.property}: ${String(d.detail).split("\n")[0]}`;
      }
      default:
        return `${k} ${name}`;
    }
  }

  // Does event p pass a filter? filter: {kinds: Set of message filter kinds shown, servers: Set of server rows
  // shown, step: which events stepping stops at}.
  const STEP_KINDS = {
    any: null,
    messages: MESSAGE_KINDS,
    state: new Set(["boot", "crash", "state", "vote"].map((k) => kindCode[k])),
    log: new Set(["append", "commit", "apply"].map((k) => kindCode[k])),
    clients: new Set(["invoke", "complete"].map((k) => kindCode[k])),
    faults: new Set(["fault", "violation"].map((k) => kindCode[k])),
  };
  function eventPasses(p, filter) {
    const k = evKind[p];
    const only = STEP_KINDS[filter.step || "any"];
    if (only && !only.has(k)) return false;
    if (MESSAGE_KINDS.has(k)) return copyShown(evRef[p], filter);
    const who = evWho[p];
    if (who >= 0 && who < nServers) return filter.servers.has(who);
    return true;
  }
  function copyShown(i, filter) {
    if (!filter.kinds.has(copyKind[i])) return false;
    const s = cp.src[i];
    const d = cp.dst[i];
    return (s >= 0 && s < nServers && filter.servers.has(s)) || (d >= 0 && d < nServers && filter.servers.has(d));
  }
  function step(p, direction, filter) {
    for (let q = p + direction; q >= 0 && q < n; q += direction) if (eventPasses(q, filter)) return q;
    return p;
  }

  // ------------------------------------------------------------------------------------------- summary
  const bands = data.timeline.bands;
  // Each server's bands tile its time line in order, so their ends rise: a window's first band is a search away.
  const bandEnds = bands.map((bs) => Float64Array.from(bs, (b) => b[1]));
  const leaderRole = data.roles.indexOf("leader");
  const counts = {
    events: n,
    servers: nServers,
    clients: clients.length,
    arrows: nCopies,
    duplicates: cp.dup.reduce((a, b) => a + b, 0),
    delivered: 0,
    dropped: 0,
    inFlight: 0,
    leaderBands: bands.reduce((a, bs) => a + bs.filter((b) => b[2] === leaderRole).length, 0),
    ops: nOps,
  };
  for (let i = 0; i < nCopies; i++) {
    const o = data.outcomes[cp.outcome[i]];
    if (o === "delivered") counts.delivered++;
    else if (o === "in flight") counts.inFlight++;
    else counts.dropped++;
  }

  const violations = [];
  for (let p = 0; p < n; p++) if (kinds[evKind[p]] === "violation") violations.push(p);

  return {
    data,
    n,
    start: data.start,
    end: data.end,
    servers,
    clients,
    nServers,
    rowName,
    shortName,
    time: (p) => evT[p],
    evT,
    posAtTime,
    eventInfo,
    describe,
    eventPasses,
    step,
    copies: { n: nCopies, ts, te, src: cp.src, dst: cp.dst, kind: copyKind, outcome: cp.outcome, dup: cp.dup },
    outcomes: data.outcomes,
    filterKinds,
    kindTotals,
    copiesOverlapping,
    trafficBins,
    copyShown,
    message,
    serverState,
    logAt,
    bands,
    bandEnds,
    roles: data.roles,
    tables,
    ops,
    nOps,
    opEnd,
    lanes,
    opsOverlapping,
    opsCount,
    opAt,
    operation,
    describeOp,
    commandText,
    lin: data.lin,
    violations,
    timeline: data.timeline,
    counts,
  };
}

// --------------------------------------------------------------------------------------------- helpers

function prefixSums(deltas) {
  const out = new Float64Array(deltas.length);
  let acc = 0;
  for (let i = 0; i < deltas.length; i++) out[i] = acc += deltas[i];
  return out;
}

// The first index whose value is >= x (a.length if none), in an ascending array.
function lowerBound(a, x) {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The first index whose value is > x.
function upperBound(a, x) {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The index of the last value <= x, -1 if none.
function lastAtOrBefore(a, x) {
  return upperBound(a, x) - 1;
}

function emptyLog() {
  return { length: 0, term: () => 0, entry: () => null };
}

function quote(v) {
  if (v === null || v === undefined) return "nil";
  const s = String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 18)}\u2026${s.slice(-18)}` : s);
}

function formatTime(us) {
  const ms = us / 1000;
  if (Math.abs(ms) >= 100000) return `${(ms / 1000).toFixed(3)} s`;
  return `${ms.toFixed(3)} ms`;
}
