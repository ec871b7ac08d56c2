"""The scenario language's vocabulary: the action registry, and how its documentation and key lines follow it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, ScenarioResult, loads, run_scenario, to_toml
from sim.scenario.actions import ACTIONS
from sim.scenario.values import key_lines
from sim.world import faults
from sim.world.faults import Fault

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


# ---------------------------------------------------------------------------------------------- @names


def _bad(text: str, source: str = "x.toml") -> str:
    """The one-line error a scenario text gets."""
    with pytest.raises(ScenarioError) as info:
        loads(text, source)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{source}:")
    return message


def _fault_log(result: ScenarioResult) -> list[tuple[int, str, dict[str, object]]]:
    return list(result.sim.faults)


def test_names_parse_bind_and_round_trip() -> None:
    s = loads(
        """
        duration = "5s"
        [[events]]
        at = "1s"
        do = "crash"
        node = "leader"
        as = "old"
        restart_after = "1s"
        [[events]]
        at = "2.5s"
        do = "partition"
        groups = [["@old", 1], ["leader"]]
        [[events]]
        at = "3s"
        do = "cut"
        from = "@old"
        to = "all"
        [[events]]
        at = "3.5s"
        do = "repair"
        from = [1, 2]
        to = "follower"
        """
    )
    assert s.faults == (
        Fault(1_000_000, "crash", node="leader", bind="old"),
        Fault(2_000_000, "restart", node="@old"),  # a word target named by its `as`: the same server comes back
        Fault(2_500_000, "partition", groups=(("@old", 1), ("leader",))),
        Fault(3_000_000, "cut", src="@old", dst="all"),
        Fault(3_500_000, "repair", src=(1, 2), dst="follower"),
    )
    assert loads(to_toml(s)) == s


def test_a_name_keeps_the_server_its_word_resolved_to() -> None:
    s = loads(
        """
        duration = "4s"
        [cluster]
        nodes = 5
        [[events]]
        at = "1s"
        do = "crash"
        node = "leader"
        as = "old"
        [[events]]
        at = "2s"
        do = "crash"
        node = "leader"
        as = "second"
        [[events]]
        at = "3s"
        do = "restart"
        node = "@old"
        [[expect]]
        leader_within = "1s"
        """
    )
    r = run_scenario(s, seed=3)
    log = [(t, action, d["nodes"]) for t, action, d in r.sim.faults]
    first, second = log[0][2][0], log[1][2][0]  # type: ignore[index]
    assert first != second
    assert log == [(1_000_000, "crash", [first]), (2_000_000, "crash", [second]), (3_000_000, "restart", [first])]
    assert r.passed, r.summary()


def test_words_and_names_in_groups_and_cuts() -> None:
    s = loads(
        """
        duration = "3s"
        [[events]]
        at = "1s"
        do = "isolate"
        node = "leader"
        as = "old"
        [[events]]
        at = "2s"
        do = "partition"
        groups = [["@old", "follower"], ["all"]]
        [[events]]
        at = "2.5s"
        do = "cut"
        from = "@old"
        to = "all"
        """
    )
    r = run_scenario(s, seed=5)
    (_, _, isolate), (_, _, partition), *cuts = r.sim.faults
    old = isolate["groups"][0][0]  # type: ignore[index]  # isolating is a partition into one-server groups
    pair, rest = partition["groups"]  # type: ignore[misc]
    assert pair[0] == old and len(pair) == 2 and sorted(pair + rest) == [1, 2, 3, 4, 5]
    assert [(d["src"], d["dst"]) for _, action, d in cuts if action == "cut"] == [
        (old, n) for n in range(1, 6) if n != old
    ]


def test_bad_names() -> None:
    base = 'duration = "3s"\n[[events]]\nat = "1s"\ndo = "crash"\nnode = "leader"\nas = "old"\n[[events]]\nat = "2s"\n'
    assert "events[2].node: expected a name bound by an event's `as`; bound: @old (did you mean '@old'?)" in _bad(
        base + 'do = "restart"\nnode = "@olt"\n'
    )
    assert "x.toml:6: events[1].as: expected a name: letters, digits and _" in _bad(
        base.replace('as = "old"', 'as = "2x"') + 'do = "heal"\n'
    )
    assert 'events[2].groups[1][1]: expected a node id, a list of node ids or one of "leader"' in _bad(
        base + 'do = "partition"\ngroups = [["boss"]]\n'
    )
    assert "events[2].groups[1]: expected each item once" in _bad(
        base + 'do = "partition"\ngroups = [["@old", "@old"]]\n'
    )
    healed = 'duration = "3s"\n[[events]]\nat = "1s"\ndo = "heal"\nas = "h"\n[[events]]\nat = "2s"\n'
    assert "events[2].to: expected a name bound to servers" in _bad(healed + 'do = "cut"\nfrom = 1\nto = "@h"\n')


# ------------------------------------------------------------------------------------ disconnect / reconnect


def test_disconnections_compose_with_each_other_and_with_partitions() -> None:
    from sim.world.cluster import Simulation
    from sim.world.config import ClusterConfig

    sim = Simulation(ClusterConfig(nodes=5), seed=1)
    net = sim.network

    def cut_off() -> list[int]:
        return [n for n in range(1, 6) if all(net.blocked(n, o) and net.blocked(o, n) for o in range(1, 6) if o != n)]

    sim.disconnect(1)
    sim.disconnect(2)
    assert cut_off() == [1, 2] and net.disconnected() == [1, 2]
    sim.reconnect(1)
    assert cut_off() == [2] and not net.blocked(1, 3)
    sim.partition([[1, 3]])  # replaces the groups; 2 stays disconnected
    assert net.blocked(2, 4) and net.blocked(1, 4) and not net.blocked(1, 3) and not net.blocked(4, 5)
    sim.heal()  # one partition and the disconnection: healing undoes both
    assert cut_off() == [] and not any(net.blocked(a, b) for a in range(1, 6) for b in range(1, 6) if a != b)
    assert sim.connected() == [1, 2, 3, 4, 5]


RE_ELECTION = """
name = "the lab's election after network failure, as events"
duration = "6s"
[cluster]
nodes = 3
check_quorum = true   # so that a disconnected leader steps down
[[events]]
at = "1s"
do = "disconnect"
node = "leader"
as = "l1"
[[events]]
at = "2s"
do = "reconnect"
node = "@l1"
[[events]]
at = "3s"
do = "disconnect"
node = "leader"
as = "l2"
[[events]]
at = "3s"
do = "disconnect"
node = "connected"    # ... and one of the two others (pick one in a later change)
as = "rest"
[[events]]
at = "4s"
do = "reconnect"
node = "disconnected"
[[expect]]
leader_within = "1s"
after = "1s"
[[expect]]
no_leader = ["3.6s", "4s"]
[[expect]]
leader_within = "1s"
"""


def test_disconnect_the_leader_then_reconnect_that_server() -> None:
    r = run_scenario(loads(RE_ELECTION), seed=2)
    assert r.passed, r.summary()
    log = [(t, action, d.get("nodes")) for t, action, d in r.sim.faults]
    l1 = log[0][2]
    assert log[0] == (1_000_000, "disconnect", l1) and log[1] == (2_000_000, "reconnect", l1)
    at3 = [nodes[0] for t, action, nodes in log if t == 3_000_000]  # type: ignore[index]
    assert sorted(at3) == [1, 2, 3]  # the leader, then every other connected server
    assert sorted(n[0] for t, a, n in log if t == 4_000_000) == [1, 2, 3]  # type: ignore[index]
    assert loads(to_toml(r.scenario)) == r.scenario


def test_reconnect_after_names_the_same_servers() -> None:
    s = loads(
        """
        duration = "3s"
        [[events]]
        at = "1s"
        do = "disconnect"
        node = "leader"
        reconnect_after = "500ms"
        [[events]]
        at = "2s"
        do = "disconnect"
        node = "leader"
        as = "x"
        reconnect_after = "500ms"
        """
    )
    assert s.faults == (
        Fault(1_000_000, "disconnect", node="leader"),
        Fault(1_500_000, "reconnect", node="disconnected"),
        Fault(2_000_000, "disconnect", node="leader", bind="x"),
        Fault(2_500_000, "reconnect", node="@x"),
    )
