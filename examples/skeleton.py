"""The smallest node that keeps the contract (examples/CONTRACT.md): a starting point for your own Raft in any
language, shown in Python. It boots, reports its state, and turns every client away (it never leads), so runs
with it pass every safety check and fail liveness:

    raftsim run scenarios/first-election.toml --node-cmd "python3 examples/skeleton.py"
"""

import json
import random
import sys


def main() -> None:
    me = None
    for line in sys.stdin:  # one input per line ...
        msg = json.loads(line)
        out: dict = {}
        if msg["type"] == "boot":
            me = msg["id"]
            rng = random.Random(msg["seed"])  # the only randomness: seeded, so every run replays
            cfg = msg["config"]
            out = {"version": 1, "capabilities": ["state"],
                   "state": {"role": "follower", "term": msg["durable"]["term"], "leader": None, "commit": 0,
                             "applied": 0},
                   "timers": [["election", rng.randint(cfg["election_timeout_min"], cfg["election_timeout_max"])]]}
        elif msg["type"] == "client":
            out = {"replies": [{"client": msg["client"], "seq": msg["seq"], "ok": False, "leader": None}]}
        elif msg["type"] == "timer":
            pass  # your election goes here: hard_state, send (request votes), timers, state
        elif msg["type"] == "message":
            pass  # your RPC handlers go here
        print(json.dumps(out), flush=True)  # ... and one output line for each
        print(f"node {me}: {msg['type']}", file=sys.stderr)  # logs go to stderr


if __name__ == "__main__":
    main()
