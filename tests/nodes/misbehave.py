"""A node that keeps the contract for a while, then breaks it: ``misbehave.py MODE AFTER COMMAND...`` forwards every
input to the node ``COMMAND`` (an honest one) and its answers back, and at this process's input number ``AFTER``
(the boot is 1) instead:

- ``crash``: exits with code 3 without answering;
- ``hang``: stops answering (sleeps far past any time limit);
- ``garbage``: writes a line that is not JSON;
- ``bad-field``: answers with a message whose ``dst`` is not a server;
- ``two-lines``: answers with two lines.
"""

import subprocess
import sys
import time

mode, after, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
honest = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
seen = 0
for line in sys.stdin:
    seen += 1
    if seen == after:
        print(f"misbehaving now ({mode}) at input {seen}", file=sys.stderr, flush=True)
        if mode == "crash":
            sys.exit(3)
        if mode == "hang":
            time.sleep(3600)
        if mode == "garbage":
            print("this is not json {", flush=True)
            continue
        if mode == "bad-field":
            print('{"send": [{"kind": "x", "dst": 99}]}', flush=True)
            continue
        if mode == "two-lines":
            print("{}\n{}", flush=True)
            continue
    honest.stdin.write(line)
    honest.stdin.flush()
    sys.stdout.write(honest.stdout.readline())
    sys.stdout.flush()
