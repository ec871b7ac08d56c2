"""The scenario language's vocabulary: the action registry, and how its documentation and key lines follow it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        match = re.match(r'^\| `"([a-z_-]+)"` \|', line)
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


def test_every_toml_example_in_the_documentation_is_valid() -> None:
    """Each ```toml block of scenarios/README.md (alternatives split at "# or"), with a duration if it has none,
    is a valid scenario."""
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 8
    for block in blocks:
        for alternative in re.split(r"\n# or\b[^\n]*\n", block):
            text = alternative if re.search(r"^duration", alternative, re.M) else 'duration = "10s"\n' + alternative
            loads(text, "README.md")


def test_the_documented_steps_example_passes() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index('# The lab\'s "election after network failure", in its own order')
    s = loads(text[start : text.index("```", start)], "README.md")
    for seed in range(5):
        r = run_scenario(s, seed=seed)
        assert r.passed, r.summary()


def test_the_condition_vocabulary_is_documented() -> None:
    from sim.world.conditions import FUNCTIONS, QUANTITIES

    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Conditions") :]
    for name in QUANTITIES:
        assert f"| `{name}` |" in section, name
    for name in FUNCTIONS:
        assert f"| `{name}(x)` |" in section, name


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
node = "connected"    # ... and one of the two others
pick = 1
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
    assert len(set(at3)) == 2  # the leader, then one other connected server
    assert sorted(n[0] for t, a, n in log if t == 4_000_000) == sorted(at3)  # type: ignore[index]
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


# ---------------------------------------------------------------------------- randomness and conditions


def _applied(text: str, seed: int) -> list[tuple[int, str, object]]:
    r = run_scenario(loads(text), seed=seed)
    return [(t, action, d.get("nodes", d.get("value"))) for t, action, d in r.sim.faults]


def test_pick_names_distinct_servers() -> None:
    text = """
    duration = "2s"
    [[events]]
    at = "1s"
    do = "crash"
    node = "random"
    pick = 3
    as = "three"
    restart_after = "500ms"
    """
    for seed in range(5):
        log = _applied(text, seed)
        crashed = [nodes[0] for t, action, nodes in log if action == "crash"]  # type: ignore[index]
        assert len(crashed) == 3 and len(set(crashed)) == 3
        assert [nodes[0] for t, action, nodes in log if action == "restart"] == sorted(crashed)  # type: ignore[index]


def test_probability_decides_each_occurrence_and_its_undo() -> None:
    text = """
    duration = "5s"
    [cluster]
    nodes = 3
    [[events]]
    at = "100ms"
    do = "crash"
    node = 1
    every = "200ms"
    count = 20
    probability = 0.5
    restart_after = "100ms"
    """
    log = _applied(text, 4)
    crashes = [t for t, action, _ in log if action == "crash"]
    restarts = [t for t, action, _ in log if action == "restart"]
    assert 3 <= len(crashes) <= 17 and [t + 100_000 for t in crashes] == restarts
    assert all((t - 100_000) % 200_000 == 0 for t in crashes)
    assert _applied(text, 4) == log  # the same seed, the same draws
    assert any(_applied(text, seed) != log for seed in (5, 6, 7))
    assert _applied(text.replace("0.5", "0"), 4) == []


def test_random_gaps() -> None:
    text = """
    duration = "10s"
    [[events]]
    at = "1s"
    do = "drop"
    value = 0.1
    every = ["100ms", "300ms"]
    count = 10
    """
    times = [t for t, _, _ in _applied(text, 1)]
    assert len(times) == 10 and times[0] == 1_000_000
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(100_000 <= g <= 300_000 for g in gaps) and len(set(gaps)) > 1
    assert [t for t, _, _ in _applied(text, 2)] != times


def test_when_conditions() -> None:
    text = """
    duration = "3s"
    [[events]]
    at = "1s"
    do = "crash"
    node = "follower"
    every = "100ms"
    count = 10
    when = "alive > 3"            # crash followers while more than three servers live: two of them
    [[events]]
    at = "2.5s"
    do = "restart"
    node = "crashed"
    when = "leader != 0 and term@x == term"   # x never binds: the condition does not hold
    [[events]]
    at = "2.9s"
    do = "heal"
    as = "x"
    """
    log = _applied(text, 3)
    assert [action for _, action, _ in log] == ["crash", "crash", "heal"]


def test_new_event_keys_round_trip() -> None:
    s = loads(
        """
        duration = "10s"
        [[events]]
        at = "1s"
        do = "crash"
        node = "random"
        pick = 2
        probability = 0.25
        when = "alive >= 4 and leader"
        every = ["100ms", "900ms"]
        count = 5
        restart_after = "50ms"
        [[events]]
        at = "2s"
        do = "isolate"
        node = "follower"
        every = "1s"
        count = 2
        probability = 0.75
        heal_after = "300ms"
        as = "f"
        """
    )
    first = s.faults[0]
    assert first.guard is not None and first.guard.every == (100_000, 900_000) and first.guard.count == 5
    assert first.guard.then == (Fault(50_000, "restart", node="all-crashed"),)
    assert [f.at for f in s.faults] == [1_000_000, 2_000_000, 3_000_000]
    assert loads(to_toml(s)) == s


