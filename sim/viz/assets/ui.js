"use strict";
// The page: its controls, the side panel, and what a click, a drag, the wheel or a key does. It holds the one
// piece of mutable state (the view: window, cursor, selection, filters) and asks the model (model.js) and the
// drawing (draw.js) for everything else.

(function () {
  const started = performance.now();
  const data = JSON.parse(document.getElementById("raftsim-data").textContent);
  const parsed = performance.now();
  const M = raftsimModel(data);
  const modelled = performance.now();

  const canvas = document.getElementById("timeline");
  const wrap = document.getElementById("canvas-wrap");
  const panel = document.getElementById("panel");
  const toolbar = document.getElementById("toolbar");
  const summary = document.getElementById("summary");
  const ctx = canvas.getContext("2d");

  const allKinds = new Set(M.filterKinds.map((_, i) => i));
  const allServers = new Set(M.servers.map((_, i) => i));
  const state = {
    t0: M.start,
    t1: Math.max(M.end, M.start + 1),
    cursor: 0,
    selected: { server: null, copy: -1, op: -1 },
    filter: { kinds: new Set(allKinds), servers: new Set(allServers), step: "any" },
    linFocus: false,
    showWholeLog: false,
    maxArrows: MAX_ARROWS,
  };
  let layout = null;
  let lastFrame = null;
  let lastFrameMs = 0;
  let pending = false;

  // ------------------------------------------------------------------------------------------ drawing
  function renderNow() {
    pending = false;
    const width = Math.max(400, wrap.clientWidth);
    const below = `${toolbar.offsetHeight}px`; // the panel stays in sight under the toolbar, however it wraps
    if (panel.style.top !== below) {
      panel.style.top = below;
      panel.style.maxHeight = `calc(100vh - ${below})`;
    }
    layout = layoutTimeline(M, width);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(layout.height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(layout.height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${layout.height}px`;
    }
    const t = performance.now();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    lastFrame = drawTimeline(ctx, M, view(), layout);
    lastFrameMs = performance.now() - t;
    status();
    return lastFrame;
  }
  function render() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(renderNow);
    }
  }
  function view() {
    return {
      t0: state.t0,
      t1: state.t1,
      cursor: state.cursor,
      filter: state.filter,
      selected: state.selected,
      linFocus: state.linFocus,
      maxArrows: state.maxArrows,
    };
  }

  // --------------------------------------------------------------------------------------- the window
  const MIN_SPAN = 20; // microseconds
  function setWindow(t0, t1) {
    const full = M.end - M.start;
    let span = Math.max(MIN_SPAN, Math.min(t1 - t0, full * 1.5 || MIN_SPAN));
    let a = Math.max(M.start - full * 0.25, Math.min(t0, M.end + full * 0.25 - span));
    state.t0 = a;
    state.t1 = a + span;
    render();
  }
  function fit() {
    setWindow(M.start, Math.max(M.end, M.start + MIN_SPAN));
  }
  function zoom(factor, atTime) {
    const at = atTime === undefined ? (state.t0 + state.t1) / 2 : atTime;
    setWindow(at - (at - state.t0) * factor, at + (state.t1 - at) * factor);
  }
  function pan(dt) {
    setWindow(state.t0 + dt, state.t1 + dt);
  }
  function timeAtX(x) {
    return state.t0 + ((x - layout.left) / (layout.right - layout.left)) * (state.t1 - state.t0);
  }
  function xAtTime(t) {
    return layout.left + ((t - state.t0) / (state.t1 - state.t0)) * (layout.right - layout.left);
  }
  function keepInView(t) {
    const span = state.t1 - state.t0;
    if (t < state.t0 || t > state.t1) setWindow(t - span / 2, t + span / 2);
  }

  // --------------------------------------------------------------------------------------- the cursor
  function goTo(p, select) {
    state.cursor = Math.max(0, Math.min(M.n - 1, p));
    const info = M.eventInfo(state.cursor);
    if (select !== false) {
      if (info.copy >= 0) state.selected.copy = info.copy;
      if (info.op >= 0) state.selected.op = info.op;
    }
    keepInView(M.time(state.cursor));
    render();
    showPanel();
  }
  function step(direction, times) {
    let p = state.cursor;
    for (let k = 0; k < (times || 1); k++) p = M.step(p, direction, state.filter);
    goTo(p);
    return p;
  }
  function goToViolation() {
    const lin = M.lin;
    const v = M.violations[0];
    if (v !== undefined && String(data.misc[M.data.events.ref[v]].property) !== "Linearizability") {
      const t = M.time(v);
      const span = Math.min(Math.max((M.end - M.start) / 20, 50000), 1000000);
      state.cursor = v;
      const nodes = data.misc[M.data.events.ref[v]].nodes || [];
      const row = M.servers.indexOf(nodes[0]);
      if (row >= 0) state.selected.server = row;
      setWindow(t - span * 0.8, t + span * 0.2);
    } else if (lin.verdict === "violation") {
      state.linFocus = true;
      const ops = [...lin.stuck, ...lin.prefix.slice(-5)];
      let a = Infinity;
      let b = -Infinity;
      for (const i of ops) {
        a = Math.min(a, M.ops.ti[i]);
        b = Math.max(b, Math.min(M.opEnd[i], M.end));
      }
      const pad = Math.max((b - a) * 0.15, 1000);
      state.selected.op = lin.blocking >= 0 ? lin.blocking : lin.stuck[0];
      state.cursor = v !== undefined ? v : state.cursor;
      const focusBox = document.getElementById("lin-focus");
      if (focusBox) focusBox.checked = true;
      setWindow(a - pad, b + pad);
    }
    showPanel();
  }

  // ------------------------------------------------------------------------------------------ clicks
  // What a click at (x, y) is about. On a server's band it is the server at that moment (arrows end on the
  // band, so that is where they crowd); off the bands, the nearest arrow within a few pixels, then a client's
  // operation bar, then the row it is in.
  function hitAt(x, y) {
    if (!lastFrame || !layout) return null;
    const R = layout.rows.find((r) => y >= r.y0 && y < r.y1);
    if (R && R.kind === "server" && Math.abs(y - R.mid) <= 8) {
      return { server: R.row, time: x >= layout.left ? timeAtX(x) : null };
    }
    if (x >= layout.left && !lastFrame.dense) {
      const segs = lastFrame.hits.segments;
      let best = -1;
      let bestD = 5;
      for (let k = 0; k < lastFrame.hits.copies.length; k++) {
        const d = segmentDistance(x, y, segs[4 * k], segs[4 * k + 1], segs[4 * k + 2], segs[4 * k + 3]);
        if (d <= bestD) {
          bestD = d;
          best = lastFrame.hits.copies[k];
        }
      }
      if (best >= 0) return { copy: best };
    }
    if (x >= layout.left && R && R.kind === "client") {
      const pixel = (state.t1 - state.t0) / (layout.right - layout.left);
      const i = M.opAt(R.row - M.nServers, timeAtX(x), 2 * pixel);
      if (i >= 0) return { op: i };
    }
    if (R && R.kind === "server") return { server: R.row, time: x >= layout.left ? timeAtX(x) : null };
    return null;
  }
  function click(x, y) {
    const hit = hitAt(x, y);
    if (!hit) return;
    if (hit.copy !== undefined) {
      state.selected.copy = hit.copy;
      state.selected.op = -1;
    } else if (hit.op !== undefined) {
      state.selected.op = hit.op;
      state.selected.copy = -1;
    } else {
      state.selected.server = hit.server;
      if (hit.time !== null) state.cursor = M.posAtTime(hit.time);
    }
    render();
    showPanel();
  }

  let drag = null;
  canvas.addEventListener("mousedown", (e) => {
    drag = { x: e.offsetX, y: e.offsetY, t0: state.t0, t1: state.t1, moved: false };
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const rect = canvas.getBoundingClientRect();
    const dx = e.clientX - rect.left - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (drag.moved) {
      const dt = (-dx / (layout.right - layout.left)) * (drag.t1 - drag.t0);
      setWindow(drag.t0 + dt, drag.t1 + dt);
    }
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (!d.moved && e.target === canvas) click(d.x, d.y);
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      const span = state.t1 - state.t0;
      if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        pan(((e.deltaX || e.deltaY) / (layout.right - layout.left)) * span);
      } else {
        zoom(Math.exp(e.deltaY * 0.0015), timeAtX(e.offsetX));
      }
    },
    { passive: false }
  );
  window.addEventListener("keydown", (e) => {
    if (e.target && (e.target.tagName === "INPUT" && e.target.type === "text")) return;
    const k = e.key;
    if (k === "ArrowRight" || k === "n") step(1, e.shiftKey ? 10 : 1);
    else if (k === "ArrowLeft" || k === "p") step(-1, e.shiftKey ? 10 : 1);
    else if (k === "+" || k === "=") zoom(0.5);
    else if (k === "-" || k === "_") zoom(2);
    else if (k === "0" || k === "Home") fit();
    else if (k === "v") goToViolation();
    else return;
    e.preventDefault();
  });
  window.addEventListener("resize", render);

  // ------------------------------------------------------------------------------------------ toolbar
  function button(label, title, onClick, id) {
    const b = document.createElement("button");
    b.textContent = label;
    b.title = title;
    if (id) b.id = id;
    b.addEventListener("click", onClick);
    return b;
  }
  function group(label) {
    const g = document.createElement("span");
    g.className = "group";
    if (label) {
      const l = document.createElement("span");
      l.className = "label";
      l.textContent = label;
      g.appendChild(l);
    }
    toolbar.appendChild(g);
    return g;
  }
  function checkbox(parent, text, checked, onChange, id) {
    const l = document.createElement("label");
    const c = document.createElement("input");
    c.type = "checkbox";
    c.checked = checked;
    if (id) c.id = id;
    c.addEventListener("change", () => onChange(c.checked));
    l.appendChild(c);
    l.appendChild(document.createTextNode(text));
    parent.appendChild(l);
    return c;
  }
  {
    const g = group("step");
    g.appendChild(button("\u25c0", "previous event (\u2190; shift: 10)", () => step(-1), "prev"));
    g.appendChild(button("\u25b6", "next event (\u2192; shift: 10)", () => step(1), "next"));
    const sel = document.createElement("select");
    sel.id = "step-by";
    sel.title = "which events stepping stops at";
    for (const [v, text] of [
      ["any", "every event"],
      ["messages", "messages"],
      ["state", "roles, terms, votes, crashes"],
      ["log", "log writes, commits, applies"],
      ["clients", "client operations"],
      ["faults", "faults and violations"],
    ]) {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = text;
      sel.appendChild(o);
    }
    sel.addEventListener("change", () => (state.filter.step = sel.value));
    g.appendChild(sel);
    const z = group("zoom");
    z.appendChild(button("\u2212", "zoom out (-)", () => zoom(2), "zoom-out"));
    z.appendChild(button("+", "zoom in (+)", () => zoom(0.5), "zoom-in"));
    z.appendChild(button("whole run", "show the whole run (0)", fit, "fit"));
    if (M.violations.length || M.lin.verdict === "violation") {
      const v = group("");
      v.appendChild(button("\u26a0 go to the violation", "zoom to the violation (v)", goToViolation, "violation"));
      if (M.lin.verdict === "violation") {
        checkbox(v, "only its key", false, (on) => {
          state.linFocus = on;
          render();
        }, "lin-focus");
      }
    }
    const k = group("messages");
    M.filterKinds.forEach((name, i) => {
      if (!M.kindTotals[i]) return;
      const box = checkbox(k, `${name} (${M.kindTotals[i].toLocaleString("en")})`, true, (on) => {
        if (on) state.filter.kinds.add(i);
        else state.filter.kinds.delete(i);
        render();
      });
      box.dataset.kind = name;
      box.parentElement.style.borderBottom = `3px solid ${KIND_COLORS[name] || "#666"}`;
    });
    const s = group("servers");
    M.servers.forEach((id, r) => {
      const box = checkbox(s, String(id), true, (on) => {
        if (on) state.filter.servers.add(r);
        else state.filter.servers.delete(r);
        render();
      });
      box.dataset.server = String(id);
    });
  }
  const statusLine = document.createElement("div");
  statusLine.id = "status";
  toolbar.appendChild(statusLine);
  function status() {
    const f = lastFrame;
    const what = f.dense
      ? `${f.messagesInView.toLocaleString("en")} messages (as density)`
      : `${f.arrows.toLocaleString("en")} message arrows`;
    statusLine.textContent =
      `${formatTime(state.t0)} \u2013 ${formatTime(state.t1)} \u00b7 ${what}, ${f.leaderBands} leader bands, ` +
      `${f.ops.toLocaleString("en")} operations in view \u00b7 drawn in ${lastFrameMs.toFixed(1)} ms`;
  }

  summary.textContent =
    `${M.nServers} servers, ${M.clients.length} clients, ${formatTime(M.end - M.start)} simulated \u00b7 ` +
    `${M.n.toLocaleString("en")} events, ${M.counts.arrows.toLocaleString("en")} messages ` +
    `(${M.counts.dropped.toLocaleString("en")} dropped, ${M.counts.duplicates.toLocaleString("en")} duplicated), ` +
    `${M.counts.leaderBands} leader terms, ${M.nOps.toLocaleString("en")} client operations \u00b7 ` +
    `invariants: ${data.verdict === null ? "the trace has no end record" : data.verdict} \u00b7 history: ${M.lin.summary}`;

  // -------------------------------------------------------------------------------------------- panel
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function jsonText(v) {
    return JSON.stringify(v);
  }
  const ROLE_NAMES = {
    follower: "follower",
    precandidate: "pre-candidate",
    candidate: "candidate",
    leader: "leader",
    down: "down",
    "not started": "not started",
  };

  function entryText(e, index, commit) {
    const mark = commit !== null && index <= commit ? "\u2714" : " ";
    return `${mark} ${String(index).padStart(6)}  t${e[0]}  ${M.commandText(e[1], e[2])}`;
  }
  function termRuns(log) {
    const runs = [];
    for (let k = 0; k < log.length; k++) {
      const t = log.term(k);
      if (runs.length && runs[runs.length - 1][2] === t) runs[runs.length - 1][1] = k + 1;
      else runs.push([k + 1, k + 1, t]);
    }
    return runs;
  }
  function serverSection(row) {
    const s = M.serverState(row, state.cursor);
    const log = s.log;
    const runs = termRuns(log);
    const runText = runs.length
      ? runs.map(([a, b, t]) => (a === b ? `${a}: t${t}` : `${a}\u2013${b}: t${t}`)).join(" \u00b7 ")
      : "empty";
    const shown = state.showWholeLog ? log.length : Math.min(log.length, 200);
    const lines = [];
    for (let k = log.length - shown; k < log.length; k++) lines.push(entryText(log.entry(k), k + 1, s.commit));
    const more =
      log.length > shown
        ? `<button id="whole-log">show all ${log.length.toLocaleString("en")} entries</button>`
        : "";
    return (
      `<section id="server-state"><h2>server ${esc(s.server)} after event ${state.cursor.toLocaleString("en")}</h2>` +
      `<table class="kv">` +
      `<tr><th>role</th><td class="role-${esc(s.role)}">${esc(ROLE_NAMES[s.role] || s.role)}</td></tr>` +
      `<tr><th>term</th><td>${s.term}</td></tr>` +
      `<tr><th>voted for</th><td>${s.votedFor === null ? "nobody (this term)" : esc(s.votedFor)}</td></tr>` +
      `<tr><th>commit index</th><td>${s.commit === null ? "\u2014 (down)" : s.commit}</td></tr>` +
      `<tr><th>applied</th><td>${s.applied === null ? "\u2014 (down)" : s.applied}</td></tr>` +
      `<tr><th>log</th><td>${log.length.toLocaleString("en")} entries, last term ${s.lastLogTerm}</td></tr>` +
      `<tr><th>terms</th><td>${esc(runText)}</td></tr></table>` +
      `<h3>log${log.length > shown ? ` (the last ${shown})` : ""}: \u2714 committed</h3>` +
      `<pre class="log" id="log">${esc(lines.join("\n")) || "(empty)"}</pre>${more}</section>`
    );
  }
  function allServersTable() {
    let rows = "";
    for (let r = 0; r < M.nServers; r++) {
      const s = M.serverState(r, state.cursor);
      const sel = state.selected.server === r ? ' class="selected"' : "";
      rows +=
        `<tr data-row="${r}"${sel}><td>${esc(s.server)}</td><td class="role-${esc(s.role)}">${esc(ROLE_NAMES[s.role] || s.role)}</td>` +
        `<td>${s.term}</td><td>${s.votedFor === null ? "" : esc(s.votedFor)}</td><td>${s.log.length}` +
        `${s.log.length ? ` (t${s.lastLogTerm})` : ""}</td><td>${s.commit === null ? "\u2014" : s.commit}</td>` +
        `<td>${s.applied === null ? "\u2014" : s.applied}</td></tr>`;
    }
    return (
      `<table class="servers" id="servers-table"><tr><th>server</th><th>role</th><th>term</th><th>vote</th>` +
      `<th>log</th><th>commit</th><th>applied</th></tr>${rows}</table>`
    );
  }
  function messageSection(i) {
    const m = M.message(i);
    const f = m.fields;
    let rows = "";
    for (const [k, v] of Object.entries(f)) {
      if (k === "entries") continue;
      rows += `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" && v !== null ? jsonText(v) : String(v))}</td></tr>`;
    }
    let entries = "";
    if (Array.isArray(f.entries)) {
      const from = (f.prev_index || 0) + 1;
      entries = f.entries.length
        ? `<h3>entries (${f.entries.length})</h3><pre class="log">${esc(
            f.entries.map((e, k) => `${String(from + k).padStart(6)}  t${e[0]}  ${M.commandText(e[1], e[2])}`).join("\n")
          )}</pre>`
        : "<p>no entries: a heartbeat</p>";
    }
    const end =
      m.outcome === "delivered"
        ? `delivered at ${formatTime(m.end)} (after ${formatTime(m.end - m.sent)})`
        : m.outcome === "in flight"
          ? "still in flight when the trace ends"
          : `dropped at ${formatTime(m.end)}: ${m.outcome === "lost" ? "lost by the network" : m.outcome === "partition" ? "the link was cut" : "the receiver was down"}`;
    return (
      `<section id="message"><h2>${esc(m.type)} ${esc(M.shortName(m.src))} \u2192 ${esc(M.shortName(m.dst))}` +
      `${m.duplicate ? " (the network's duplicate)" : ""}</h2>` +
      `<p>sent at ${formatTime(m.sent)}; ${esc(end)}</p><table class="kv">${rows}</table>${entries}` +
      `<p><button id="goto-send">go to its send</button>${m.endPos >= 0 ? ' <button id="goto-end">go to its end</button>' : ""}</p></section>`
    );
  }
  function opSection(i) {
    const o = M.operation(i);
    const value = o.f === "cas" ? `${jsonText(o.expected)} \u2192 ${jsonText(o.value)}` : o.f === "get" ? "" : jsonText(o.value);
    const status = { ok: "ok", fail: "fail: it did not take effect", info: "unknown: the client gave up", pending: "unknown: never completed" }[o.status] || o.status;
    let lin = "";
    if (o.prefixRank >= 0) lin = `<p>operation ${o.prefixRank + 1} of the longest linearizable prefix; the key holds ${esc(o.stateAfter)} after it</p>`;
    if (o.stuck) lin += `<p class="bad">cannot be linearized next${o.blocking ? ": it must take effect by its completion" : ""}</p>`;
    return (
      `<section id="operation"><h2>${esc(o.client)} #${o.seq}: ${esc(o.f)} ${esc(o.key)} ${esc(value)}</h2>` +
      `<table class="kv"><tr><th>outcome</th><td>${esc(status)}</td></tr>` +
      (o.f === "get" && o.status === "ok" ? `<tr><th>read</th><td>${esc(jsonText(o.result))}</td></tr>` : "") +
      `<tr><th>invoked</th><td>${formatTime(o.invoked)}</td></tr>` +
      `<tr><th>completed</th><td>${o.completed === null ? "\u2014" : `${formatTime(o.completed)} (after ${formatTime(o.completed - o.invoked)})`}</td></tr>` +
      `</table>${lin}<p><button id="goto-invoke">go to its invocation</button></p></section>`
    );
  }
  function violationSection() {
    let out = "";
    for (const p of M.violations) {
      const d = data.misc[M.data.events.ref[p]];
      out +=
        `<section class="violation"><h2>\u26a0 ${esc(d.property)} at ${formatTime(M.time(p))}</h2>` +
        `<pre class="detail">${esc(d.detail)}</pre></section>`;
    }
    const lin = M.lin;
    if (lin.verdict === "violation") {
      const prefix = lin.prefix
        .map((i, k) => ({ i, k }))
        .slice(-20)
        .map(({ i, k }) => `<li value="${k + 1}" data-op="${i}">${esc(M.clients[M.ops.client[i]])}: ${esc(M.describeOp(i))}, ${esc(M.ops.status[i])} \u2192 ${esc(lin.states[k])}</li>`)
        .join("");
      const stuck = lin.stuck
        .map((i) => `<li data-op="${i}">${esc(M.clients[M.ops.client[i]])}: ${esc(M.describeOp(i))}, ${esc(M.ops.status[i])}${i === lin.blocking ? " \u2190 must take effect by its completion" : ""}</li>`)
        .join("");
      out +=
        `<section class="violation" id="lin"><h2>client history: not linearizable at key ${esc(lin.key)}</h2>` +
        `<p>longest linearizable prefix: ${lin.prefix.length} operations${lin.prefix.length > 20 ? " (the last 20)" : ""}; each with the value after it</p>` +
        `<ol class="ops">${prefix || "<li>(none)</li>"}</ol><p>state after it: ${esc(lin.state)}</p>` +
        `<p>operations that cannot be linearized next:</p><ul class="ops bad">${stuck}</ul></section>`;
    } else if (lin.verdict === "unknown") {
      out += `<section class="violation"><h2>client history: ${esc(lin.summary)}</h2></section>`;
    }
    return out;
  }
  function showPanel() {
    const p = state.cursor;
    let html =
      `<section id="event"><h2>event ${p.toLocaleString("en")} of ${(M.n - 1).toLocaleString("en")} at ${formatTime(M.time(p))}</h2>` +
      `<p id="event-text">${esc(M.describe(p))}</p>${allServersTable()}</section>`;
    if (state.selected.server !== null) html += serverSection(state.selected.server);
    if (state.selected.copy >= 0) html += messageSection(state.selected.copy);
    if (state.selected.op >= 0) html += opSection(state.selected.op);
    html += violationSection();
    html +=
      `<section id="legend"><h2>legend</h2><p><span class="sw" style="background:${ROLE_COLORS[0]}"></span>follower ` +
      `<span class="sw" style="background:${ROLE_COLORS[1]}"></span>pre-candidate <span class="sw" style="background:${ROLE_COLORS[2]}"></span>candidate ` +
      `<span class="sw" style="background:${ROLE_COLORS[3]}"></span>leader <span class="sw" style="background:${ROLE_COLORS[4]}"></span>down; ` +
      `red \u2716 crash, green \u25b6 restart, purple tick: a vote (\u2713 candidate). Arrows: send to delivery; ` +
      `a red \u2716 ends a dropped message, dashed: the network's duplicate, dotted: still in flight at the end. ` +
      `Client bars: <span class="sw" style="background:${OP_COLORS.ok}"></span>ok <span class="sw" style="background:${OP_COLORS.fail}"></span>fail ` +
      `<span class="sw" style="background:${OP_COLORS.info}"></span>unknown. Shaded rows: cut off by a partition; purple frame: a one-way cut.</p>` +
      `<p>Drag or shift-wheel to pan, wheel to zoom, \u2190 \u2192 to step, click a server row for its state then, an arrow for its fields, a bar for its operation.</p></section>`;
    const scrolled = panel.scrollTop;
    panel.innerHTML = html;
    panel.scrollTop = scrolled;
    const logView = document.getElementById("log");
    if (logView) logView.scrollTop = logView.scrollHeight; // the latest entries first in sight
    const on = (id, f) => {
      const el = document.getElementById(id);
      if (el) el.addEventListener("click", f);
    };
    on("whole-log", () => {
      state.showWholeLog = true;
      showPanel();
    });
    if (state.selected.copy >= 0) {
      const m = M.message(state.selected.copy);
      on("goto-send", () => goTo(m.sendPos, false));
      on("goto-end", () => goTo(m.endPos, false));
    }
    if (state.selected.op >= 0) on("goto-invoke", () => goTo(M.ops.pi[state.selected.op], false));
    for (const tr of panel.querySelectorAll("#servers-table tr[data-row]")) {
      tr.addEventListener("click", () => {
        state.selected.server = Number(tr.dataset.row);
        state.showWholeLog = false;
        render();
        showPanel();
      });
    }
    for (const li of panel.querySelectorAll("li[data-op]")) {
      li.addEventListener("click", () => {
        state.selected.op = Number(li.dataset.op);
        state.selected.copy = -1;
        const i = state.selected.op;
        keepInView(M.ops.ti[i]);
        render();
        showPanel();
      });
    }
  }

  // --------------------------------------------------------------------------------- for tests, and bench
  function selectedState() {
    if (state.selected.server === null) return null;
    const s = M.serverState(state.selected.server, state.cursor);
    const log = [];
    for (let k = 0; k < s.log.length; k++) log.push(s.log.entry(k));
    return { ...s, log };
  }
  function frameCounts() {
    const f = lastFrame;
    return {
      arrows: f.arrows,
      dense: f.dense,
      messagesInView: f.messagesInView,
      leaderBands: f.leaderBands,
      bands: f.bands,
      ops: f.ops,
      votes: f.votes,
      crashes: f.crashes,
      ms: lastFrameMs,
    };
  }
  // A point of the page (client coordinates) on a row at a time, for a test to click as a person would.
  function pointFor(row, t) {
    const rect = canvas.getBoundingClientRect();
    const R = layout.rows[row];
    return { x: rect.left + xAtTime(t), y: rect.top + R.mid };
  }
  function runBench() {
    // Frame times, each frame forced to finish rasterizing (a 1-pixel read), while panning across windows of
    // several widths at the middle of the run; then stepping and clicking.
    const out = {
      parse_ms: parsed - started,
      model_ms: modelled - parsed,
      ready_ms: ready,
      events: M.n,
      messages: M.counts.arrows,
      ops: M.nOps,
      pans: [],
    };
    const mid = (M.start + M.end) / 2;
    const full = M.end - M.start;
    for (const span of [full, 10e6, 1e6, 100e3]) {
      if (span > full) continue;
      const times = [];
      let last = null;
      for (let k = 0; k < 24; k++) {
        const a = mid - span / 2 + (k - 12) * (span / 24);
        state.t0 = a;
        state.t1 = a + span;
        const t = performance.now();
        last = renderNow();
        ctx.getImageData(0, 0, 1, 1);
        times.push(performance.now() - t);
      }
      times.sort((x, y) => x - y);
      out.pans.push({
        span_us: span,
        frames: times.length,
        median_ms: times[times.length >> 1],
        p90_ms: times[Math.floor(times.length * 0.9)],
        max_ms: times[times.length - 1],
        arrows: last.arrows,
        dense: last.dense,
        messages_in_view: last.messagesInView,
      });
    }
    state.t0 = mid - 500e3;
    state.t1 = mid + 500e3;
    state.selected.server = 0;
    state.cursor = M.posAtTime(mid);
    const steps = [];
    for (let k = 0; k < 40; k++) {
      const t = performance.now();
      state.cursor = M.step(state.cursor, 1, state.filter);
      renderNow();
      showPanel();
      ctx.getImageData(0, 0, 1, 1);
      steps.push(performance.now() - t);
    }
    steps.sort((x, y) => x - y);
    out.step_median_ms = steps[steps.length >> 1];
    out.step_max_ms = steps[steps.length - 1];
    const t = performance.now();
    state.cursor = M.n - 1;
    state.selected.server = M.nServers - 1;
    showPanel();
    out.click_server_at_end_ms = performance.now() - t;
    return out;
  }

  let ready = 0;
  window.raftsim = {
    model: M,
    counts: M.counts,
    frame: frameCounts,
    view: () => ({ t0: state.t0, t1: state.t1, cursor: state.cursor, selected: { ...state.selected } }),
    setWindow: (a, b) => {
      setWindow(a, b);
      return renderNow();
    },
    fit: () => {
      fit();
      return renderNow();
    },
    step: (direction, mode) => {
      if (mode) state.filter.step = mode;
      const p = step(direction);
      renderNow();
      return p;
    },
    goTo: (p) => {
      goTo(p);
      renderNow();
    },
    goToViolation: () => {
      goToViolation();
      renderNow();
    },
    pointFor,
    // How many arrows a frame draws before it shows traffic as density instead.
    setMaxArrows: (n) => {
      state.maxArrows = n;
      return renderNow();
    },
    renderNow: () => frameCounts(renderNow()),
    selectedState,
    describe: (p) => M.describe(p),
    bench: runBench,
  };

  // Where the page opens: the whole run, at the moment every server has started; or what the address's
  // fragment says: #from=MS&to=MS (the window), at=MS or event=P (the cursor), server=ID (its state shown),
  // violation (go to it), bench (measure the page, see sim/experiments/html_bench.py).
  state.cursor = M.posAtTime(M.start);
  const asked = new URLSearchParams(location.hash.slice(1));
  if (asked.has("from") || asked.has("to")) {
    const a = asked.has("from") ? Number(asked.get("from")) * 1000 : M.start;
    const b = asked.has("to") ? Number(asked.get("to")) * 1000 : M.end;
    if (Number.isFinite(a) && Number.isFinite(b) && b > a) setWindow(a, b);
  }
  if (asked.has("at") && Number.isFinite(Number(asked.get("at")))) state.cursor = M.posAtTime(Number(asked.get("at")) * 1000);
  if (asked.has("event")) state.cursor = Math.max(0, Math.min(M.n - 1, Number(asked.get("event")) || 0));
  if (asked.has("server")) {
    const row = M.servers.indexOf(Number(asked.get("server")));
    if (row >= 0) state.selected.server = row;
  }
  if (asked.has("violation")) goToViolation();
  renderNow();
  showPanel();
  ready = performance.now();
  if (asked.has("bench")) {
    const result = runBench();
    const pre = document.createElement("pre");
    pre.id = "bench-result";
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  }
})();
