"""Names that a schedule binds as it runs: a scenario's ``as = "old"`` keeps the servers an action resolved to
(``"leader"`` becomes a node id), and later actions and conditions name them (``"@old"``)."""

from __future__ import annotations

from collections.abc import Iterable


class Names:
    """Each name's servers and the simulated time it was bound; binding a name again replaces it."""

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[int, ...]] = {}
        self._time: dict[str, int] = {}

    def bind(self, name: str, nodes: Iterable[int], time: int) -> None:
        self._nodes[name] = tuple(nodes)
        self._time[name] = time

    def nodes(self, name: str) -> tuple[int, ...] | None:
        """The servers ``name`` was bound to (possibly none), or None while it is not bound."""
        return self._nodes.get(name)

    def time(self, name: str) -> int | None:
        return self._time.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._nodes