def test_bad_randomness_and_conditions() -> None:
    base = 'duration = "3s"\n[[events]]\nat = "1s"\n'
    assert "x.toml:5: events[1].probability: expected a probability between 0 and 1, got 1.5" in _bad(
        base + 'do = "crash"\nprobability = 1.5\nnode = 1\n'
    )
    assert "events[1].every: expected a [min, max] range with min <= max" in _bad(
        base + 'do = "heal"\nevery = ["300ms", "100ms"]\ncount = 2\n'
    )
    assert "events[1].every: expected a time, or a [min, max] range" in _bad(
        base + 'do = "heal"\nevery = ["300ms"]\ncount = 2\n'
    )
    assert (
        "events[1]: expected events within the run (duration 3000ms), but repetition 9 of this event fires at "
        "at most 3400ms" in _bad(base + 'do = "heal"\nevery = ["100ms", "300ms"]\ncount = 9\n')
    )
    assert "events[1].restart_after: expected a time shorter than every gap (100ms)" in _bad(
        base + 'do = "crash"\nnode = 1\nevery = ["100ms", "300ms"]\ncount = 2\nrestart_after = "100ms"\n'
    )
    assert 'events[1].when: expected a condition such as "alive < 3", got "alive <": at column 8: expected' in _bad(
        base + 'do = "heal"\nwhen = "alive <"\n'
    )
    assert "events[1].when: expected a name bound by an event's `as`" in _bad(
        base + 'do = "heal"\nwhen = "is_leader(@nobody)"\n'
    )
    assert "events[1].when: expected a moment bound by an `as` (@m is bound nowhere)" in _bad(
        base + 'do = "heal"\nwhen = "term > term@m"\n'
    )
    assert "events[1].pick: expected no pick here" in _bad(base + 'do = "crash"\nnode = "leader"\npick = 1\n')
    assert "events[1].pick: expected an integer from 1 to 99, got 0" in _bad(
        base + 'do = "crash"\nnode = "random"\npick = 0\n'
    )


def test_condition_language() -> None:
    from sim.world.cluster import Simulation
    from sim.world.conditions import ConditionError, ConditionSyntaxError, State, parse
    from sim.world.config import ClusterConfig
    from sim.world.names import Names

    sim = Simulation(ClusterConfig(nodes=5), seed=1)
    sim.run(1_000_000)
    leader = sim.established_leader()
    assert leader is not None
    names = Names()
    names.bind("l", [leader[0]], sim.now, State.of(sim))
    sim.crash(leader[0])
    sim.disconnect(1 if leader[0] != 1 else 2)
    now = State.of(sim)

    def value(text: str) -> int:
        return parse(text).value(now, names)

    assert value("alive") == 4 and value("crashed") == 1 and value("connected") == 3 and value("disconnected") == 1
    assert value("leader") == 0 and value("leader@l") == leader[0] and value("@l") == leader[0]
    assert value("is_leader(@l)@l") == 1 and value("is_leader(@l)") == 0 and value("is_alive(@l)") == 0
    assert value("term") == leader[1] and value("term(@l)") == leader[1] and value("commit(@l)") == 0
    assert value("committed_on(1) + committed_on(1)@l") == 4 + 5 and value("log(@l) >= 1") == 1
    assert value("1 + 2 * 3 - 4") == 3 and value("not 0 and (1 or 0)") == 1 and value("2 >= 3 or 2 != 3") == 1
    assert value("elections") == 1 and value("acked") == 0 and value("pending") == 0
    assert parse("connected_leaders == 0").holds(now, names)
    assert "leader = 0" in parse("leader != 0 and alive").explain(now, names)
    with pytest.raises(ConditionError, match="not bound yet"):
        value("term@nope")
    names.bind("two", [1, 2], sim.now)
    with pytest.raises(ConditionError, match="names servers 1, 2"):
        value("@two")
    for bad, message in [
        ("alive <", "column 8: expected a number"),
        ("(alive", 'expected ")"'),
        ("alive alive", "expected an operator or the end"),
        ("term(1", 'expected ")"'),
        ("leaders(1)", "expected a function"),
        ("alive $ 1", "unexpected '$'"),
    ]:
        with pytest.raises(ConditionSyntaxError, match=re.escape(message)):
            parse(bad)


# ------------------------------------------------------------------------------------------------ steps

RE_ELECTION_STEPS = """
name = "election after network failure, as the lab writes it"
[cluster]
nodes = 3

[[steps]]
until = "leader != 0"
within = "5s"
as = "first"

[[steps]]
do = "disconnect"
node = "leader"
as = "l1"

[[steps]]
until = "leader != 0 and leader != @l1"
within = "5s"

[[steps]]
do = "reconnect"
node = "@l1"

[[steps]]
until = "leader != 0 and not is_leader(@l1)"
within = "5s"

[[steps]]
do = "disconnect"
node = "leader"
as = "l2"

[[steps]]
do = "disconnect"
node = "connected"
pick = 1
as = "other"

[[steps]]
wait = "600ms"

[[steps]]
check = "connected_leaders == 0"

[[steps]]
do = "reconnect"
node = "@other"

[[steps]]
until = "leader"
within = "5s"

[[steps]]
do = "reconnect"
node = "@l2"

[[steps]]
until = "leader"
within = "5s"
as = "last"

[[steps]]
check = "term >= term@first"
"""


