"""Election timelines: one row per server against simulated time, drawn from a trace.

``plot_timeline(trace, "timeline.png")`` draws, for each server:

- its role as coloured bands (follower, pre-candidate, candidate, leader), the term written where it changes
  (every leader band carries its term: inside the band, or on a chip just above or below it when it is narrow);
- crashes (a red cross, then a dark band while the server is down) and restarts (a green triangle);
- the votes it granted (a purple mark at the top of its row, with the candidate's id when there is room);
- its commit index as a step line inside its row (0 at the bottom of the row, the highest index in view at the
  top);
- the one-way cuts it is one end of (a purple frame around its row, labelled "cut 1,2→3" where it starts);

and across all rows: partitions and isolations shaded from when they start until they are healed or replaced
(servers cut off from the largest group hatched), other injected faults (drop, delay, duplicate, drift) as
dotted lines, and a checker violation as a red line. Their labels sit in a strip above the rows, in lanes.

The x axis runs from the first record to the end of the run (the trace's end record, or the duration in its
header, or what the caller says, else the last record); ``start_ms``/``end_ms`` zoom in. Every label is laid
out in the image's pixels before it is drawn, at the first free place near its object, so that no two labels
overlap and none covers a marker or the violation line (``place_label``).

Long runs are summarised rather than smeared: a band narrower than a pixel is drawn one pixel wide, and when a
row has many such bands, each pixel column shows the most significant role the server had during it (leader
over candidate over pre-candidate over follower, and "down" over all); the commit line keeps one point per pixel
column, and votes are drawn only when few enough are in view to tell apart (their count is given in the legend
otherwise).

The input is a live ``sim.trace.Trace`` or the dicts of a JSON Lines trace (``sim.trace.read_jsonl``). The
function returns counts of what it drew and where its labels went, so tests can compare the picture with the
trace.

``raftsim plot TRACE.jsonl -o timeline.png [--from MS] [--to MS] [--title T]`` is the command-line form; its
title is the scenario and seed of the trace's header unless ``--title`` says otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import UsageError
from sim.trace import MESSAGE_KINDS, Trace, record_to_dict

ROLES = ("follower", "precandidate", "candidate", "leader")
DOWN = "down"
# Colour and drawing priority (a pixel column shows the highest-priority role seen in it).
COLORS = {
    "follower": "#dbe4ef",
    "precandidate": "#f7e08b",
    "candidate": "#f28e2b",
    "leader": "#2a9d8f",
    DOWN: "#3a3a3a",
}
PRIORITY = {"follower": 0, "precandidate": 1, "candidate": 2, "leader": 3, DOWN: 4}
NETWORK_ACTIONS = ("partition", "isolate", "cut", "repair", "heal")
OTHER_FAULT_ACTIONS = ("drop", "duplicate", "delay", "drift")
# The kinds a timeline needs; message traffic is skipped, which keeps reading a long trace fast.
KINDS = frozenset({"header", "boot", "crash", "state", "vote", "commit", "fault", "violation", "end"})
CUT_COLOR = "#9575cd"
CUT_LABEL_BG = "#c5b3e4"  # CUT_COLOR at the frame's alpha over white
MAX_VOTES_DRAWN = 150
# Bands narrower than a pixel are drawn one pixel wide; beyond this many in a row, the row is merged per pixel.
MAX_THIN_BANDS = 20
MAX_VOTE_LABELS = 60
# Lanes of fault labels above the rows; a label finding none free is left out (and counted in the legend).
MAX_STRIP_LANES = 4
LABEL_PAD = 2.0  # pixels kept free around every label (its background, when it has one)
PLOT_WIDTH_IN = 12.0
DPI = 130
ROW_IN = 0.64  # the height of a server's row
LEFT, RIGHT = 0.07, 0.80  # the plot area's edges, as fractions of the width (the legend is to its right)
BOTTOM_IN = 0.75  # below the rows: the time axis
TITLE_IN = 0.55  # above the rows and the strip of fault labels: the title


# ----------------------------------------------------------------------------------------------- input


def _events(trace: Trace | Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The records a timeline needs, as dicts, in trace order."""
    if isinstance(trace, Trace):
        for record in trace.records:
            if record[1] in KINDS:
                yield record_to_dict(record)
    else:
        for d in trace:
            if d.get("ev") in KINDS:
                yield d


def _last_time(trace: Trace | Sequence[dict[str, Any]]) -> int:
    """The time of a trace's last record, of any kind (a run's last record is often message traffic)."""
    if isinstance(trace, Trace):
        return int(trace.records[-1][0]) if trace.records else 0
    return int(trace[-1]["t"]) if trace else 0


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """The non-empty lines of a trace file with their line numbers; a missing or binary file is one line of
    ``UsageError``."""
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    yield lineno, line
    except OSError as e:
        raise UsageError(f"{path}: cannot read trace: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: expected a JSON Lines trace, got binary data") from None


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    """Read the timeline's records of a JSON Lines trace, skipping message traffic without parsing it (but the
    last record, whatever its kind, is kept: the run lasted at least until then).

    Raises ``UsageError`` (one line) when the file is missing or is not a trace."""
    out: list[dict[str, Any]] = []
    skip = tuple(f'"ev":"{k}"' for k in (*MESSAGE_KINDS, "apply", "request", "ack"))

    def parse(lineno: int, line: str) -> dict[str, Any]:
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{lineno}: expected a JSON trace record, got invalid JSON ({e.msg})") from None
        if not isinstance(d, dict) or "t" not in d or "ev" not in d:
            raise UsageError(f"{path}:{lineno}: expected a trace record with 't' and 'ev', got {line[:60]!r}")
        return d

    skipped: tuple[int, str] | None = None  # the last line read, if it was skipped
    for lineno, line in read_lines(path):
        if any(s in line for s in skip):
            skipped = (lineno, line)
            continue
        skipped = None
        out.append(parse(lineno, line))
    if skipped is not None:
        out.append(parse(*skipped))
    return out


