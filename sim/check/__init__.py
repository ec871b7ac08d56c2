"""Judging a run: the incremental safety checker (``safety``) and its slow, obviously-correct reference
(``reference``)."""