def test_steps_run_in_order_and_end_the_run() -> None:
    s = loads(RE_ELECTION_STEPS)
    assert s.ends_with_steps and s.duration == 25_600_000  # five deadlines and one wait: the longest it can take
    for seed in range(4):
        r = run_scenario(s, seed=seed)
        assert r.passed, r.summary()
        assert r.steps is not None and r.steps[1].startswith("every step done by ")
        assert r.sim.now == r.sim.elections[-1][0] or r.sim.now < 5_000_000  # ended with its last step, not later
        actions = [(a, d["nodes"][0]) for _, a, d in r.sim.faults]  # type: ignore[index]
        l1, l2, other = actions[0][1], actions[2][1], actions[3][1]
        assert actions == [
            ("disconnect", l1), ("reconnect", l1), ("disconnect", l2), ("disconnect", other), ("reconnect", other),
            ("reconnect", l2),
        ]  # fmt: skip
        assert other != l2
    summary = run_scenario(s, seed=0).summary()
    assert "simulated, to the end of its steps" in summary and "steps:       PASS every step done by" in summary
    assert loads(to_toml(s)) == s and "duration" not in to_toml(s)


def test_a_wait_that_times_out_fails_at_its_deadline_and_stops_the_run() -> None:
    # One server, whose election timeout is 400-500ms: it cannot lead within 200ms; nothing else happens meanwhile.
    s = loads(
        """
        [cluster]
        nodes = 1
        election_timeout = ["400ms", "500ms"]
        [[steps]]
        wait = "10ms"
        [[steps]]
        until = "leader == 1"
        within = "200ms"
        [[steps]]
        check = "1"
        [[expect]]
        leader_within = "1s"
        """
    )
    r = run_scenario(s, seed=1)
    assert not r.passed and r.steps is not None and not r.steps[0]
    assert r.steps[1] == (
        'steps[2] (until "leader == 1" within 200ms): not by 210ms (200ms after the wait began); now leader = 0'
    )
    assert r.sim.now == 210_000
    assert "; steps: steps[2]" in r.line()


def test_a_failed_check_names_the_step_and_its_round() -> None:
    s = loads(
        """
        duration = "5s"
        [cluster]
        nodes = 3
        [[steps]]
        until = "leader"
        within = "2s"
        [[steps]]
        repeat = 4
        [[steps.steps]]
        wait = "100ms"
        [[steps.steps]]
        repeat = 2
        [[steps.steps.steps]]
        check = "alive == 3"
        [[steps.steps.steps]]
        do = "crash"
        node = "follower"
        when = "commit@mark >= 0"
        [[steps.steps.steps]]
        as = "mark"
        """
    )
    r = run_scenario(s, seed=2)
    assert r.steps is not None and not r.steps[0]
    # The crash's condition reads the moment "mark", bound by the step after it: it does not hold in the first
    # inner round, and does in the second, which crashes a follower; the next round's check fails.
    assert r.steps[1].startswith('steps[2].steps[2].steps[1] (check "alive == 3", round 2 of 4, round 1 of 2)')
    assert r.steps[1].endswith("does not hold at " + r.steps[1].split("does not hold at ")[1])
    assert "now alive = 2" in r.steps[1]
    assert loads(to_toml(s)) == s


def test_steps_beside_events_and_a_duration() -> None:
    s = loads(
        """
        duration = "3s"
        [cluster]
        nodes = 3
        [[events]]
        at = "1s"
        do = "crash"
        node = "leader"
        as = "old"
        [[steps]]
        wait = "1s"
        [[steps]]
        check = "alive == 2 and not is_alive(@old)"
        [[steps]]
        until = "leader != 0"
        within = "1s"
        as = "new"
        [[steps]]
        do = "restart"
        node = "@old"
        [[steps]]
        do = "crash"
        node = "@old"
        restart_after = "1ms"    # an undo in a step: crash and restart again
        [[steps]]
        wait = "10s"             # longer than the run
        """
    )
    r = run_scenario(s, seed=3)
    assert r.sim.now == 3_000_000  # the run lasts its duration
    assert r.steps is not None and not r.steps[0]
    assert r.steps[1].startswith("the run ended at 3000ms during steps[6] (wait 10000ms)")
    restarts = [t for t, a, _ in r.sim.faults if a == "restart"]
    assert len(restarts) == 2 and restarts[1] - restarts[0] == 1_000


