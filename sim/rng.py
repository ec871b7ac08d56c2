"""Named random streams derived from a run's seed, and what a seed may be.

Each concern (network, timers of node 3, faults, clients, ...) draws from its own ``random.Random``, seeded from
the run's seed and the stream's name through SHA-256, so adding a draw in one place never shifts another's
sequence, and nothing depends on PYTHONHASHSEED.
"""

from __future__ import annotations

import hashlib
import random

from sim.errors import UsageError

# Any integer would seed ``stream``, but every seed must fit in a scenario file (the fuzzer writes its failures'
# seeds there, ``raftsim run --seed`` overrides them), and TOML integers are signed 64-bit. One rule for the
# scenario key ``seed`` and every seed flag (``run --seed``, ``replay SEED``, ``fuzz --start-seed``).
MAX_SEED = 2**63 - 1
SEED_RULE = "a seed: an integer from 0 to 2**63-1"


def stream(seed: int, name: str) -> random.Random:
    digest = hashlib.sha256(f"raftsim/{seed}/{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def is_seed(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEED


def check_seed(flag: str, value: str | int) -> int:
    """A seed given on the command line (digits as typed, or an int); anything else is a UsageError naming ``flag``."""
    seed = int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value
    if not is_seed(seed):
        raise UsageError(f"{flag}: expected {SEED_RULE}, got {value!r}")
    return int(seed)
