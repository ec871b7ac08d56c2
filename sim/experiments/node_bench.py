"""``raftsim bench --nodes``: the default fuzz campaign's speed with each node implementation (the built-in node,
the Python example in process, the JavaScript example through the process adapter, and any named with ``--node``
or ``--node-cmd``), and what the process adapter costs per input.

Wall-clock time, because a process-backed node spends most of its time in another process (and waiting for it),
which the simulator's CPU time does not see. The machine's speed drifts, so the implementations run interleaved:
the seeds go in chunks, each chunk run by every implementation in turn, and each implementation's time is the sum
over its chunks.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from sim.fuzz.campaign import Options, run_campaign
from sim.nodes.process import ProcessNode
from sim.raft.node import RaftConfig

EXAMPLES = (
    ("built-in sim.raft.Node", None, None),
    ("examples/figure2.py (--node)", "examples.figure2:Figure2Node", None),
    ("examples/raft.js (--node-cmd)", None, "node examples/raft.js"),
)
CHUNK = 5  # seeds per implementation per turn

# The cheapest node there is: it answers every input with nothing to do (its boot with version 1).
_ECHO_JS = (
    "const rl=require('readline').createInterface({input:process.stdin});let n=0;"
    "rl.on('line',()=>{process.stdout.write(n++?'{}\\n':'{\"version\":1}\\n')})"
)


def round_trip_us(argv: tuple[str, ...], inputs: int = 2_000) -> tuple[float, float]:
    """Per input fed to a node process that does nothing: microseconds of wall-clock time (the adapter's whole
    cost: encoding, two pipe transfers, two context switches, decoding) and of the simulator's own CPU time (the
    part the adapter itself spends, whatever the machine's load)."""
    node = ProcessNode(argv, 1, (1, 2, 3), RaftConfig(), random.Random(0))
    try:
        node.start(0)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(inputs):
            node.tick("heartbeat", i)
        return (time.perf_counter() - t0) / inputs * 1e6, (time.process_time() - c0) / inputs * 1e6
    finally:
        node.close()


def measure_nodes(seeds: int = 30, extra: tuple[tuple[str, str | None, str | None], ...] = ()) -> dict[str, Any]:
    """Seeds per second of the default campaign (seeds 0..``seeds``-1, one worker) for each implementation, its
    wall-clock microseconds per simulated event, and the adapter's cost per input."""
    impls = [*EXAMPLES, *extra]
    wall = [0.0] * len(impls)
    events = [0] * len(impls)
    failures = [0] * len(impls)
    for start in range(0, seeds, CHUNK):
        chunk = range(start, min(seeds, start + CHUNK))
        for k, (_, spec, command) in enumerate(impls):
            t0 = time.perf_counter()  # wall clock: only to report the speed
            camp = run_campaign(chunk, Options(node=spec, node_cmd=command), workers=1)
            wall[k] += time.perf_counter() - t0
            events[k] += sum(o.events for o in camp.outcomes)
            failures[k] += len(camp.failures)
    rows = [
        {
            "implementation": name,
            "seeds": seeds,
            "wall_s": round(wall[k], 2),
            "seeds_per_s": round(seeds / wall[k], 2),
            "us_per_event": round(wall[k] / max(1, events[k]) * 1e6, 1),
            "failures": failures[k],
        }
        for k, (name, _, _) in enumerate(impls)
    ]
    echo_js, cpu_js = round_trip_us(("node", "-e", _ECHO_JS))
    echo_py, cpu_py = round_trip_us((sys.executable, "-c", _ECHO_PY))
    # The adapter's cost per simulated event: the JavaScript example's wall time per event less the in-process
    # Python example's (similar protocols, so the difference is mostly the pipe and the JSON).
    per_event = rows[2]["us_per_event"] - rows[1]["us_per_event"]
    return {
        "rows": rows,
        "echo_js_us": round(echo_js, 1),
        "echo_py_us": round(echo_py, 1),
        "adapter_cpu_us": round(min(cpu_js, cpu_py), 1),
        "adapter_us_per_event": round(per_event, 1),
    }


_ECHO_PY = (
    "import sys\nn=0\nfor line in sys.stdin:\n"
    "    sys.stdout.write('{}\\n' if n else '{\"version\":1}\\n'); sys.stdout.flush(); n+=1"
)


def format_nodes(r: dict[str, Any]) -> str:
    lines = [f"default campaign by implementation (seeds 0-{r['rows'][0]['seeds'] - 1}, one worker, interleaved):"]
    for row in r["rows"]:
        lines.append(
            f"  {row['implementation']:<32} {row['seeds_per_s']:>7} seeds/s  {row['us_per_event']:>8} us/event  "
            f"({row['wall_s']} s, {row['failures']} failures)"
        )
    lines.append(
        f"process adapter: {r['echo_js_us']} us per input round trip with a Node.js node that does nothing "
        f"({r['echo_py_us']} us with a Python one), of which the simulator's own CPU time is {r['adapter_cpu_us']} us; "
        f"{r['adapter_us_per_event']} us more per simulated event for raft.js than for figure2.py in process"
    )
    return "\n".join(lines)
