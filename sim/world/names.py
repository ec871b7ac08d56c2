"""Names that a schedule binds as it runs: a scenario's ``as = "old"`` keeps the servers an action resolved to
(``"leader"`` becomes a node id) and the state of that moment, and later actions and conditions name them
(``"@old"``, ``"term@old"``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Names:
    """Each name's servers, the simulated time it was bound and the state then (a ``sim.world.conditions.State``,
    kept as ``Any`` here: conditions import this module); binding a name again replaces all three."""

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[int, ...]] = {}
        self._time: dict[str, int] = {}
        self._state: dict[str, Any] = {}

    def bind(self, name: str, nodes: Iterable[int], time: int, state: Any = None) -> None:
        self._nodes[name] = tuple(nodes)
        self._time[name] = time
        self._state[name] = state

    def nodes(self, name: str) -> tuple[int, ...] | None:
        """The servers ``name`` was bound to (possibly none), or None while it is not bound."""
        return self._nodes.get(name)

    def time(self, name: str) -> int | None:
        return self._time.get(name)

    def state(self, name: str) -> Any:
        """The state when ``name`` was bound, or None while it is not bound."""
        return self._state.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._nodes
