"""The one error every command reports the same way."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input (a file, a key, a flag, an output path): reported as one line on stderr with exit code 2."""