def test_bad_steps() -> None:
    assert "x.toml:3: steps[1]: expected one of do, wait, until, check, repeat per step, got wait, check" in _bad(
        '[cluster]\nnodes = 3\n[[steps]]\nwait = "1s"\ncheck = "1"\n'
    )
    assert "x.toml:1: steps[1].within: expected a deadline for the wait" in _bad('[[steps]]\nuntil = "leader"\n')
    assert "steps[1].wat: unknown key (did you mean 'wait'?)" in _bad('[[steps]]\nwat = "1s"\n')
    assert "x.toml:5: steps[1].steps[1].do: expected one of crash" in _bad(
        '[[steps]]\nrepeat = 2\n\n[[steps.steps]]\ndo = "explode"\n'
    )
    assert "steps[1].steps: expected the steps to repeat" in _bad("[[steps]]\nrepeat = 2\n")
    assert "steps[1].repeat: expected an integer from 1 to 100000, got 0" in _bad(
        '[[steps]]\nrepeat = 0\n[[steps.steps]]\nwait = "1s"\n'
    )
    assert 'steps[1].check: expected a condition such as "alive < 3", got "alive ="' in _bad(
        '[[steps]]\ncheck = "alive ="\n'
    )
    assert "steps[1].wait: expected a time" in _bad("[[steps]]\nwait = true\n")
    assert "steps[1].every: unknown key" in _bad('[[steps]]\ndo = "heal"\nevery = "1s"\ncount = 2\n')
    assert "x.toml: duration: expected a duration for the run" in _bad('name = "x"\n')
    # Without a duration, the steps' longest run bounds every other time in the file.
    assert "events[1].at: expected events within the run (duration 1000ms)" in _bad(
        '[[steps]]\nwait = "1s"\n[[events]]\nat = "2s"\ndo = "heal"\n'
    )


# --------------------------------------------------------------------------------- targeted client operations


def test_submit_to_the_leader_commits_each_operation() -> None:
    s = loads(
        """
        [cluster]
        nodes = 3
        [[steps]]
        until = "leader"
        within = "5s"
        as = "before"
        [[steps]]
        do = "submit"
        node = "leader"
        ops = 5
        [[steps]]
        until = "acked == 5 and committed_on(commit@before + 5) == 3"
        within = "2s"
        [[expect]]
        clients_complete = true
        """
    )
    r = run_scenario(s, seed=1)
    assert r.passed, r.summary()
    assert sorted(r.sim.clients) == ["s1", "s2", "s3", "s4", "s5"]
    assert [(op.client, op.f, op.key, op.status) for op in r.sim.history] == [
        (f"s{i}", "put", f"k{i - 1}", "ok") for i in range(1, 6)
    ]
    submits = [d for _, action, d in r.sim.faults if action == "submit"]
    assert len(submits) == 5 and {d["nodes"][0] for d in submits} == {r.sim.leader()}  # type: ignore[index]
    assert loads(to_toml(s)) == s


def test_one_attempt_to_a_disconnected_leader_or_a_follower() -> None:
    s = loads(
        """
        [cluster]
        nodes = 3
        [workload]
        timeout = "300ms"
        [[steps]]
        until = "leader"
        within = "5s"
        [[steps]]
        do = "disconnect"
        node = "leader"
        as = "old"
        [[steps]]
        do = "submit"            # accepted by the old leader, which cannot commit it: unknown
        node = "@old"
        follow = false
        op = "append"
        key = "x"
        [[steps]]
        do = "submit"            # refused by a follower: it did not happen
        node = "follower"
        follow = false
        [[steps]]
        until = "leader != 0 and leader != @old"
        within = "5s"
        [[steps]]
        do = "reconnect"
        node = "@old"
        [[steps]]
        until = "not is_leader(@old) and pending == 0 and commit(@old) == commit"
        within = "5s"
        [[steps]]
        check = "acked == 0 and log(@old) == commit"   # its uncommitted append is gone
        """
    )
    r = run_scenario(s, seed=2)
    assert r.passed, r.summary()
    assert [(op.f, op.key, op.status) for op in r.sim.history] == [("append", "x", "info"), ("put", "k1", "fail")]
    assert r.sim.linearizability is not None and r.sim.linearizability.verdict == "ok"


def test_a_client_beside_a_server_shares_its_side_of_the_network() -> None:
    s = loads(
        """
        [cluster]
        nodes = 5
        [workload]
        timeout = "100ms"
        [[steps]]
        until = "leader"
        within = "5s"
        [[steps]]
        do = "disconnect"
        node = "follower"
        as = "f"
        [[steps]]
        do = "submit"
        node = "leader"
        beside = "@f"            # it reaches @f only, which cannot reach the leader
        [[steps]]
        wait = "1s"
        [[steps]]
        check = "acked == 0 and pending == 1"
        [[steps]]
        do = "reconnect"
        node = "@f"
        [[steps]]
        until = "acked == 1"
        within = "2s"
        """
    )
    r = run_scenario(s, seed=3)
    assert r.passed, r.summary()
    # Workload clients too: all beside server 1, which is disconnected for a second.
    text = """
    duration = "3s"
    [cluster]
    nodes = 3
    [workload]
    clients = 2
    rate = 40
    beside = 1
    stop = "2.5s"
    [[events]]
    at = "1s"
    do = "disconnect"
    node = 1
    reconnect_after = "1s"
    """
    r = run_scenario(loads(text), seed=1)
    acks = [t for t, kind, *_ in r.sim.trace if kind == "ack"]
    assert acks and not [t for t in acks if 1_050_000 < t < 2_000_000]
    assert loads(to_toml(r.scenario)) == r.scenario