# ------------------------------------------------------------------------------------- what happened


@dataclass
class _Band:
    start: int  # microseconds
    end: int
    role: str  # a role or DOWN
    term: int


@dataclass
class _Timeline:
    nodes: list[int]
    bands: dict[int, list[_Band]]
    commits: dict[int, list[tuple[int, int | None]]]  # (t, index) ; index None breaks the line (down)
    crashes: list[tuple[int, int]]  # (t, node)
    restarts: list[tuple[int, int]]
    votes: list[tuple[int, int, int, int]]  # (t, voter, candidate, term)
    network: list[tuple[int, int, str, list[int]]]  # partitions: (start, end, description, nodes cut off)
    cuts: list[tuple[int, int, int, int]]  # one-way cuts: (start, end, src, dst)
    other_faults: list[tuple[int, str]]
    violations: list[tuple[int, str]]
    header: dict[str, Any] | None  # the trace's header record, if it has one
    first: int
    end: int  # the end of the run (never before the last record)


def _describe_groups(groups: list[list[int]], nodes: list[int]) -> tuple[str, list[int]]:
    named = {n for g in groups for n in g}
    parts = [sorted(g) for g in groups if g]
    rest = [n for n in nodes if n not in named]
    if rest:
        parts.append(rest)
    largest = max(parts, key=len) if parts else []
    cut_off = sorted(n for g in parts if g is not largest for n in g)
    text = " | ".join("{" + ",".join(map(str, g)) + "}" for g in parts)
    return text, cut_off


def _build(events: Iterable[dict[str, Any]], run_end_us: int | None = None, last_us: int = 0) -> _Timeline:
    """What the records say happened. The run ends at ``run_end_us`` if given, else at the trace's end record,
    else at the end of the duration its header gives, else at its last record (``last_us``, the time of the
    last record of any kind; never before it); whatever is still going on then (a role, a partition, a cut)
    lasts until that end."""
    nodes: set[int] = set()
    bands: dict[int, list[_Band]] = {}
    commits: dict[int, list[tuple[int, int | None]]] = {}
    crashes: list[tuple[int, int]] = []
    restarts: list[tuple[int, int]] = []
    votes: list[tuple[int, int, int, int]] = []
    other_faults: list[tuple[int, str]] = []
    violations: list[tuple[int, str]] = []
    network: list[tuple[int, int, str, list[int]]] = []
    open_net: tuple[int, str, list[int]] | None = None
    groups: list[list[int]] | None = None
    off: set[int] = set()  # disconnected servers (``disconnect``): cut off whatever the partition
    cut_since: dict[tuple[int, int], int] = {}  # the cuts in force, in the order they were made
    cuts: list[tuple[int, int, int, int]] = []
    header: dict[str, Any] | None = None
    end_record: int | None = None
    booted: set[int] = set()
    first: int | None = None
    last = 0

    def current(n: int) -> _Band | None:
        b = bands.get(n)
        return b[-1] if b else None

    def switch(n: int, t: int, role: str, term: int) -> None:
        b = current(n)
        if b is not None:
            if b.role == role and b.term == term:
                return
            b.end = t
            if b.start == t:  # zero-length: replaced by what follows
                bands[n].pop()
        bands.setdefault(n, []).append(_Band(t, t, role, term))

    def partition_changed(t: int) -> None:
        nonlocal open_net
        state = None
        if groups is not None:
            text, cut_off = _describe_groups(groups, sorted(nodes))
            state = (f"partition {text}", cut_off)
        if off:
            shown = "disconnected " + ",".join(map(str, sorted(off)))
            state = (f"{state[0]}; {shown}", sorted(set(state[1]) | off)) if state else (shown, sorted(off))
        if open_net is not None:
            if state is not None and state == (open_net[1], open_net[2]):
                return
            if open_net[0] != t:  # a state that lasted no time (two changes at once) is not drawn
                network.append((open_net[0], t, open_net[1], open_net[2]))
            open_net = None
        if state is not None:
            open_net = (t, state[0], state[1])

    def uncut(link: tuple[int, int], t: int) -> None:
        start = cut_since.pop(link, None)
        if start is not None:
            cuts.append((start, t, *link))

    for d in events:
        t = int(d["t"])
        if first is None:
            first = t
        last = max(last, t)
        kind = d["ev"]
        node = d.get("node")
        if kind == "boot":
            nodes.add(node)
            if node in booted:
                restarts.append((t, node))
            booted.add(node)
            switch(node, t, "follower", int(d.get("term", 0)))
            commits.setdefault(node, []).append((t, 0))
        elif kind == "crash":
            nodes.add(node)
            crashes.append((t, node))
            b = current(node)
            switch(node, t, DOWN, b.term if b else 0)
            commits.setdefault(node, []).append((t, None))
        elif kind == "state":
            nodes.add(node)
            switch(node, t, d["role"], int(d["term"]))
        elif kind == "vote":
            votes.append((t, node, d.get("candidate"), int(d.get("term", 0))))
        elif kind == "commit":
            commits.setdefault(node, []).append((t, int(d["index"])))
        elif kind == "violation":
            violations.append((t, str(d.get("property", "violation"))))
        elif kind == "header":
            header = d
        elif kind == "end":
            end_record = t
        elif kind == "fault":
            action = d.get("action")
            if action == "partition":
                groups = [list(g) for g in d.get("groups", [])]
                if not any(groups):
                    groups = None
                partition_changed(t)
            elif action == "isolate":
                groups = [[n] for n in d.get("nodes", [])]
                partition_changed(t)
            elif action == "cut":
                cut_since.setdefault((d["src"], d["dst"]), t)
            elif action == "repair":
                uncut((d["src"], d["dst"]), t)
            elif action in ("disconnect", "reconnect"):
                for n in d.get("nodes", []):
                    (off.add if action == "disconnect" else off.discard)(n)
                partition_changed(t)
            elif action == "heal":
                groups = None
                off.clear()
                partition_changed(t)
                for link in list(cut_since):
                    uncut(link, t)
            elif action in OTHER_FAULT_ACTIONS:
                value = d.get("value")
                if isinstance(value, dict):
                    value = ",".join(f"{k}={v}" for k, v in value.items())
                who = d.get("nodes") or ([f"{d['src']}\u2192{d['dst']}"] if d.get("src") is not None else [])
                label = f"{action} {value}" + (f" ({','.join(map(str, who))})" if who else "")
                other_faults.append((t, label))
    first = first or 0
    if run_end_us is not None:
        end = run_end_us
    elif end_record is not None:
        end = end_record
    else:
        config = header.get("config") if header else None
        duration = config.get("duration_us") if isinstance(config, dict) else None
        end = int(duration) if isinstance(duration, int | float) else last
    end = max(end, last, last_us)
    for bs in bands.values():
        if bs:
            bs[-1].end = end
    if open_net is not None:
        network.append((open_net[0], end, open_net[1], open_net[2]))
    for link in list(cut_since):
        uncut(link, end)
    return _Timeline(
        nodes=sorted(n for n in nodes if isinstance(n, int)),
        bands=bands,
        commits=commits,
        crashes=crashes,
        restarts=restarts,
        votes=votes,
        network=network,
        cuts=sorted(cuts),
        other_faults=other_faults,
        violations=violations,
        header=header,
        first=first,
        end=end,
    )


