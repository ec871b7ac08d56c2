"""Named random streams derived from a run's seed.

Each concern (network, timers of node 3, faults, clients, ...) draws from its own ``random.Random``, seeded from
the run's seed and the stream's name through SHA-256, so adding a draw in one place never shifts another's
sequence, and nothing depends on PYTHONHASHSEED.
"""

from __future__ import annotations

import hashlib
import random


def stream(seed: int, name: str) -> random.Random:
    digest = hashlib.sha256(f"raftsim/{seed}/{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