def test_bad_submits() -> None:
    base = 'duration = "3s"\n[[events]]\nat = "1s"\ndo = "submit"\nnode = "leader"\n'
    assert 'x.toml:6: events[1].op: expected one of get, put, append, cas, got "delete"' in _bad(
        base + 'op = "delete"\n'
    )
    assert "events[1].ops: expected an integer from 1 to 100000, got 0" in _bad(base + "ops = 0\n")
    assert "events[1].key: expected a non-empty key" in _bad(base + 'key = ""\n')
    assert 'events[1].follow: expected true or false, got "no"' in _bad(base + 'follow = "no"\n')
    assert 'events[1].beside: expected one server: a node id, "@name" or one of "leader"' in _bad(
        base + 'beside = "all"\n'
    )
    assert "workload.beside: expected a node id from 1 to 5 (cluster.nodes), got 9" in _bad(
        'duration = "1s"\n[workload]\nbeside = 9\n'
    )
    assert "workload.beside[2]: expected a node id from 1 to 5" in _bad(
        'duration = "1s"\n[workload]\nbeside = [1, 0]\n'
    )


# ---------------------------------------------------------------------------------------------- message counts


def test_message_counts_in_an_interval_and_between_moments() -> None:
    text = """
    [cluster]
    nodes = 3
    [[steps]]
    until = "leader"
    within = "5s"
    as = "elected"
    [[steps]]
    wait = "1s"
    as = "idle"
    [[steps]]
    check = "messages(AppendEntries) - messages(AppendEntries)@elected >= 2 * 19"
    [[expect]]
    max_messages = 30
    kind = "requests"
    during = ["0s", "@elected"]
    [[expect]]
    min_messages = 1
    kind = ["RequestVote"]
    during = ["0s", "@elected"]
    [[expect]]
    max_messages = 50
    kind = "requests"
    during = ["@elected", "@idle"]
    [[expect]]
    max_messages = 0
    kind = "client"
    [[expect]]
    min_messages = 10
    during = ["100ms", "1s"]
    """
    s = loads(text)
    r = run_scenario(s, seed=1)
    assert r.passed, r.summary()
    whys = [why for _, _, why in r.expectations]
    assert whys[0].startswith("") and " messages (requests) sent between 0ms and @elected (" in whys[0]
    assert "messages (all) sent between 100ms and 1000ms" in whys[4]
    # The counts agree with the trace's send records.
    elected = r.sim.elections[0][0]
    sent = [m for t, kind, _, m in r.sim.trace if kind == "send" and t <= elected]
    requests = sum(1 for m in sent if type(m).__name__ in ("RequestVote", "AppendEntries"))
    assert whys[0].startswith(f"{requests} messages")
    assert loads(to_toml(s)) == s
    # Nothing counts messages unless something reads them; counting changes nothing else.
    plain = run_scenario(loads(text.split("[[expect]]")[0].replace("messages(AppendEntries)", "term")), seed=1)
    assert plain.sim.network.sent() == {}
    assert plain.sim.elections == r.sim.elections and plain.sim.committed == r.sim.committed


def test_message_counts_can_fail() -> None:
    s = loads(
        """
        duration = "1s"
        [[events]]
        at = "1s"
        do = "heal"
        when = "alive == 0"     # never: its name is never bound
        as = "never"
        [[expect]]
        max_messages = 5
        [[expect]]
        min_messages = 1
        kind = "ClientRequest"
        [[expect]]
        max_messages = 1000
        during = ["0s", "@never"]
        """
    )
    r = run_scenario(s, seed=1)
    (_, ok1, why1), (_, ok2, why2), (_, ok3, why3) = r.expectations
    assert not ok1 and "need <= 5" in why1
    assert not ok2 and why2.startswith("0 messages (ClientRequest) sent in the whole run")
    assert not ok3 and why3 == "not judged: @never was never bound (its event or step did not happen)"


def test_bad_message_counts() -> None:
    base = 'duration = "3s"\n[[expect]]\nmax_messages = 3\n'
    assert "x.toml:4: expect[1].kind: expected a message kind: one of all, requests" in _bad(base + 'kind = "rpc"\n')
    assert "expect[1].kind: expected each kind once" in _bad(base + 'kind = ["replies", "replies"]\n')
    assert "expect[1].during: expected an interval [from, to] with from <= to" in _bad(base + 'during = ["2s", "1s"]\n')
    assert "expect[1].during[2]: expected a moment bound by an `as` somewhere in the file" in _bad(
        base + 'during = ["1s", "@x"]\n'
    )
    assert "expect[1].during[2]: expected a time within the run (duration 3000ms)" in _bad(
        base + 'during = ["1s", "4s"]\n'
    )
    assert "expect[1].max_messages: expected an integer >= 0" in _bad(
        'duration = "3s"\n[[expect]]\nmax_messages = -1\n'
    )
    assert 'events[1].when: expected a condition such as "alive < 3", got "messages(rpc) > 1"' in _bad(
        'duration = "3s"\n[[events]]\nat = "1s"\ndo = "heal"\nwhen = "messages(rpc) > 1"\n'
    )