# ---------------------------------------------------------------------------------------- summarising


def _clip_bands(bands: list[_Band], lo: int, hi: int) -> list[_Band]:
    out = []
    for b in bands:
        s, e = max(b.start, lo), min(b.end, hi)
        if e > s or (e == s and b.start == b.end and lo <= s <= hi):
            out.append(_Band(s, e, b.role, b.term))
    return out


def _pixel_bands(bands: list[_Band], lo: int, res: float, columns: int) -> list[_Band]:
    """Bands merged at pixel resolution: each column shows the highest-priority role it saw."""
    best: list[tuple[int, str, int] | None] = [None] * columns
    for b in bands:
        c0 = min(columns - 1, max(0, int((b.start - lo) / res)))
        c1 = min(columns - 1, max(c0, int((b.end - lo) / res - 1e-9)))
        p = PRIORITY[b.role]
        for c in range(c0, c1 + 1):
            cur = best[c]
            if cur is None or p > cur[0]:
                best[c] = (p, b.role, b.term)
    out: list[_Band] = []
    for c, cell in enumerate(best):
        if cell is None:
            continue
        _, role, term = cell
        s = int(lo + c * res)
        e = int(lo + (c + 1) * res)
        if out and out[-1].role == role and out[-1].end >= s - 1:
            out[-1].end = e
            out[-1].term = max(out[-1].term, term)
        else:
            out.append(_Band(s, e, role, term))
    return out


def _thin_steps(points: list[tuple[int, int | None]], lo: int, hi: int, res: float) -> list[tuple[int, float]]:
    """A step line's points within [lo, hi], at most a few per pixel column (the last value of each column wins,
    gaps (None: server down) are kept as NaN breaks)."""
    nan = float("nan")
    isnan = math.isnan
    out: list[tuple[int, float]] = []
    prev: float | None = None
    last_col = -1
    for t, v in points:
        value = nan if v is None else float(v)
        if t < lo:
            prev = value
            continue
        if t > hi:
            break
        if not out and prev is not None:
            out.append((lo, prev))
        col = int((t - lo) / res)
        if col == last_col and out and not isnan(value) and not isnan(out[-1][1]):
            out[-1] = (out[-1][0], value)  # same pixel column: keep the latest value only
        else:
            out.append((t, value))
        last_col = col
    if not out and prev is not None:
        out.append((lo, prev))
    if out:
        out.append((hi, out[-1][1]))
    return out


