"use strict";
// Drawing: a pure function of a model (model.js), a view and a layout, onto a 2D canvas context. It reads no
// page element and keeps nothing between frames: what it drew comes back as counts and hit boxes, for the
// page (clicks) and for tests (what is on the screen, compared with the trace).
//
// Only what is in the window is looked at: role bands, operations and messages are found by binary search on
// time, bands and operations narrower than a pixel are merged per pixel column, and beyond MAX_ARROWS messages
// in view the arrows give way to a traffic density per server (zoom in to see them one by one).

const MAX_ARROWS = 5000;
const MAX_VOTE_MARKS = 400;
const ROLE_COLORS = ["#dbe4ef", "#f7e08b", "#f28e2b", "#2a9d8f", "#3a3a3a"]; // follower .. leader, down
const ROLE_PRIORITY = [0, 1, 2, 3, 4];
const KIND_COLORS = {
  RequestVote: "#7b4fbf",
  RequestVoteReply: "#b39ddb",
  AppendEntries: "#1f6fb2",
  heartbeat: "#8fb8de",
  AppendEntriesReply: "#3aa17e",
  ClientRequest: "#8a8a8a",
  ClientReply: "#b5b5b5",
};
const OP_COLORS = { ok: "#9bd39b", fail: "#f3c27a", info: "#d0d0d0", pending: "#e4e4e4" };
const OP_PIXEL_ORDER = ["ok", "fail", "pending", "info"]; // a column of many operations shows the last it has
const OP_PIXEL_RGB = OP_PIXEL_ORDER.map((k) => hexRgb(OP_COLORS[k]));
const DENSITY_RGB = hexRgb("#1f6fb2");
const DROP_COLOR = "#d62728";
const CURSOR_COLOR = "#e4572e";

function layoutTimeline(model, width) {
  const left = 82;
  const right = Math.max(left + 50, width - 14);
  const top = 34; // the time axis and fault labels
  const rows = [];
  let y = top;
  for (let r = 0; r < model.nServers; r++) {
    rows.push({ row: r, y0: y, y1: y + 40, mid: y + 20, kind: "server" });
    y += 40;
  }
  const clientsTop = y + (model.clients.length ? 18 : 0);
  y = clientsTop;
  for (let c = 0; c < model.clients.length; c++) {
    rows.push({ row: model.nServers + c, y0: y, y1: y + 16, mid: y + 8, kind: "client" });
    y += 16;
  }
  return { width, left, right, top, rows, clientsTop, height: y + 12 };
}