# -------------------------------------------------------------------------------- per-kind delay and loss


def _deliveries(r: ScenarioResult) -> dict[str, list[int]]:
    """Each kind's delivered messages' delays (microseconds), from the trace."""
    sent: dict[int, int] = {}
    delays: dict[str, list[int]] = {}
    for t, kind, _, data in r.sim.trace:
        if kind == "send":
            sent.setdefault(id(data), t)
        elif kind == "deliver":
            delays.setdefault(type(data).__name__, []).append(t - sent[id(data)])
    return delays


def test_replies_only_loss_and_a_mixture_of_delays() -> None:
    s = loads(
        """
        duration = "10s"
        [cluster]
        nodes = 3
        [workload]
        clients = 1
        rate = 20
        [[network.kinds]]
        kind = "replies"
        drop = 0.1
        [network.kinds.delay]
        dist = "mixture"
        share = 0.66
        long = { dist = "uniform", min = "200ms", max = "2200ms" }
        short = { dist = "uniform", min = "0ms", max = "26ms" }
        [[network.kinds]]
        kind = "RequestVote"
        delay = { dist = "fixed", value = "1ms" }
        """
    )
    r = run_scenario(s, seed=1)
    delays = _deliveries(r)
    replies = delays["AppendEntriesReply"]
    long = [d for d in replies if d >= 200_000]
    assert 0.55 < len(long) / len(replies) < 0.77 and max(replies) <= 2_200_000
    assert all(d <= 26_000 for d in replies if d < 200_000)
    assert all(5_000 <= d <= 15_000 for d in delays["AppendEntries"])  # requests keep the network's delay
    assert set(delays["RequestVote"]) == {1_000}
    drops = [data[0] for t, kind, _, data in r.sim.trace if kind == "drop" and data[1] == "random"]
    assert drops and {type(m).__name__ for m in drops} <= {"AppendEntriesReply", "RequestVoteReply"}
    assert loads(to_toml(s)) == s


def test_per_kind_loss_as_an_event() -> None:
    text = """
    duration = "3s"
    [cluster]
    nodes = 3
    [[events]]
    at = "1s"
    do = "drop"
    kind = ["AppendEntries"]
    value = 1.0
    [[events]]
    at = "1s"
    do = "delay"
    kind = "client"
    delay = { dist = "fixed", value = "2ms" }
    [[expect]]
    min_elections = 3
    """
    r = run_scenario(loads(text), seed=2)
    assert r.passed, r.summary()  # heartbeats lost: followers time out again and again
    heartbeats = [t for t, kind, _, data in r.sim.trace if kind == "deliver" and type(data).__name__ == "AppendEntries"]
    assert heartbeats and max(heartbeats) < 1_000_000
    faults = [d for _, action, d in r.sim.faults]
    assert faults[0] == {"value": 1.0, "kinds": ["AppendEntries"]}
    assert faults[1]["kinds"] == ["ClientRequest", "ClientReply"]
    assert loads(to_toml(r.scenario)) == r.scenario


def test_bad_kinds() -> None:
    assert "x.toml:8: events[1].kind: expected no kind with 'from' and 'to'" in _bad(
        'duration = "1s"\n[[events]]\nat = 0\ndo = "delay"\ndelay = { dist = "fixed", value = 1 }\nfrom = 1\nto = 2\n'
        'kind = "replies"\n'
    )
    assert "network.kinds[1].kind: expected the kinds of message these apply to (missing)" in _bad(
        'duration = "1s"\n[[network.kinds]]\ndrop = 0.1\n'
    )
    assert "network.kinds[1]: expected a drop probability, a delay, or both" in _bad(
        'duration = "1s"\n[[network.kinds]]\nkind = "replies"\n'
    )
    assert "network.kinds[1].duplicate: unknown key" in _bad(
        'duration = "1s"\n[[network.kinds]]\nkind = "replies"\nduplicate = 0.1\n'
    )
    assert "events[1].kind: unknown key" in _bad(
        'duration = "1s"\n[[events]]\nat = 0\ndo = "duplicate"\nvalue = 0.1\nkind = "replies"\n'
    )


# --------------------------------------------------------------------------------------- scoped expectations