# --------------------------------------------------------------------------------------- label layout

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in pixels, y upwards (matplotlib's display space)


def overlaps(a: Box, b: Box) -> bool:
    """Whether two boxes share more than an edge."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class Occupancy:
    """The boxes already taken (labels, and the markers and lines that labels must not cover), kept in buckets
    of x so that testing a box looks at its neighbours only: a long run has thousands of labels."""

    BUCKET = 64.0

    def __init__(self) -> None:
        self._buckets: dict[int, list[Box]] = {}

    def _keys(self, box: Box) -> range:
        return range(int(box[0] // self.BUCKET), int(box[2] // self.BUCKET) + 1)

    def free(self, box: Box) -> bool:
        return not any(overlaps(box, other) for k in self._keys(box) for other in self._buckets.get(k, ()))

    def add(self, box: Box) -> None:
        for k in self._keys(box):
            self._buckets.setdefault(k, []).append(box)


def place_label(taken: Occupancy, candidates: Iterable[Box], bounds: Box) -> Box | None:
    """The first candidate box that lies within ``bounds`` and overlaps nothing taken (it is then taken), or
    None. Candidates come in order of preference, so the caller decides what "near its object" means."""
    for box in candidates:
        if _within(box, bounds) and taken.free(box):
            taken.add(box)
            return box
    return None


def _within(box: Box, bounds: Box) -> bool:
    return bounds[0] <= box[0] and box[2] <= bounds[2] and bounds[1] <= box[1] and box[3] <= bounds[3]


def _at(x0: float, y0: float, size: tuple[float, float]) -> Box:
    return (x0, y0, x0 + size[0], y0 + size[1])


def _ending_at(x1: float, y0: float, size: tuple[float, float]) -> Box:
    return (x1 - size[0], y0, x1, y0 + size[1])


@dataclass(frozen=True)
class _Geometry:
    """Where the plot lands in the image, in pixels from its bottom-left corner (matplotlib's display space at
    ``DPI``), worked out from the figure's layout so that labels can be laid out before they are drawn."""

    lo: int  # the window, microseconds
    span: int
    scale: float  # microseconds per unit of the x axis
    x0: float  # the plot area, pixels
    x1: float
    y0: float
    y1: float
    ymin: float  # the rows' data limits
    ymax: float

    def px(self, t: float) -> float:
        return self.x0 + (t - self.lo) / self.span * (self.x1 - self.x0)

    def py(self, y: float) -> float:
        return self.y0 + (y - self.ymin) / (self.ymax - self.ymin) * (self.y1 - self.y0)

    def data(self, x: float, y: float) -> tuple[float, float]:
        return (
            (x - self.x0) / (self.x1 - self.x0) * self.span / self.scale,
            self.ymin + (y - self.y0) / (self.y1 - self.y0) * (self.ymax - self.ymin),
        )


# ------------------------------------------------------------------------------------------- drawing


def _time_unit(span_us: float) -> tuple[float, str]:
    if span_us < 5_000_000:
        return 1_000.0, "ms"
    if span_us < 600_000_000:
        return 1_000_000.0, "s"
    return 60_000_000.0, "min"


def _header_title(header: dict[str, Any] | None) -> str | None:
    """The title "<scenario> (seed N)" from a trace's header, or None without one."""
    if not header:
        return None
    name = header.get("scenario") or header.get("source")
    seed = header.get("seed")
    if not name:
        return None
    if seed is None or f"seed {seed}" in str(name):
        return str(name)
    return f"{name} (seed {seed})"


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _cut_text(links: list[tuple[int, int]]) -> str:
    """The label of the links cut at one moment, grouped by the server that stops hearing: "cut 1,2,4,5→3"."""
    by_dst: dict[int, list[int]] = {}
    for src, dst in sorted(links, key=lambda link: (link[1], link[0])):
        by_dst.setdefault(dst, []).append(src)
    return "cut " + ", ".join(f"{','.join(map(str, srcs))}\u2192{dst}" for dst, srcs in by_dst.items())


def plot_timeline(
    trace: Trace | Sequence[dict[str, Any]],
    out: str | Path,
    *,
    start_ms: float | None = None,
    end_ms: float | None = None,
    title: str | None = None,
    run_end_us: int | None = None,
) -> dict[str, Any]:
    """Draw the election timeline of ``trace`` to ``out`` (PNG or SVG by extension); return what was drawn.

    The x axis runs to the end of the run (or of the ``start_ms``/``end_ms`` window): ``run_end_us`` if given
    (for traces without an end record, such as a live ``Trace``), else the trace's end record, else the end of
    the duration in its header, else its last record. The title is ``title``, else the scenario and seed of the
    trace's header, else a description of the run.

    The returned dict counts the drawn items: ``nodes``, ``leader_bands``, ``leader_labels`` (leader bands
    carrying their term), ``role_bands``, ``crash_markers``, ``restart_markers``, ``partitions`` (shaded
    partition intervals), ``cuts`` (one-way cuts in view) and ``cut_rows`` (the servers whose rows show a cut),
    ``votes`` (drawn), ``votes_in_view`` and ``vote_labels``, ``term_labels``, ``commit_points``,
    ``fault_lines``, ``violations``, ``strip_labels_omitted`` (fault labels with no room above the rows),
    ``summarised`` (bands merged to pixel resolution), ``artists`` (everything drawn), ``events_in_view``
    (trace records in view), the window ``start_ms``/``end_ms``, the x axis's limits ``x_axis_ms``, the
    ``title``; and the layout, in pixels of the image from its bottom-left corner: ``rows`` (each server's
    bottom and top), ``labels`` (kind, text, box; kind is one of violation, fault, leader, cut, term, vote) and
    ``marks`` (boxes of the markers and lines that labels keep clear of)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{out}: expected a .png or .svg file name")
    tl = _build(_events(trace), run_end_us, _last_time(trace))
    if not tl.nodes:
        raise ValueError("the trace has no server records (boot/state): nothing to plot")
    lo = int(start_ms * 1000) if start_ms is not None else tl.first
    hi = int(end_ms * 1000) if end_ms is not None else tl.end
    if hi <= lo:
        if start_ms is None and end_ms is None:
            hi = lo + 1_000  # a trace of a single instant
        else:
            raise ValueError(f"empty time window: from {lo / 1000:g} ms to {hi / 1000:g} ms")
    span = hi - lo
    scale, unit = _time_unit(span)
    n = len(tl.nodes)
    row_of = {node: n - 1 - k for k, node in enumerate(tl.nodes)}  # node 1 at the top
    # Row k spans [k, k + 1]: its bands fill [k + 0.15, k + 0.85]; the gaps between bands hold votes and labels.
    ymin, ymax = -0.05, n + 0.15
    axes_h_in = ROW_IN * (ymax - ymin)
    width_px = PLOT_WIDTH_IN * DPI
    geom = _Geometry(
        lo, span, scale, LEFT * width_px, RIGHT * width_px, BOTTOM_IN * DPI, (BOTTOM_IN + axes_h_in) * DPI, ymin, ymax
    )
    columns = max(200, int(geom.x1 - geom.x0))  # pixel columns of the plot area
    res = span / columns
    min_w = span / columns / scale  # one pixel, in x-axis units
    x = lambda t: (t - lo) / scale  # noqa: E731

    fig = plt.figure(figsize=(PLOT_WIDTH_IN, BOTTOM_IN + axes_h_in + TITLE_IN), dpi=DPI)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    scratch = fig.text(0, 0, "")
    sizes: dict[tuple[str, float, str], tuple[float, float]] = {}

    def size_of(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
        """A label's box: its text's extent (as matplotlib lays it out) and LABEL_PAD around it."""
        key = (text, fontsize, weight)
        if key not in sizes:
            scratch.set_text(text)
            scratch.set_fontsize(fontsize)
            scratch.set_fontweight(weight)
            bb = scratch.get_window_extent(renderer)
            sizes[key] = (bb.width + 2 * LABEL_PAD, bb.height + 2 * LABEL_PAD)
        return sizes[key]

    counts: dict[str, Any] = {
        "nodes": n,
        "leader_bands": 0,
        "leader_labels": 0,
        "role_bands": 0,
        "crash_markers": 0,
        "restart_markers": 0,
        "partitions": 0,
        "cuts": 0,
        "cut_rows": [],
        "votes": 0,
        "votes_in_view": 0,
        "vote_labels": 0,
        "term_labels": 0,
        "commit_points": 0,
        "fault_lines": 0,
        "violations": 0,
        "strip_labels_omitted": 0,
        "summarised": False,
        "artists": 0,
        "events_in_view": 0,
        "start_ms": lo / 1000,
        "end_ms": hi / 1000,
        "x_axis_ms": (lo / 1000, hi / 1000),
        "title": title,
        "rows": {node: (geom.py(row_of[node]), geom.py(row_of[node] + 1)) for node in tl.nodes},
        "labels": [],
        "marks": [],
    }
    artists = 0
    taken = Occupancy()
    # Labels laid out, drawn once all are: (kind, text, box, font size, colour, font weight, background or None).
    placed: list[tuple[str, str, Box, float, str, str, str | None]] = []

    def mark(box: Box) -> None:
        taken.add(box)
        counts["marks"].append(box)

    # The strip above the rows: violations, partitions and other faults (those of one instant in one label),
    # each label at its time in the lowest lane with room, and joined to the rows by a stem (a violation's label
    # ends at its red line, which reaches up to it).
    violations = [(t, prop) for t, prop in tl.violations if lo <= t <= hi]
    net = [(s, e, text, cut) for s, e, text, cut in tl.network if e >= lo and s <= hi and (e > s or s >= lo)]
    others = [(t, text) for t, text in tl.other_faults if lo <= t <= hi]
    others_at: dict[int, list[str]] = {}
    for t, text in others:
        others_at.setdefault(t, []).append(text)
    # Violations first (their labels next to their lines), then the rest from left to right, which packs
    # left-aligned labels into as few lanes as can hold them.
    items = [("violation", t, f"violation: {prop}", "#d62828", 8) for t, prop in violations]
    rest = [("partition", max(s, lo), text, "#4a148c", 7) for s, _, text, _ in net]
    rest += [("fault", t, "; ".join(texts), "#333333", 7) for t, texts in others_at.items()]
    items += sorted(rest, key=lambda item: item[1])
    lane = size_of("Tg", 8)[1]
    lanes = [geom.y1 + 2 + k * lane for k in range(MAX_STRIP_LANES)]  # their bottoms
    strip_bounds: Box = (2.0, geom.y1, width_px - 2, lanes[-1] + lane)
    stems: list[tuple[str, int, float, str]] = []  # kind, time, top (pixels), colour
    for kind, t, text, colour, fontsize in items:
        size = size_of(text, fontsize)
        sx = geom.px(t)
        if kind == "violation":
            boxes = [c for y0 in lanes for c in (_ending_at(sx - 3, y0, size), _at(sx + 3, y0, size))]
            cands = [(c, (sx - 3, geom.y1, sx + 3, c[3])) for c in boxes]
        else:
            boxes = [_at(sx, y0, size) for y0 in lanes] + [_ending_at(sx, y0, size) for y0 in lanes]
            # With a stem where one can reach the label, else without (a label of a lower lane is in the way).
            cands = [(c, (sx - 1, geom.y1, sx + 1, c[1])) for c in boxes] + [(c, None) for c in boxes]
        found = next(
            (
                c
                for c in cands
                if _within(c[0], strip_bounds) and taken.free(c[0]) and (c[1] is None or taken.free(c[1]))
            ),
            None,
        )
        if found is None:
            counts["strip_labels_omitted"] += 1
            continue
        box, stem = found
        taken.add(box)
        placed.append(("violation" if kind == "violation" else "fault", text, box, fontsize, colour, "normal", None))
        if stem is not None:
            mark(stem)
            stems.append((kind, t, stem[3], colour))
    strip_h = max((box[3] - geom.y1 for _, _, box, *_ in placed), default=0.0)

    # Now the figure's height is known: the rows, the strip of labels above them, the title above that.
    fig_h = BOTTOM_IN + axes_h_in + TITLE_IN + strip_h / DPI
    fig.set_size_inches(PLOT_WIDTH_IN, fig_h)
    ax = fig.add_axes((LEFT, BOTTOM_IN / fig_h, RIGHT - LEFT, axes_h_in / fig_h))
    ax.set_xlim(0, span / scale)
    ax.set_ylim(ymin, ymax)

    # Partitions: shaded across all rows; servers cut off from the largest group hatched.
    for s, e, _, cut_off in net:
        s, e = max(s, lo), min(e, hi)
        e = max(e, s + res)
        ax.axvspan(x(s), x(e), color="#b39ddb", alpha=0.22, lw=0, zorder=0)
        for node in cut_off:
            if node in row_of:
                y = row_of[node]
                ax.add_patch(
                    Rectangle(
                        (x(s), y + 0.15), x(e) - x(s), 0.7, fill=False, hatch="\\\\", ec="#7e57c2", lw=0, zorder=3
                    )
                )
                artists += 1
        artists += 1
    counts["partitions"] = len(net)

    # One-way cuts: a frame around the bands of the two servers concerned only.
    cut_links = [(max(s, lo), min(e, hi), a, b) for s, e, a, b in tl.cuts if e >= lo and s <= hi]
    cut_links = [c for c in cut_links if c[2] in row_of and c[3] in row_of]
    per_row: dict[int, list[tuple[int, int]]] = {}
    cut_starts: dict[tuple[int, int], list[tuple[int, int, int]]] = {}  # (start, node): [(src, dst, end)]
    for s, e, a, b in cut_links:
        for node in (a, b):
            per_row.setdefault(node, []).append((s, e))
            cut_starts.setdefault((s, node), []).append((a, b, e))
    for node, spans in sorted(per_row.items()):
        segs = [(x(s), max(x(e) - x(s), min_w)) for s, e in _union(spans)]
        ax.broken_barh(segs, (row_of[node] + 0.05, 0.9), facecolors=CUT_COLOR, alpha=0.55, edgecolor="none", zorder=0)
        artists += 1
    counts["cuts"] = len(cut_links)
    counts["cut_rows"] = sorted(per_row)

    # Role bands (a band ending at the window's end keeps its pixel inside the window).
    any_summarised = False
    row_bands: dict[int, list[_Band]] = {}
    for node in tl.nodes:
        y = row_of[node]
        bands = _clip_bands(tl.bands.get(node, []), lo, hi)
        if sum(1 for b in bands if b.end - b.start < res) > MAX_THIN_BANDS:
            bands = _pixel_bands(bands, lo, res, columns)
            any_summarised = True
        row_bands[node] = bands
        by_role: dict[str, list[tuple[float, float]]] = {}
        for b in bands:
            w = max(x(b.end) - x(b.start), min_w)
            by_role.setdefault(b.role, []).append((min(x(b.start), span / scale - w), w))
        for role, segs in by_role.items():
            kw: dict[str, Any] = {"facecolors": COLORS[role], "edgecolor": "none", "zorder": 1}
            if role == DOWN:
                kw.update(hatch="////", edgecolor="#777777", linewidth=0)
            ax.broken_barh(segs, (y + 0.15, 0.7), **kw)
            artists += 1
        counts["role_bands"] += len(bands)
        counts["leader_bands"] += sum(1 for b in bands if b.role == "leader")

    # Commit index: a step line inside each row, on a scale shared by all rows and fitted to the window (a
    # restarted server's commit index starts again from 0, drawn as a drop).
    lines = {node: _thin_steps(tl.commits.get(node, []), lo, hi, res) for node in tl.nodes}
    values = [v for pts in lines.values() for _, v in pts if not math.isnan(v)]
    min_commit = int(min(values, default=0))
    max_commit = int(max(values, default=0))
    if min_commit > 0 and any(v == 0 for v in values):
        min_commit = 0
    commit_span = max(1, max_commit - min_commit)
    for node, pts in lines.items():
        if not pts:
            continue
        y = row_of[node]
        xs = [x(t) for t, _ in pts]
        ys = [y + 0.2 + 0.6 * (v - min_commit) / commit_span for _, v in pts]
        ax.step(xs, ys, where="post", color="#1d3557", lw=1.1, zorder=4)
        counts["commit_points"] += len(pts)
        artists += 1

    # Markers, and the lines across all rows; what labels must keep clear of is marked.
    for t, node in tl.crashes:
        if lo <= t <= hi and node in row_of:
            ax.plot(x(t), row_of[node] + 0.5, marker="X", ms=9, color="#d62828", mec="white", mew=0.8, zorder=7)
            cx, cy = geom.px(t), geom.py(row_of[node] + 0.5)
            mark((cx - 7, cy - 7, cx + 7, cy + 7))  # the X's extent, a little less than its 9-point size
            counts["crash_markers"] += 1
            artists += 1
    for t, node in tl.restarts:
        if lo <= t <= hi and node in row_of:
            ax.plot(x(t), row_of[node] + 0.5, marker="^", ms=8, color="#2b9348", mec="white", mew=0.8, zorder=7)
            cx, cy = geom.px(t), geom.py(row_of[node] + 0.5)
            mark((cx - 7, cy - 7, cx + 7, cy + 7))
            counts["restart_markers"] += 1
            artists += 1
    in_view = [v for v in tl.votes if lo <= v[0] <= hi and v[1] in row_of]
    counts["votes_in_view"] = len(in_view)
    if in_view and len(in_view) <= MAX_VOTES_DRAWN:
        vx = [x(t) for t, _, _, _ in in_view]
        vy = [row_of[voter] + 0.87 for _, voter, _, _ in in_view]
        ax.scatter(vx, vy, marker="v", s=22, color="#6a4c93", zorder=8, linewidths=0)
        for t, voter, _, _ in in_view:
            cx, cy = geom.px(t), geom.py(row_of[voter] + 0.87)
            mark((cx - 4.5, cy - 4.5, cx + 4.5, cy + 4.5))
        artists += 1
        counts["votes"] = len(in_view)
    for t, _ in others:
        ax.axvline(x(t), color="#555555", ls=":", lw=1, zorder=5)
        artists += 1
    counts["fault_lines"] = len(others)
    for t, _ in violations:
        vx = geom.px(t)
        ax.axvline(x(t), color="#d62828", lw=2, zorder=9, clip_on=False)
        mark((vx - 3, geom.y0, vx + 3, geom.y1))
        counts["violations"] += 1
        artists += 1
    stem_style: dict[str, dict[str, Any]] = {
        "violation": {"lw": 2, "zorder": 9},
        "partition": {"lw": 0.8},
        "fault": {"lw": 1, "ls": ":"},
    }
    for kind, t, top, colour in stems:  # from the top of the rows up to the label
        ax.plot([x(t), x(t)], [ymax, geom.data(0, top)[1]], color=colour, clip_on=False, **stem_style[kind])
        artists += 1

    # Labels in the rows, most important first, each at the first place near its object that is free: the term
    # of every leader band (inside it, or as a chip just above or below it when it is too narrow), the one-way
    # cuts, the term of the other runs of bands of one term (inside, where there is room), the votes.
    bounds: Box = (geom.x0, geom.y0, geom.x1, geom.y1)

    def band_box(node: int, b: _Band) -> tuple[float, float, float, float]:
        y = row_of[node]
        bx0 = geom.px(b.start)
        bx1 = max(geom.px(b.end), bx0 + 1)
        if bx1 > geom.x1:  # drawn ending at the window's end
            bx0, bx1 = geom.x1 - (bx1 - bx0), geom.x1
        return bx0, geom.py(y + 0.15), bx1, geom.py(y + 0.85)

    def inside(box: tuple[float, float, float, float], size: tuple[float, float], tries: int) -> Iterator[Box]:
        bx0, bottom, bx1, top = box
        mid = (bottom + top - size[1]) / 2
        for k in range(tries):
            x0 = bx0 + 2 + k * (size[0] + 2)
            if x0 + size[0] > bx1 - 2:
                return
            yield _at(x0, mid, size)

    def near(box: tuple[float, float, float, float], size: tuple[float, float]) -> Iterator[Box]:
        """Just above or below a band, as close to its start or end as is free, else beside it."""
        bx0, bottom, bx1, top = box
        w, h = size
        for shift in range(0, int(2 * w) + 1, 4):
            for y0 in (top + 1, bottom - 1 - h):
                yield _at(bx0 + shift, y0, size)
                yield _ending_at(bx1 - shift, y0, size)
        mid = (bottom + top - h) / 2
        yield _at(bx1 + 2, mid, size)
        yield _ending_at(bx0 - 2, mid, size)

    for node in tl.nodes:
        for b in row_bands[node]:
            if b.role == "leader":
                text = f"T{b.term}"
                size = size_of(text, 7, "bold")
                bb = band_box(node, b)
                found = place_label(taken, [*inside(bb, size, 8), *near(bb, size)], bounds)
                if found is not None:
                    placed.append(("leader", text, found, 7, "white", "bold", COLORS["leader"]))
                    counts["leader_labels"] += 1
    for (s, node), links in sorted(cut_starts.items()):
        text = _cut_text([(a, b) for a, b, _ in links])
        size = size_of(text, 6.5)
        bx0, bottom, _, top = band_box(node, _Band(s, s, "follower", 0))
        ex = geom.px(max(e for _, _, e in links))
        # Inside the frame, at the bottom of the band (clear of a term label, which is centred), else just
        # above or below the band.
        cands = [_at(bx0 + 2 + k * size[0] / 2, bottom + 1, size) for k in range(6)]
        cands = [c for c in cands if c[2] <= max(ex, bx0 + size[0] + 2)]
        cands += [_at(bx0 + 2, top + 1, size), _at(bx0 + 2, bottom - 1 - size[1], size)]
        found = place_label(taken, cands, bounds)
        if found is not None:
            placed.append(("cut", text, found, 6.5, "#4a148c", "normal", CUT_LABEL_BG))
    for node in tl.nodes:
        bands = row_bands[node]
        k = 0
        while k < len(bands):
            j = k
            while j + 1 < len(bands) and bands[j + 1].term == bands[k].term:
                j += 1
            run = bands[k : j + 1]
            if not any(b.role == "leader" for b in run):
                text = f"T{run[0].term}"
                size = size_of(text, 7)
                for b in run:
                    if b.role == DOWN:
                        continue
                    found = place_label(taken, inside(band_box(node, b), size, 4), bounds)
                    if found is not None:
                        placed.append(("term", text, found, 7, "#333333", "normal", COLORS[b.role]))
                        break
            k = j + 1
    if counts["votes"] and len(in_view) <= MAX_VOTE_LABELS:
        for t, voter, cand, _ in in_view:
            text = f"\u2192{cand}"
            size = size_of(text, 6)
            vx, top = geom.px(t), geom.py(row_of[voter] + 0.85)
            found = place_label(taken, [_at(vx + 5, top + 0.5, size), _ending_at(vx - 5, top + 0.5, size)], bounds)
            if found is not None:
                placed.append(("vote", text, found, 6, "#6a4c93", "normal", None))
                counts["vote_labels"] += 1

    for kind, text, box, fontsize, colour, weight, background in placed:
        tx, ty = geom.data(box[0] + LABEL_PAD, box[1] + LABEL_PAD)
        kw: dict[str, Any] = {}
        if background is not None:
            pad = LABEL_PAD * 72 / DPI / fontsize  # in units of the font size, as matplotlib wants it
            kw["bbox"] = {"boxstyle": f"square,pad={pad}", "fc": background, "ec": "none"}
        z = 8 if kind == "vote" else 6
        ax.text(
            tx, ty, text, fontsize=fontsize, color=colour, fontweight=weight, ha="left", va="bottom", zorder=z, **kw
        )
        counts["labels"].append((kind, text, box))
        artists += 1
    counts["term_labels"] = sum(1 for kind, *_ in placed if kind in ("leader", "term"))
    scratch.remove()

    # Axes, legend, title.
    ax.set_yticks([row_of[node] + 0.5 for node in tl.nodes], [f"server {node}" for node in tl.nodes])
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.grid(True, axis="x", alpha=0.25, zorder=0)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    if lo:
        ticks = [t for t in ax.get_xticks() if 0 <= t <= span / scale]
        ax.set_xticks(ticks, [f"{(t * scale + lo) / scale:g}" for t in ticks])
        ax.set_xlim(0, span / scale)
    handles: list[Any] = [Patch(facecolor=COLORS[r], label=r) for r in ROLES]
    handles.append(Patch(facecolor=COLORS[DOWN], hatch="////", edgecolor="#777777", label="crashed (down)"))
    handles.append(Line2D([], [], marker="X", ls="", color="#d62828", ms=8, label="crash"))
    handles.append(Line2D([], [], marker="^", ls="", color="#2b9348", ms=7, label="restart"))
    if counts["votes"]:
        handles.append(Line2D([], [], marker="v", ls="", color="#6a4c93", ms=6, label="vote granted (\u2192candidate)"))
    elif in_view:
        handles.append(Patch(color="none", label=f"{len(in_view)} votes granted\n(zoom in to see them)"))
    handles.append(
        Line2D([], [], color="#1d3557", lw=1.2, label=f"commit index\n({min_commit} to {max_commit} within a row)")
    )
    handles.append(Patch(facecolor="#b39ddb", alpha=0.4, label="partition"))
    handles.append(Patch(facecolor="white", hatch="\\\\", edgecolor="#7e57c2", label="cut off from the\nlargest group"))
    if cut_links:
        handles.append(Patch(facecolor=CUT_COLOR, alpha=0.55, label="one-way cut\n(frames its two rows)"))
    if any_summarised:
        handles.append(Patch(color="none", label="(bands merged to\npixel resolution)"))
    unlabelled = counts["leader_bands"] - counts["leader_labels"]
    if unlabelled:
        handles.append(Patch(color="none", label=f"({unlabelled} leader terms without\nroom for a label)"))
    if counts["strip_labels_omitted"]:
        handles.append(Patch(color="none", label=f"({counts['strip_labels_omitted']} fault labels\nwithout room)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if title is None:
        title = _header_title(tl.header) or f"raftsim election timeline: {n} servers, {span / scale:.4g} {unit}"
    ax.set_title(title, fontsize=11, pad=(strip_h + 10) * 72 / DPI)

    left, right = ax.get_xlim()
    counts["x_axis_ms"] = (float(lo + left * scale) / 1000, float(lo + right * scale) / 1000)
    counts["title"] = title
    counts["summarised"] = any_summarised
    counts["artists"] = artists
    counts["events_in_view"] = sum(
        1 for d in _events(trace) if lo <= int(d["t"]) <= hi and d["ev"] in ("state", "commit", "vote", "crash")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lower().lstrip("."))
    plt.close(fig)
    return counts
