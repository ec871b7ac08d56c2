"""Experiments: Figure 16 of the Raft paper (``figure16``) and the benchmark (``bench``); ``cli`` holds their
commands."""