function hexRgb(hex) {
  return [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
}

function niceStep(span, pixels, minSpacing) {
  const raw = (span * minSpacing) / Math.max(1, pixels);
  const mag = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function axisLabel(us, step) {
  if (step >= 1e6) return `${+(us / 1e6).toFixed(3)} s`;
  if (step >= 1000) return `${+(us / 1000).toFixed(3)} ms`;
  return `${+(us / 1000).toFixed(4)} ms`;
}

// Draw the view; returns what was drawn. view: {t0, t1, cursor, filter, selected: {server, copy, op},
// linFocus, maxArrows (MAX_ARROWS unless given)}. layout: from layoutTimeline.
function drawTimeline(ctx, model, view, layout) {
  const { t0, t1 } = view;
  const L = layout;
  const W = L.width;
  const span = Math.max(1e-9, t1 - t0);
  const scale = (L.right - L.left) / span;
  const X = (t) => L.left + (t - t0) * scale;
  const rowOf = (r) => L.rows[r];
  const frame = {
    arrows: 0,
    dense: false,
    messagesInView: 0,
    leaderBands: 0,
    bands: 0,
    ops: 0,
    votes: 0,
    crashes: 0,
    hits: { copies: [], segments: [] },
  };

  ctx.save();
  ctx.clearRect(0, 0, W, L.height);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, L.height);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";

  // Row backgrounds and names.
  for (const R of L.rows) {
    const server = R.kind === "server";
    ctx.fillStyle = server ? (R.row % 2 ? "#f7f8fa" : "#fdfdfe") : R.row % 2 ? "#fafafa" : "#ffffff";
    ctx.fillRect(0, R.y0, W, R.y1 - R.y0);
    const selected = view.selected && view.selected.server === R.row;
    ctx.fillStyle = selected ? CURSOR_COLOR : "#333";
    ctx.font = server ? (selected ? "bold 12px system-ui, sans-serif" : "12px system-ui, sans-serif") : "10px system-ui, sans-serif";
    ctx.fillText(server ? model.rowName(R.row) : model.shortName(R.row), 8, R.mid);
  }
  ctx.font = "11px system-ui, sans-serif";
  if (model.clients.length) {
    ctx.fillStyle = "#555";
    ctx.fillText("clients: operations, invoked to completed", 8, L.clientsTop - 9);
  }

  ctx.beginPath();
  ctx.rect(L.left, 0, L.right - L.left, L.height);
  ctx.clip();

  // Partitions: the servers cut off from the largest group, shaded while it lasts; one-way cuts framed.
  const strip = [];
  for (const [s, e, text, cut] of model.timeline.partitions) {
    if (e < t0 || s > t1) continue;
    const x0 = Math.max(L.left, X(s));
    const x1 = Math.min(L.right, X(e));
    ctx.fillStyle = "rgba(120, 120, 140, 0.16)";
    for (const r of cut) ctx.fillRect(x0, rowOf(r).y0, Math.max(1, x1 - x0), 40);
    strip.push([X(s), text, "#666"]);
  }
  for (const [s, e, a, b] of model.timeline.cuts) {
    if (e < t0 || s > t1) continue;
    const x0 = Math.max(L.left - 2, X(s));
    const x1 = Math.min(L.right + 2, X(e));
    ctx.strokeStyle = "#9575cd";
    ctx.lineWidth = 2;
    for (const r of [a, b]) if (r >= 0) ctx.strokeRect(x0, rowOf(r).y0 + 2, Math.max(1, x1 - x0), 36);
    strip.push([X(s), `cut ${model.shortName(a)}\u2192${model.shortName(b)}`, "#7e57c2"]);
  }

  // Role bands: pixel-wide bands merged, the column showing its most significant role (as the PNG does).
  for (let r = 0; r < model.nServers; r++) {
    const R = rowOf(r);
    const bands = model.bands[r];
    const y = R.mid - 8;
    let col = -1;
    let colRole = -1;
    const flush = () => {
      if (col >= 0 && colRole >= 0) {
        ctx.fillStyle = ROLE_COLORS[colRole];
        ctx.fillRect(col, y, 1, 16);
      }
      col = -1;
      colRole = -1;
    };
    for (let k = lowerBound(model.bandEnds[r], t0); k < bands.length && bands[k][0] <= t1; k++) {
      const [s, e, role, term] = bands[k];
      frame.bands++;
      if (role === 3) frame.leaderBands++;
      const x0 = X(s);
      const x1 = X(e);
      if (x1 - x0 >= 1) {
        flush();
        ctx.fillStyle = ROLE_COLORS[role];
        const a = Math.max(L.left - 1, x0);
        const b = Math.min(L.right + 1, x1);
        ctx.fillRect(a, y, b - a, 16);
        const w = b - a;
        const label = role === 3 && w > 74 ? `leader \u00b7 term ${term}` : w > 24 && role !== 4 ? `t${term}` : "";
        if (label) {
          ctx.fillStyle = role === 3 ? "#ffffff" : "#333";
          ctx.fillText(label, a + 4, R.mid);
        }
      } else {
        const c = Math.floor(x0);
        if (c !== col) {
          flush();
          col = c;
        }
        if (colRole < 0 || ROLE_PRIORITY[role] > ROLE_PRIORITY[colRole]) colRole = role;
      }
    }
    flush();
  }

  // Crashes, restarts and votes, found through their positions.
  const p0 = lowerBound(model.evT, t0);
  const p1 = upperBound(model.evT, t1);
  let votes = 0;
  for (let r = 0; r < model.nServers; r++) {
    const T = model.tables[r];
    votes += upperBound(T.vote.pos, p1 - 1) - lowerBound(T.vote.pos, p0);
  }
  for (let r = 0; r < model.nServers; r++) {
    const R = rowOf(r);
    const T = model.tables[r];
    ctx.strokeStyle = DROP_COLOR;
    ctx.lineWidth = 2;
    for (let k = lowerBound(T.crash.pos, p0); k < T.crash.pos.length && T.crash.pos[k] < p1; k++) {
      const x = X(model.evT[T.crash.pos[k]]);
      ctx.beginPath();
      ctx.moveTo(x - 5, R.mid - 5);
      ctx.lineTo(x + 5, R.mid + 5);
      ctx.moveTo(x + 5, R.mid - 5);
      ctx.lineTo(x - 5, R.mid + 5);
      ctx.stroke();
      frame.crashes++;
    }
    ctx.fillStyle = "#2e9e44";
    for (let k = Math.max(1, lowerBound(T.boot.pos, p0)); k < T.boot.pos.length && T.boot.pos[k] < p1; k++) {
      const x = X(model.evT[T.boot.pos[k]]);
      ctx.beginPath();
      ctx.moveTo(x, R.mid - 6);
      ctx.lineTo(x + 8, R.mid);
      ctx.lineTo(x, R.mid + 6);
      ctx.fill();
    }
    if (votes <= MAX_VOTE_MARKS) {
      ctx.fillStyle = "#7b4fbf";
      for (let k = lowerBound(T.vote.pos, p0); k < T.vote.pos.length && T.vote.pos[k] < p1; k++) {
        const x = X(model.evT[T.vote.pos[k]]);
        ctx.fillRect(x - 1, R.y0 + 2, 2, 7);
        if (votes < 60) ctx.fillText(`\u2713${T.vote.candidate[k]}`, x + 3, R.y0 + 6);
        frame.votes++;
      }
    }
  }

  // Client operations, as Porcupine draws a history: a bar from invocation to completion per client.
  const lin = model.lin;
  const focus = view.linFocus && lin.verdict === "violation";
  const prefixRank = new Map();
  if (lin.prefix) lin.prefix.forEach((op, k) => prefixRank.set(op, k));
  const stuck = new Set(lin.stuck || []);
  const plotColumns = Math.ceil(L.right - L.left) + 1;
  // A lane with more operations in view than a third of its pixels is drawn pixel by pixel (each column the
  // most telling outcome among its operations: unknown over fail over ok), into one image for all such lanes;
  // operations wholly inside a column already painted are passed over, so its cost follows its pixels.
  let opPixels = null;
  const pixelEnd = (i) => t0 + (Math.floor((model.ops.ti[i] - t0) * scale) + 1) / scale;
  for (let c = 0; c < model.clients.length; c++) {
    const R = rowOf(model.nServers + c);
    if (!focus && model.opsCount(c, t0, t1) > plotColumns / 3) {
      if (opPixels === null) opPixels = pixelLayer(plotColumns, L.clientsTop, L.height - L.clientsTop);
      const best = new Uint8Array(plotColumns); // 0: none, else 1 + OP_PIXEL_ORDER's index
      frame.ops += model.opsOverlapping(c, t0, t1, (i) => {
        const rank = 1 + OP_PIXEL_ORDER.indexOf(model.ops.status[i]);
        const a = Math.max(0, Math.floor(X(model.ops.ti[i]) - L.left));
        const b = Math.min(plotColumns, Math.max(a + 1, Math.ceil(X(model.opEnd[i]) - L.left)));
        for (let x = a; x < b; x++) if (rank > best[x]) best[x] = rank;
      }, pixelEnd);
      const top = Math.round(R.y0 + 2 - L.clientsTop);
      for (let x = 0; x < plotColumns; x++) {
        if (best[x]) opPixels.column(x, top, 12, OP_PIXEL_RGB[best[x] - 1]);
      }
      continue;
    }
    frame.ops += model.opsOverlapping(c, t0, t1, (i) => {
      const x0 = Math.max(L.left - 1, X(model.ops.ti[i]));
      const x1 = Math.min(L.right + 1, Math.max(x0 + 1, X(model.opEnd[i])));
      const inKey = !focus || model.ops.key[i] === lin.key;
      const status = model.ops.status[i];
      ctx.globalAlpha = inKey ? 1 : 0.22;
      ctx.fillStyle = OP_COLORS[status] || OP_COLORS.pending;
      ctx.fillRect(x0, R.y0 + 2, x1 - x0, 12);
      if (status !== "ok" && status !== "fail" && x1 - x0 > 3) {
        ctx.strokeStyle = "#999";
        ctx.lineWidth = 1;
        ctx.setLineDash([3, 2]);
        ctx.strokeRect(x0 + 0.5, R.y0 + 2.5, x1 - x0 - 1, 11);
        ctx.setLineDash([]);
      }
      if (focus && inKey && (prefixRank.has(i) || stuck.has(i))) {
        ctx.strokeStyle = stuck.has(i) ? DROP_COLOR : "#1f6fb2";
        ctx.lineWidth = lin.blocking === i ? 3 : 2;
        ctx.strokeRect(x0 + 1, R.y0 + 3, Math.max(1, x1 - x0 - 2), 10);
      }
      if (view.selected && view.selected.op === i) {
        ctx.strokeStyle = CURSOR_COLOR;
        ctx.lineWidth = 2;
        ctx.strokeRect(x0, R.y0 + 1, Math.max(2, x1 - x0), 14);
      }
      if (x1 - x0 > 40) {
        let text = model.describeOp(i);
        if (focus && prefixRank.has(i)) text = `#${prefixRank.get(i) + 1} ${text}`;
        if (focus && stuck.has(i)) text = `\u2718 ${text}`;
        const room = Math.floor((x1 - x0 - 6) / 6);
        ctx.fillStyle = "#222";
        ctx.font = "10px system-ui, sans-serif";
        ctx.fillText(text.length > room ? text.slice(0, Math.max(0, room - 1)) + "\u2026" : text, x0 + 3, R.mid);
        ctx.font = "11px system-ui, sans-serif";
      }
      ctx.globalAlpha = 1;
    }, focus ? undefined : pixelEnd);
  }
  if (opPixels !== null) opPixels.drawTo(ctx, Math.round(L.left));

  // Messages: arrows from send to delivery, or a traffic density when there are too many to tell apart. A
  // window far too busy is counted from the model's traffic bins without looking at each message (when every
  // server is shown: the bins are per sender); a borderline one message by message.
  const C = model.copies;
  const filter = view.filter;
  const maxArrows = view.maxArrows === undefined ? MAX_ARROWS : view.maxArrows;
  const columns = Math.ceil(L.right - L.left) + 1;
  let shown = [];
  let perRow = null;
  const binned = filter.servers.size === model.nServers ? model.trafficBins() : null;
  const roughly = binned ? binned.count(filter.kinds, t0, t1) : -1;
  if (roughly > 2 * maxArrows) {
    frame.messagesInView = roughly;
    perRow = binned.columns(filter.kinds, t0, t0 + columns / scale, columns, L.rows.length);
  } else {
    model.copiesOverlapping(t0, t1, (i) => {
      if (model.copyShown(i, filter)) shown.push(i);
    });
    frame.messagesInView = shown.length;
    if (shown.length > maxArrows) {
      perRow = L.rows.map(() => new Float32Array(columns));
      for (const i of shown) {
        if (C.ts[i] < t0 || C.src[i] < 0) continue;
        perRow[C.src[i]][Math.floor(X(C.ts[i]) - L.left)]++;
      }
      shown = [];
    }
  }
  if (perRow !== null) {
    frame.dense = true;
    let most = 1;
    for (const counts of perRow) if (counts) for (let c = 0; c < columns; c++) if (counts[c] > most) most = counts[c];
    // Each column a bar as high as its traffic (log scale), in whole pixels, written straight into an image:
    // tens of thousands of columns cost no more than the pixels they cover.
    const layer = pixelLayer(columns, 0, L.height);
    const norm = Math.log1p(most);
    for (const R of L.rows) {
      const counts = perRow[R.row];
      if (!counts) continue;
      const h = R.kind === "server" ? 10 : 4;
      const bottom = Math.round(R.kind === "server" ? R.y1 - 1 : R.y1);
      for (let c = 0; c < columns; c++) {
        if (counts[c] < 0.05) continue;
        const f = Math.log1p(counts[c]) / norm;
        const high = Math.max(1, Math.round(h * f));
        layer.column(c, bottom - high, high, DENSITY_RGB, Math.round(255 * (0.3 + 0.7 * f)));
      }
    }
    layer.drawTo(ctx, Math.round(L.left));
  } else {
    const groups = new Map();
    const drops = new Path2D();
    const segs = frame.hits.segments;
    for (const i of shown) {
      const s = C.src[i];
      const d = C.dst[i];
      if (s < 0 || d < 0) continue;
      const x0 = X(C.ts[i]);
      const y0 = rowOf(s).mid;
      const x1 = X(C.te[i]);
      const y1 = rowOf(d).mid;
      const outcome = model.outcomes[C.outcome[i]];
      const key = C.kind[i] * 4 + (C.dup[i] ? 1 : 0) + (outcome === "in flight" ? 2 : 0);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { kind: C.kind[i], dashed: C.dup[i] === 1, open: outcome === "in flight", path: new Path2D() }));
      // A drop as it was sent goes nowhere: a short stub towards its destination, crossed out.
      const stub = outcome !== "delivered" && outcome !== "in flight" && x1 - x0 < 6;
      const ex = stub ? x0 + 6 : x1;
      const ey = stub ? y0 + (y1 - y0) * 0.25 : y1;
      const [a, b, c, e] = clipSegment(x0, y0, ex, ey, L.left - 20, L.right + 20);
      if (a === null) continue;
      g.path.moveTo(a, b);
      g.path.lineTo(c, e);
      if (outcome === "delivered" && ex <= L.right + 20) arrowHead(g.path, x0, y0, ex, ey);
      else if (outcome !== "in flight") {
        drops.moveTo(ex - 3, ey - 3);
        drops.lineTo(ex + 3, ey + 3);
        drops.moveTo(ex + 3, ey - 3);
        drops.lineTo(ex - 3, ey + 3);
      }
      frame.arrows++;
      frame.hits.copies.push(i);
      segs.push(a, b, c, e);
    }
    for (const g of groups.values()) {
      ctx.strokeStyle = KIND_COLORS[model.filterKinds[g.kind]] || "#666";
      ctx.lineWidth = 1;
      ctx.setLineDash(g.dashed ? [4, 3] : g.open ? [1, 3] : []);
      ctx.stroke(g.path);
    }
    ctx.setLineDash([]);
    ctx.strokeStyle = DROP_COLOR;
    ctx.lineWidth = 1.5;
    ctx.stroke(drops);
  }
  const sel = view.selected ? view.selected.copy : -1;
  if (sel !== undefined && sel !== null && sel >= 0 && C.src[sel] >= 0 && C.dst[sel] >= 0) {
    const x0 = X(C.ts[sel]);
    const x1 = Math.max(X(C.te[sel]), x0 + 6);
    const y0 = rowOf(C.src[sel]).mid;
    const y1 = rowOf(C.dst[sel]).mid;
    const [a, b, c, e] = clipSegment(x0, y0, x1, y1, L.left - 20, L.right + 20);
    if (a !== null) {
      const p = new Path2D();
      p.moveTo(a, b);
      p.lineTo(c, e);
      arrowHead(p, x0, y0, x1, y1);
      ctx.strokeStyle = CURSOR_COLOR;
      ctx.lineWidth = 2.5;
      ctx.stroke(p);
    }
  }

  // Other faults (dotted) and violations (red), across every row.
  for (const [t, text] of model.timeline.faults) {
    if (t < t0 || t > t1) continue;
    const x = X(t);
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    ctx.moveTo(x, L.top);
    ctx.lineTo(x, L.height);
    ctx.stroke();
    ctx.setLineDash([]);
    strip.push([x, text, "#666"]);
  }
  for (const [t, text] of model.timeline.violations) {
    if (t < t0 || t > t1) continue;
    const x = X(t);
    ctx.strokeStyle = DROP_COLOR;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, L.top - 12);
    ctx.lineTo(x, L.height);
    ctx.stroke();
    strip.push([x, `violation: ${text}`, DROP_COLOR]);
  }

  // The cursor: the event the page is at.
  if (view.cursor !== undefined && view.cursor !== null) {
    const t = model.evT[view.cursor];
    if (t >= t0 && t <= t1) {
      const x = X(t);
      ctx.strokeStyle = CURSOR_COLOR;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, L.top - 4);
      ctx.lineTo(x, L.height);
      ctx.stroke();
    }
  }
  ctx.restore();

  // The axis, and the labels of faults in a strip above the rows (left to right, skipping any that would
  // overlap the one before).
  ctx.save();
  ctx.font = "10px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const step = niceStep(span, L.right - L.left, 90);
  ctx.strokeStyle = "#ddd";
  ctx.fillStyle = "#555";
  ctx.lineWidth = 1;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = Math.round(X(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, L.top - 4);
    ctx.lineTo(x, L.height);
    ctx.stroke();
    ctx.fillText(axisLabel(t, step), x + 3, 8);
  }
  strip.sort((a, b) => a[0] - b[0]);
  let free = L.left;
  for (const [x, text, color] of strip) {
    if (x < L.left - 40 || x > L.right) continue;
    const at = Math.max(x, free, L.left);
    const w = ctx.measureText(text).width;
    if (at + w > L.right + 10) continue;
    ctx.fillStyle = color;
    ctx.fillText(text, at, 22);
    free = at + w + 10;
  }
  if (frame.dense) {
    ctx.fillStyle = "#1f6fb2";
    const text = `${frame.messagesInView.toLocaleString("en")} messages in view: traffic shown as density; zoom in below ${maxArrows.toLocaleString("en")} to see each arrow`;
    ctx.fillText(text, L.left, L.height - 5);
  }
  ctx.restore();
  return frame;
}