def test_scoped_expectations() -> None:
    text = """
    duration = "4s"
    [cluster]
    nodes = 5
    [[events]]
    at = "1s"
    do = "disconnect"
    node = "leader"
    as = "old"
    [[events]]
    at = "1s"
    do = "disconnect"
    node = "connected"
    pick = 2
    [[events]]
    at = "3s"
    do = "reconnect"
    node = "disconnected"
    [[expect]]
    no_leader = ["1.5s", "2.9s"]    # fails: the old leader, cut off, still believes it leads
    [[expect]]
    no_leader = ["1.5s", "2.9s"]
    among = "connected"             # the two connected servers cannot elect one
    [[expect]]
    is_leader = "@old"
    at = "2s"
    [[expect]]
    not_leader = "@old"             # at the end: it heard the new term
    [[expect]]
    committed_at_least = 2
    on = 5
    [[expect]]
    committed_at_least = 1
    on = 5
    at = "900ms"
    [[expect]]
    committed_at_least = 3
    at = "2s"
    """
    s = loads(text)
    r = run_scenario(s, seed=4)
    results = [(passed, why) for _, passed, why in r.expectations]
    assert not results[0][0] and "was leader" in results[0][1]
    assert results[1] == (True, "no connected server was leader during [1500ms, 2900ms]")
    old = r.sim.faults[0][2]["nodes"][0]  # type: ignore[index]
    assert results[2] == (True, f"@old (node {old}) was leader at 2000ms, term 1")
    assert results[3][0] and results[3][1].startswith(f"@old (node {old}) was follower at the end")
    assert results[4][0] and results[4][1].startswith("5 live server(s) had committed index 2 at the end, need >= 5")
    assert results[5][0] and results[5][1].startswith("5 live server(s) had committed index 1 at 900ms")
    assert not results[6][0] and results[6][1] == "commit index 1 at 2000ms, need >= 3"
    assert loads(to_toml(s)) == s
    summary = r.summary()
    assert "no_leader [1500ms, 2900ms] among connected servers" in summary and "is_leader @old at 2000ms" in summary


def test_bad_scoped_expectations() -> None:
    base = 'duration = "3s"\n[[expect]]\n'
    assert 'x.toml:4: expect[1].among: expected "all" (every live server) or "connected", got "live"' in _bad(
        base + 'no_leader = ["1s", "2s"]\namong = "live"\n'
    )
    assert "expect[1].on: expected an integer from 1 to 5, got 6" in _bad(base + "committed_at_least = 1\non = 6\n")
    assert 'expect[1].at: expected a time within the run (duration 3000ms), got "4s"' in _bad(
        base + 'is_leader = 1\nat = "4s"\n'
    )
    assert 'expect[1].not_leader: expected a node id or "@name", got "leader"' in _bad(base + 'not_leader = "leader"\n')
    assert "expect[1].is_leader: expected a name bound by an event's `as`" in _bad(base + 'is_leader = "@x"\n')
    assert "expect[1].at: unknown key" in _bad(base + 'acked_at_least = 1\nat = "1s"\n')


# ---------------------------------------------------------------------------------------- two bugs, fixed

ONE_SERVER = """
duration = "1s"
[cluster]
nodes = 1
election_timeout = ["400ms", "400ms"]
"""


def test_drift_rescales_timers_already_armed() -> None:
    """A 400 ms election timer armed at 0, with the clock turning four times as fast at 100 ms: 300 ms of local
    time are left, which pass in 75 ms, so it fires at 175 ms (it used to fire at 400 ms)."""
    s = loads(ONE_SERVER + '[[events]]\nat = "100ms"\ndo = "drift"\nnode = 1\nrate = 4.0\n')
    r = run_scenario(s, seed=1)
    assert r.sim.elections[0][0] == 175_000
    # And back: slowed to half speed at 100 ms, the 300 ms left take 600 ms.
    s = loads(ONE_SERVER + '[[events]]\nat = "100ms"\ndo = "drift"\nnode = 1\nrate = 0.5\n')
    assert run_scenario(s, seed=1).sim.elections[0][0] == 700_000
    # Without drift, the election is at 400 ms.
    assert run_scenario(loads(ONE_SERVER), seed=1).sim.elections[0][0] == 400_000


def test_leader_within_fails_when_the_leader_comes_after_its_window() -> None:
    """One server elects itself at 400 ms, and nothing happens in between: the first event after the 200 ms window
    is the election itself, which used to pass."""
    r = run_scenario(loads(ONE_SERVER + '[[expect]]\nleader_within = "200ms"\n'), seed=1)
    ((_, passed, why),) = r.expectations
    assert not passed and why.startswith("no leader followed by a majority within 200ms after start at 0ms")
    r = run_scenario(loads(ONE_SERVER + '[[expect]]\nleader_within = "400ms"\n'), seed=1)
    assert r.expectations[0][1], r.expectations[0][2]  # at 400 ms exactly: within


# ---------------------------------------------------------------------------------------- the round trip

