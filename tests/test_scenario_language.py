"""The scenario language's vocabulary: the action registry, and how its documentation and key lines follow it."""

from __future__ import annotations

import itertools
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
    start = text.index("# The lab's \"election after network failure\", in its own order")
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
    assert "events[1]: expected events within the run (duration 3000ms), but repetition 9 of this event fires at " \
        "at most 3400ms" in _bad(base + 'do = "heal"\nevery = ["100ms", "300ms"]\ncount = 9\n')
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
    assert value("1 + 2 - 4") == -1 and value("not 0 and (1 or 0)") == 1 and value("2 >= 3 or 2 != 3") == 1
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