// An image the size of part of the plot, painted a pixel column at a time and then drawn in one go.
function pixelLayer(width, top, height) {
  const image = new ImageData(width, Math.max(1, height));
  const px = image.data;
  return {
    column(x, y, h, rgb, alpha) {
      for (let k = Math.max(0, y); k < Math.min(height, y + h); k++) {
        const o = 4 * (k * width + x);
        px[o] = rgb[0];
        px[o + 1] = rgb[1];
        px[o + 2] = rgb[2];
        px[o + 3] = alpha === undefined ? 255 : alpha;
      }
    },
    drawTo(ctx, left) {
      const off = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(width, image.height) : null;
      const canvas = off || Object.assign(document.createElement("canvas"), { width, height: image.height });
      canvas.getContext("2d").putImageData(image, 0, 0);
      ctx.drawImage(canvas, left, top);
    },
  };
}

function arrowHead(path, x0, y0, x1, y1) {
  const a = Math.atan2(y1 - y0, x1 - x0);
  const s = 6;
  path.moveTo(x1, y1);
  path.lineTo(x1 - s * Math.cos(a - 0.4), y1 - s * Math.sin(a - 0.4));
  path.moveTo(x1, y1);
  path.lineTo(x1 - s * Math.cos(a + 0.4), y1 - s * Math.sin(a + 0.4));
}

// The part of a segment between two x's (canvas coordinates far outside the view lose precision), or nulls.
function clipSegment(x0, y0, x1, y1, lo, hi) {
  if ((x0 < lo && x1 < lo) || (x0 > hi && x1 > hi)) return [null, null, null, null];
  const dx = x1 - x0;
  if (dx === 0) return [x0, y0, x1, y1];
  const at = (x) => y0 + ((x - x0) * (y1 - y0)) / dx;
  let a = x0;
  let b = y0;
  let c = x1;
  let d = y1;
  if (a < lo) [a, b] = [lo, at(lo)];
  if (a > hi) [a, b] = [hi, at(hi)];
  if (c > hi) [c, d] = [hi, at(hi)];
  if (c < lo) [c, d] = [lo, at(lo)];
  return [a, b, c, d];
}

// Distance from a point to a segment, for clicks on arrows.
function segmentDistance(px, py, x0, y0, x1, y1) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len = dx * dx + dy * dy;
  const u = len ? Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len)) : 0;
  const x = x0 + u * dx - px;
  const y = y0 + u * dy - py;
  return Math.sqrt(x * x + y * y);
}
