#!/usr/bin/env node
// A Raft server for Node.js (20 or later, no packages), run by raftsim through the process adapter:
//
//     raftsim fuzz --seeds 2000 --node-cmd "node examples/raft.js"
//
// It speaks the node contract (examples/CONTRACT.md) on stdin and stdout: one JSON input per line, one JSON
// output per line, in lock step; logs go to stderr. It follows the paper's Figure 2: elections with the
// up-to-date check, AppendEntries with the consistency check and conflict deletion, the Section 5.4.2 commit
// rule with a no-op per term, and client sessions (Section 8) so that a retried command is applied once.
// Replication is one numbered stream of AppendEntries per follower: only the reply to the latest one sent
// leads to another, and every heartbeat starts a new one (which also retransmits what was lost).
//
// Flags: --black-box (declare and report no soft state: judged by clients and the disk only);
//        --bug=duplicate-apply (the planted bug: no session check, so a retried command is applied again).
"use strict";

const crypto = require("crypto");
const readline = require("readline");

const BLACK_BOX = process.argv.includes("--black-box");
const BUG = (process.argv.find((a) => a.startsWith("--bug=")) || "").slice(6) || null;

// A seeded PRNG (mulberry32): the node's only source of randomness, from the boot input's seed.
function prng(seed) {
  let a = Number(BigInt.asUintN(32, BigInt(seed))) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Server {
  constructor(boot) {
    this.id = boot.id;
    this.peers = boot.peers.filter((p) => p !== boot.id);
    this.n = boot.peers.length;
    this.cfg = boot.config;
    this.random = prng(boot.seed);
    const d = boot.durable;
    this.term = d.term;
    this.votedFor = d.voted_for;
    this.log = [{ term: 0, command: null }, ...d.log]; // index 0: a sentinel
    this.commit = 0;
    this.applied = 0;
    this.role = "follower";
    this.leader = null;
    this.data = new Map();
    this.sessions = new Map(); // client -> [seq, result, index]
    this.votes = new Set();
    this.next = new Map();
    this.match = new Map();
    this.sent = new Map();
    this.waiting = new Map(); // index -> true: answer the client once applied
    this.reported = null;
  }

  // ------------------------------------------------------------------------------------------ one input

  handle(input) {
    this.out = { send: [], replies: [], timers: [] };
    this.hardDirty = false;
    this.logFrom = null;
    switch (input.type) {
      case "boot":
        this.armElection();
        break;
      case "timer":
        this.onTimer(input.name);
        break;
      case "client":
        this.onClient(input);
        break;
      case "message":
        this.onMessage(input.msg);
        break;
      case "query":
        return { digest: this.digest() };
      default:
        throw new Error(`unknown input type ${input.type}`);
    }
    return this.output();
  }

  output() {
    const o = this.out;
    if (this.hardDirty) o.hard_state = { term: this.term, voted_for: this.votedFor };
    if (this.logFrom !== null) o.log = { from: this.logFrom, entries: this.log.slice(this.logFrom) };
    if (!BLACK_BOX) {
      const s = [this.role, this.term, this.leader, this.commit, this.applied];
      if (this.reported === null || s.some((v, i) => v !== this.reported[i])) {
        this.reported = s;
        o.state = { role: s[0], term: s[1], leader: s[2], commit: s[3], applied: s[4] };
      }
    }
    for (const k of ["send", "replies", "timers"]) if (o[k].length === 0) delete o[k];
    return o;
  }

  // ------------------------------------------------------------------------------------------ timers

  armElection() {
    const lo = this.cfg.election_timeout_min, hi = this.cfg.election_timeout_max;
    this.out.timers.push(["election", lo + Math.floor(this.random() * (hi - lo + 1))]);
  }

  onTimer(name) {
    if (name === "election" && this.role !== "leader") this.campaign();
    else if (name === "heartbeat" && this.role === "leader") {
      this.out.timers.push(["heartbeat", this.cfg.heartbeat_interval]);
      for (const p of this.peers) this.sendAppend(p);
    }
  }

  // ------------------------------------------------------------------------------------------ elections

  setTerm(term) {
    this.term = term;
    this.votedFor = null;
    this.leader = null;
    this.hardDirty = true;
  }

  campaign() {
    this.setTerm(this.term + 1);
    this.votedFor = this.id;
    this.role = "candidate";
    this.votes = new Set([this.id]);
    this.armElection();
    const last = this.log.length - 1;
    for (const p of this.peers) {
      this.out.send.push({ kind: "request_vote", dst: p, term: this.term, last_index: last, last_term: this.log[last].term });
    }
    this.tally();
  }

  tally() {
    if (2 * this.votes.size > this.n) this.becomeLeader();
  }

  onRequestVote(m) {
    const last = this.log.length - 1;
    const myTerm = this.log[last].term;
    const upToDate = m.last_term > myTerm || (m.last_term === myTerm && m.last_index >= last);
    const grant = m.term === this.term && (this.votedFor === null || this.votedFor === m.src) && upToDate;
    if (grant) {
      this.votedFor = m.src;
      this.hardDirty = true;
      this.armElection();
    }
    this.out.send.push({ kind: "vote", dst: m.src, term: this.term, granted: grant });
  }

  onVote(m) {
    if (this.role === "candidate" && m.term === this.term && m.granted) {
      this.votes.add(m.src);
      this.tally();
    }
  }

  becomeFollower(leader) {
    const wasLeader = this.role === "leader";
    if (wasLeader) this.out.timers.push(["heartbeat", null]);
    this.role = "follower";
    this.votes = new Set();
    this.leader = leader;
    if (leader !== null || wasLeader) this.armElection();
  }

  becomeLeader() {
    this.role = "leader";
    this.leader = this.id;
    this.waiting = new Map();
    for (const p of this.peers) {
      this.next.set(p, this.log.length);
      this.match.set(p, 0);
      this.sent.set(p, 0);
    }
    this.out.timers.push(["election", null], ["heartbeat", this.cfg.heartbeat_interval]);
    this.append({ term: this.term, command: null }); // the no-op of a new term (Section 8)
    for (const p of this.peers) this.sendAppend(p);
    this.advanceCommit();
  }

  // ------------------------------------------------------------------------------------------ replication

  onMessage(m) {
    if (m.term > this.term) {
      this.setTerm(m.term);
      if (this.role !== "follower") this.becomeFollower(null);
    }
    switch (m.kind) {
      case "request_vote":
        return this.onRequestVote(m);
      case "vote":
        return this.onVote(m);
      case "append_entries":
        return this.onAppend(m);
      case "append_ok":
      case "append_reject":
        return this.onAppendReply(m);
    }
    throw new Error(`unknown message kind ${m.kind}`);
  }

  sendAppend(p) {
    const next = this.next.get(p);
    const seq = this.sent.get(p) + 1;
    this.sent.set(p, seq);
    this.out.send.push({
      kind: "append_entries", dst: p, term: this.term, seq, prev_index: next - 1, prev_term: this.log[next - 1].term,
      entries: this.log.slice(next, next + this.cfg.max_batch), commit: this.commit,
    });
  }

  onAppend(m) {
    if (m.term < this.term) {
      this.out.send.push({ kind: "append_reject", dst: m.src, term: this.term, seq: m.seq, hint: 0 });
      return;
    }
    this.becomeFollower(m.src);
    const prev = m.prev_index;
    if (prev >= this.log.length || this.log[prev].term !== m.prev_term) {
      let hint = this.log.length;
      if (prev < this.log.length) {
        hint = prev;
        while (hint > 1 && this.log[hint - 1].term === this.log[prev].term) hint--;
      }
      this.out.send.push({ kind: "append_reject", dst: m.src, term: this.term, seq: m.seq, hint });
      return;
    }
    for (let k = 0; k < m.entries.length; k++) {
      const i = prev + 1 + k;
      if (i < this.log.length && this.log[i].term === m.entries[k].term) continue;
      this.log.length = i; // delete the conflicting entry and all that follow it
      for (const e of m.entries.slice(k)) this.log.push(e);
      this.markLog(i);
      break;
    }
    const match = prev + m.entries.length;
    if (m.commit > this.commit) {
      this.commit = Math.max(this.commit, Math.min(m.commit, match));
      this.applyCommitted();
    }
    this.out.send.push({ kind: "append_ok", dst: m.src, term: this.term, seq: m.seq, match });
  }

  onAppendReply(m) {
    if (this.role !== "leader" || m.term !== this.term) return;
    const p = m.src;
    const latest = m.seq === this.sent.get(p);
    if (m.kind === "append_ok") {
      this.match.set(p, Math.max(this.match.get(p), m.match));
      this.next.set(p, Math.max(this.next.get(p), this.match.get(p) + 1));
      this.advanceCommit();
      if (latest && this.next.get(p) < this.log.length) this.sendAppend(p);
    } else if (latest) {
      this.next.set(p, Math.max(this.match.get(p) + 1, Math.min(m.hint, this.next.get(p) - 1)));
      this.sendAppend(p);
    }
  }

  advanceCommit() {
    for (let n = this.log.length - 1; n > this.commit; n--) {
      if (this.log[n].term !== this.term) break; // older entries commit only with one of this term (5.4.2)
      let count = 1;
      for (const p of this.peers) if (this.match.get(p) >= n) count++;
      if (2 * count > this.n) {
        this.commit = n;
        this.applyCommitted();
        break;
      }
    }
  }

  append(entry) {
    this.log.push(entry);
    this.markLog(this.log.length - 1);
    return this.log.length - 1;
  }

  markLog(i) {
    if (this.logFrom === null || i < this.logFrom) this.logFrom = i;
  }

  // ------------------------------------------------------------------------------------------ clients

  onClient(c) {
    if (this.role !== "leader") {
      this.out.replies.push({ client: c.client, seq: c.seq, ok: false, leader: this.leader });
      return;
    }
    const s = this.sessions.get(c.client);
    if (s && s[0] === c.seq && BUG !== "duplicate-apply") {
      this.out.replies.push({ client: c.client, seq: c.seq, ok: true, result: s[1], index: s[2] });
      return;
    }
    if (s && c.seq < s[0]) return; // an old retry its client no longer waits for
    const command = { client: c.client, seq: c.seq, op: c.op, key: c.key, value: c.value, expected: c.expected };
    this.waiting.set(this.append({ term: this.term, command }), true);
    for (const p of this.peers) this.sendAppend(p);
    this.advanceCommit();
  }

  applyCommitted() {
    while (this.applied < this.commit) {
      const i = ++this.applied;
      const c = this.log[i].command;
      if (c === null) continue;
      const [result, index] = this.execute(c, i);
      if (this.waiting.delete(i) && this.role === "leader") {
        this.out.replies.push({ client: c.client, seq: c.seq, ok: true, result, index });
      }
    }
  }

  execute(c, i) {
    const s = this.sessions.get(c.client);
    if (s && c.seq <= s[0] && BUG !== "duplicate-apply") return [s[1], s[2]];
    const current = this.data.has(c.key) ? this.data.get(c.key) : "";
    let result;
    if (c.op === "get") result = current;
    else if (c.op === "put") result = c.value;
    else if (c.op === "append") result = current + c.value;
    else result = current === c.expected ? c.value : null; // cas
    if (c.op !== "get" && result !== null) this.data.set(c.key, result);
    this.sessions.set(c.client, [c.seq, result, i]);
    return [result, i];
  }

  digest() {
    const sorted = (m) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return crypto.createHash("sha256").update(JSON.stringify([sorted(this.data), sorted(this.sessions)])).digest("hex");
  }
}

let server = null;
const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  const input = JSON.parse(line);
  let out;
  if (input.type === "boot") {
    server = new Server(input);
    out = server.handle(input);
    out.version = 1;
    out.capabilities = BLACK_BOX ? ["digest"] : ["state", "digest"];
  } else {
    out = server.handle(input);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
