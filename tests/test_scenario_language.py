"""The scenario language's vocabulary: the action registry, and how its documentation and key lines follow it."""

from __future__ import annotations

import re
from pathlib import Path

from sim.scenario.actions import ACTIONS
from sim.scenario.values import key_lines
from sim.world import faults

README = Path(__file__).resolve().parent.parent / "scenarios" / "README.md"


def _action_rows() -> dict[str, str]:
    """The rows of scenarios/README.md's tables that start with an action's name, by action."""
    rows: dict[str, str] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r'^\| `"([a-z-]+)"` \|', line)
        if match:
            rows.setdefault(match.group(1), line)
    return rows


def test_the_registry_is_the_worlds_vocabulary() -> None:
    assert tuple(ACTIONS) == faults.ACTIONS
    for action in ACTIONS.values():
        assert set(action.required) <= set(action.keys), action.name
        if action.undo is not None:
            assert action.undo[0] in action.keys


def test_every_action_and_key_is_documented() -> None:
    rows = _action_rows()
    for name, action in ACTIONS.items():
        assert name in rows, f"scenarios/README.md has no row for do = {name!r}"
        for key in action.keys:
            assert f"`{key}`" in rows[name], f"scenarios/README.md's row for {name!r} does not mention {key!r}"


def test_key_lines_of_nested_arrays_of_tables() -> None:
    text = "\n".join(
        [
            'duration = "1s"',  # 1
            "[[steps]]",  # 2
            "repeat = 2",  # 3
            "[[steps.steps]]",  # 4
            'wait = "1s"',  # 5
            "[[steps.steps]]",  # 6
            'check = "leader"',  # 7
            "[[steps]]",  # 8
            "repeat = 3",  # 9
            "[[steps.steps]]",  # 10
            'do = "heal"',  # 11
            "[[events]]",  # 12
            'at = "1s"',  # 13
        ]
    )
    lines = key_lines(text)
    assert lines["steps[1].repeat"] == 3
    assert lines["steps[1].steps[1].wait"] == 5
    assert lines["steps[1].steps[2].check"] == 7
    assert lines["steps[2].repeat"] == 9
    assert lines["steps[2].steps[1].do"] == 11
    assert lines["events[1].at"] == 13