_EVENT_BODIES = [
    'do = "crash"\nnode = "leader"\nas = "a"\nrestart_after = "30ms"',
    'do = "crash"\nnode = "random"\npick = 2\nprobability = 0.5',
    'do = "disconnect"\nnode = "connected"\npick = 1\nreconnect_after = "20ms"\nwhen = "alive >= 2"',
    'do = "reconnect"\nnode = "@a"',
    'do = "partition"\ngroups = [["@a", 1], ["follower"]]\nheal_after = "10ms"',
    'do = "cut"\nfrom = "@a"\nto = "all"\nrepair_after = "5ms"',
    'do = "repair"\nfrom = [1, 2]\nto = 3',
    'do = "drop"\nvalue = 0.25\nkind = ["replies", "RequestVote"]',
    'do = "delay"\nkind = "requests"\ndelay = { dist = "mixture", share = 0.3, long = { dist = "fixed", value = 9 }, '
    'short = { dist = "exponential", mean = 2 } }',
    'do = "submit"\nnode = "leader"\nops = 3\nop = "cas"\nkey = "k9"\nfollow = false\nbeside = "@a"',
    'do = "drift"\nnode = "@a"\nrate = 2.5\nwhen = "term@a < term + 3 * 2"',
    'do = "heal"\nas = "m"\nprobability = 0.0',
]
_STEP_BODIES = [
    'wait = "7ms"',
    'until = "leader != 0 or messages(client) > 1"\nwithin = "40ms"\nas = "u"',
    'check = "commit >= commit@u or not is_alive(@a)"',
    'as = "mark"',
    *_EVENT_BODIES[:4],
    _EVENT_BODIES[9],
]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    events=st.lists(
        st.tuples(st.integers(0, len(_EVENT_BODIES) - 1), st.sampled_from(["", "every", "gaps"])), max_size=6
    ),
    steps=st.lists(st.integers(0, len(_STEP_BODIES)), max_size=6),
    duration=st.booleans(),
)
def test_every_new_key_survives_the_round_trip(events: list[tuple[int, str]], steps: list[int], duration: bool) -> None:
    """Files made of the new keys: what ``loads`` reads, ``to_toml`` writes back to an equal scenario."""
    parts = ['duration = "20s"' if duration or not steps else 'name = "steps only"']
    # The names every body may use, bound first (an `as` anywhere in the file would do).
    parts.append('[[events]]\nat = 0\ndo = "heal"\nas = "m"\n[[events]]\nat = 0\ndo = "heal"\nas = "u"')
    parts.append('[[events]]\nat = 0\ndo = "crash"\nnode = 1\nas = "a"')
    for i, (body, repeat) in enumerate(events):
        parts.append(f'[[events]]\nat = "{i + 1}s"\n{_EVENT_BODIES[body]}')
        if repeat == "every":
            parts.append('every = "100ms"\ncount = 3')
        elif repeat == "gaps":
            parts.append('every = ["100ms", "200ms"]\ncount = 2')
    for k in steps:
        if k == len(_STEP_BODIES):
            parts.append('[[steps]]\nrepeat = 2\n[[steps.steps]]\nwait = "1ms"\n[[steps.steps]]\ncheck = "alive"')
        else:
            parts.append(f"[[steps]]\n{_STEP_BODIES[k]}")
    parts.append('[[expect]]\nmax_messages = 9\nkind = "replies"\nduring = ["@m", "@a"]')
    parts.append('[[expect]]\nno_leader = ["0s", "1ms"]\namong = "connected"')
    parts.append('[[expect]]\ncommitted_at_least = 1\non = 2\nat = "1ms"')
    parts.append('[[network.kinds]]\nkind = "client"\ndrop = 0.5')
    text = "\n".join(parts) + "\n"
    try:
        s = loads(text)
    except ScenarioError as e:
        assert "within the run" in str(e), str(e)  # steps too short for the events, without a duration
        return
    assert loads(to_toml(s)) == s


def test_the_timeline_shades_disconnected_servers(tmp_path: Path) -> None:
    from sim.viz.timeline import _build, plot_timeline

    s = loads(RE_ELECTION)
    r = run_scenario(s, seed=2)
    timeline = _build(_trace_dicts(r))
    shown = [(start, end, text) for start, end, text, _ in timeline.network]
    l1 = r.sim.faults[0][2]["nodes"][0]  # type: ignore[index]
    assert shown[0] == (1_000_000, 2_000_000, f"disconnected {l1}")
    assert shown[1][0] == 3_000_000 and shown[1][1] == 4_000_000 and shown[1][2].count(",") == 1  # two at once
    assert len(shown) == 2  # the moment between the two disconnections at 3 s is not drawn
    assert plot_timeline(_trace_dicts(r), tmp_path / "t.png")["partitions"] == 2


def _trace_dicts(r: ScenarioResult) -> list[dict[str, object]]:
    from sim.trace import record_to_dict

    return [record_to_dict(rec) for rec in r.sim.trace]


def test_leader_within_counts_from_the_latest_a_guarded_event_may_fire() -> None:
    s = loads(
        """
        duration = "5s"
        [[events]]
        at = "1s"
        do = "crash"
        node = "leader"
        every = ["100ms", "300ms"]
        count = 3
        probability = 0.5
        restart_after = "50ms"
        [[expect]]
        leader_within = "2s"
        """
    )
    r = run_scenario(s, seed=1)
    assert "after the last event at 1650ms" in r.expectations[0][2]  # 1s + 2 gaps of at most 300ms + the restart
