"""Scenario files: a cluster, its network, a client workload, a timeline of faults and what must hold.

A scenario is a TOML file (the format is documented key by key in ``scenarios/README.md``). ``load``/``loads``
validate it completely and build a ``Scenario`` out of the core's own configuration objects
(``ClusterConfig``, ``NetworkConfig``, ``WorkloadConfig``, ``Fault``); ``run_scenario`` runs it and judges every
expectation; ``raftsim run`` is the command line on top. ``to_toml`` writes a ``Scenario`` back (the fuzzer uses
it to save failures as replayable scenario files).

Every problem in a file is one ``ScenarioError`` whose text is a single line
``<file>:<line>: <key>: expected ..., got ...`` (the line where it can be found), so ``raftsim run`` answers bad
input with that line and exit code 2, never a traceback.

Times are integer microseconds inside; in files they are milliseconds when written as numbers, or strings with a
unit: ``"500us"``, ``"150ms"``, ``"2.5s"``, ``"1min"``, ``"1h"``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from sim.check.properties import EXPECTABLE
from sim.raft.kv import OPS
from sim.raft.node import RaftConfig
from sim.raft.read_only import DEFAULT_LEASE_DRIFT, LEASE, LOG, READ_MODES
from sim.rng import SEED_RULE, is_seed
from sim.scenario.actions import (
    ACTIONS,
    read_action,
    read_bound_name,
    read_condition,
    read_kinds,
    read_name,
    read_occurrence,
)
from sim.scenario.model import (
    EXPECTATION_KINDS,
    EXPECTATION_MODIFIERS,
    MAX_NODES,
    MODIFIER_NAMES,
    Expectation,
    Scenario,
    ScenarioError,
    Step,
    actions_of,
)
from sim.scenario.steps import longest
from sim.scenario.values import Reader
from sim.units import format_ms, format_time
from sim.world.config import ClusterConfig, NetworkConfig, WorkloadConfig
from sim.world.faults import Fault
from sim.world.network import Delay

# The keys any event may have, whatever its action (besides those of ``OCCURRENCE_KEYS``).
EVENT_KEYS = ("at", "every", "count")
# What a step is: each step has exactly one of these (or only an ``as``).
STEP_FORMS = ("do", "wait", "until", "check", "repeat")


class _Parser(Reader):
    """Validates one parsed TOML document and builds a Scenario, raising ScenarioError at the first problem."""

    # -------------------------------------------------------------------------- sections

    def scenario(self, doc: dict[str, Any], default_name: str) -> Scenario:
        top = (
            "name", "description", "seed", "duration", "cluster", "network", "workload", "events", "steps", "expect",
        )  # fmt: skip
        self.check_keys("", doc, top)
        name = self.string("name", doc["name"]) if "name" in doc else default_name
        description = self.string("description", doc.get("description", ""))
        seed = doc.get("seed", 0)
        if not is_seed(seed):
            raise self.fail("seed", SEED_RULE, seed)
        events = doc.get("events", [])
        if not isinstance(events, list):
            raise self.fail("events", "an array of tables ([[events]])", events)
        raw_steps = doc.get("steps", [])
        if not isinstance(raw_steps, list):
            raise self.fail("steps", "an array of tables ([[steps]])", raw_steps)
        if "duration" not in doc and not raw_steps:
            raise self.fail("duration", 'a duration for the run, such as duration = "5s" (missing)')
        duration = self.time("duration", doc["duration"], positive=True) if "duration" in doc else 0
        cluster = self.cluster(self.table("cluster", doc.get("cluster", {})))
        self.collect_names(events)
        self.collect_names(raw_steps)
        steps = self.steps("steps", raw_steps) if raw_steps else ()
        ends_with_steps = "duration" not in doc
        if ends_with_steps:
            duration = longest(steps)
        network, link_faults = self.network(self.table("network", doc.get("network", {})))
        workload = self.workload(self.table("workload", doc.get("workload", {})), duration)
        faults = tuple(link_faults + self.events(events, duration))
        expects = doc.get("expect", [])
        if not isinstance(expects, list):
            raise self.fail("expect", "an array of tables ([[expect]])", expects)
        expectations = tuple(self.expectation(f"expect[{i + 1}]", e, duration) for i, e in enumerate(expects))
        scenario = Scenario(
            name,
            description,
            seed,
            duration,
            cluster,
            network,
            workload,
            faults,
            expectations,
            self.source,
            steps=steps,
            ends_with_steps=ends_with_steps,
        )
        if cluster.implementation or cluster.implementation_cmd:
            from sim.nodes.flags import refuse_unsupported

            # Loads the class, or boots the command once: what it declared decides what it can be asked for.
            kinds = tuple(e.kind for e in expectations)
            refuse_unsupported(cluster, self.source, kinds, actions_of(scenario))
        return scenario

    def cluster(self, t: dict[str, Any]) -> ClusterConfig:
        from sim.nodes.bugs import BUGS

        keys = (
            "nodes",
            "election_timeout",
            "heartbeat",
            "prevote",
            "check_quorum",
            "disk_latency",
            "max_batch",
            "max_inflight",
            "early_vote_requests",
            "snapshot_every",
            "snapshot_chunk",
            "bug",
            "max_events_per_ms",
            "implementation",
            "implementation_cmd",
            "read",
            "lease_drift",
        )
        self.check_keys("cluster", t, keys)
        self.nodes = nodes = self.integer("cluster.nodes", t.get("nodes", 5), 1, MAX_NODES)
        low, high = 150_000, 300_000
        if "election_timeout" in t:
            value = t["election_timeout"]
            if not isinstance(value, list) or len(value) != 2:
                raise self.fail("cluster.election_timeout", 'a [min, max] pair such as ["150ms", "300ms"]', value)
            low = self.time("cluster.election_timeout[1]", value[0], positive=True)
            high = self.time("cluster.election_timeout[2]", value[1], positive=True)
            if high < low:
                raise self.fail("cluster.election_timeout", "[min, max] with min <= max", value)
        heartbeat = self.time("cluster.heartbeat", t.get("heartbeat", 50), positive=True)
        every = self.integer("cluster.snapshot_every", t.get("snapshot_every", 0), 0, 1_000_000_000)
        if "snapshot_chunk" in t and not every:
            raise self.fail(
                "cluster.snapshot_chunk",
                "no chunk size while snapshot_every is 0 (snapshots are off)",
                t["snapshot_chunk"],
            )
        chunk = self.integer("cluster.snapshot_chunk", t.get("snapshot_chunk", 1024), 1, 1_000_000_000)
        read, lease_drift = self.reads(t)
        raft = RaftConfig(
            election_timeout_min=low,
            election_timeout_max=high,
            heartbeat_interval=heartbeat,
            max_batch=self.integer("cluster.max_batch", t.get("max_batch", 64), 1, 1_000_000),
            max_inflight=self.integer("cluster.max_inflight", t.get("max_inflight", 16), 1, 1_000_000),
            prevote=self.boolean("cluster.prevote", t.get("prevote", False)),
            check_quorum=self.boolean("cluster.check_quorum", t.get("check_quorum", False)),
            early_vote_requests=self.boolean("cluster.early_vote_requests", t.get("early_vote_requests", False)),
            snapshot_every=every,
            snapshot_chunk=chunk,
            read=read,
            lease_drift=lease_drift,
        )
        bug = None
        if "bug" in t:
            bug = self.string("cluster.bug", t["bug"])
            if bug not in BUGS:
                raise self.fail("cluster.bug", f"one of {', '.join(BUGS)}", bug)
        disk = self.time("cluster.disk_latency", t.get("disk_latency", 0))
        budget = self.integer("cluster.max_events_per_ms", t.get("max_events_per_ms", 0), 0, 1_000_000_000)
        impl = cmd = None
        if "implementation" in t:
            impl = self.string("cluster.implementation", t["implementation"])
            if impl.count(":") != 1 or impl.startswith(":") or impl.endswith(":"):
                raise self.fail("cluster.implementation", 'a Python node class as "module:Class"', impl)
        if "implementation_cmd" in t:
            cmd = self.string("cluster.implementation_cmd", t["implementation_cmd"])
            if not cmd.strip():
                raise self.fail("cluster.implementation_cmd", 'a command line such as "node examples/raft.js"', cmd)
            if impl is not None:
                raise self.fail("cluster.implementation_cmd", "either implementation or implementation_cmd", "both")
        if bug is not None and (impl or cmd):
            raise self.fail("cluster.bug", "no bug with another implementation (bugs are built-in node variants)")
        return ClusterConfig(
            nodes=nodes,
            raft=raft,
            disk_latency=disk,
            bug=bug,
            max_events_per_ms=budget,
            implementation=impl,
            implementation_cmd=cmd,
        )

    def reads(self, t: dict[str, Any]) -> tuple[str, float]:
        """``read`` (how a leader answers a get) and ``lease_drift`` (lease mode's clock-drift bound)."""
        read = t.get("read", LOG)
        if read not in READ_MODES:
            modes = ", ".join(f'"{m}"' for m in READ_MODES)
            raise self.fail("cluster.read", f"one of {modes}", read)
        if "lease_drift" not in t:
            return read, DEFAULT_LEASE_DRIFT
        if read != LEASE:
            raise self.fail(
                "cluster.lease_drift", f'no lease_drift unless read = "{LEASE}" (it bounds the lease)', t["lease_drift"]
            )
        return read, self.number("cluster.lease_drift", t["lease_drift"], 0.0, 100.0)

    def network(self, t: dict[str, Any]) -> tuple[NetworkConfig, list[Fault]]:
        self.check_keys("network", t, ("delay", "drop", "duplicate", "fifo", "links", "kinds"))
        delay: Delay = NetworkConfig.delay
        if "delay" in t:
            delay = self.delay("network.delay", t["delay"])
        drop = self.probability("network.drop", t.get("drop", 0.0))
        duplicate = self.probability("network.duplicate", t.get("duplicate", 0.0))
        fifo = self.boolean("network.fifo", t.get("fifo", False))
        links = t.get("links", [])
        if not isinstance(links, list):
            raise self.fail("network.links", "an array of tables ([[network.links]])", links)
        faults = []
        for i, link in enumerate(links):
            path = f"network.links[{i + 1}]"
            link = self.table(path, link)
            self.check_keys(path, link, ("from", "to", "delay"))
            src, dst = self.link(path, link)
            if "delay" not in link:
                raise self.fail(f"{path}.delay", "a delay distribution for this link (missing)")
            faults.append(Fault(0, "delay", src=src, dst=dst, delay=self.delay(f"{path}.delay", link["delay"])))
        rules = t.get("kinds", [])
        if not isinstance(rules, list):
            raise self.fail("network.kinds", "an array of tables ([[network.kinds]])", rules)
        for i, rule in enumerate(rules):
            # Loss and delay of some kinds of message: faults at time 0, as for links.
            path = f"network.kinds[{i + 1}]"
            rule = self.table(path, rule)
            self.check_keys(path, rule, ("kind", "drop", "delay"))
            if "kind" not in rule:
                raise self.fail(f"{path}.kind", "the kinds of message these apply to (missing)")
            kinds = read_kinds(self, f"{path}.kind", rule["kind"])
            if "drop" not in rule and "delay" not in rule:
                raise self.fail(path, "a drop probability, a delay, or both, for these kinds", None)
            if "drop" in rule:
                faults.append(Fault(0, "drop", value=self.probability(f"{path}.drop", rule["drop"]), kinds=kinds))
            if "delay" in rule:
                faults.append(Fault(0, "delay", delay=self.delay(f"{path}.delay", rule["delay"]), kinds=kinds))
        return NetworkConfig(delay=delay, drop=drop, duplicate=duplicate, fifo=fifo), faults

    def workload(self, t: dict[str, Any], duration: int) -> WorkloadConfig:
        keys = (
            "clients", "mode", "rate", "think", "timeout", "give_up", "redirect_backoff", "keys", "start", "stop",
            "ops", "beside",
        )  # fmt: skip
        self.check_keys("workload", t, keys)
        clients = self.integer("workload.clients", t.get("clients", 0), 0, 10_000)
        mode = t.get("mode", "open")
        if mode not in ("open", "closed"):
            raise self.fail("workload.mode", '"open" (Poisson arrivals at rate) or "closed" (one after another)', mode)
        rate = self.number("workload.rate", t.get("rate", 0.0), 0.0, 1e7)
        if mode == "open":
            if clients and not rate:
                raise self.fail(
                    "workload.rate", "a positive rate (operations per second) when clients > 0", t.get("rate", 0)
                )
            if rate and not clients:
                raise self.fail("workload.clients", "at least 1 client when rate > 0", clients)
            if "think" in t:
                raise self.fail(
                    "workload.think", 'no think time in mode "open" (it is for mode = "closed")', t["think"]
                )
        else:
            if "rate" in t:
                raise self.fail(
                    "workload.rate", 'no rate in mode "closed" (each client waits for the previous one)', t["rate"]
                )
            if not clients:
                raise self.fail("workload.clients", 'at least 1 client in mode "closed"', clients)
        think = self.time("workload.think", t.get("think", 0))
        start = self.time("workload.start", t.get("start", 0))
        stop = None
        if "stop" in t:
            stop = self.time("workload.stop", t["stop"])
            if stop < start:
                raise self.fail("workload.stop", f"a time not before workload.start ({format_time(start)})", t["stop"])
        ops, weights = self.operations(t.get("ops", list(OPS)))
        give_up = self.time("workload.give_up", t["give_up"], positive=True) if "give_up" in t else None
        return WorkloadConfig(
            clients=clients,
            rate=rate if mode == "open" else 0.0,
            timeout=self.time("workload.timeout", t.get("timeout", 500), positive=True),
            redirect_backoff=self.time("workload.redirect_backoff", t.get("redirect_backoff", 20), positive=True),
            keys=self.integer("workload.keys", t.get("keys", 8), 1, 1_000_000),
            start=start,
            stop=stop,
            ops=ops,
            weights=weights,
            mode=mode,
            think=think,
            give_up=give_up,
            beside=self.beside(t["beside"]) if "beside" in t else (),
        )

    def beside(self, value: Any) -> tuple[int, ...]:
        """``workload.beside``: a node id (every client beside that server) or a list (client i beside the i-th,
        round and round)."""
        if isinstance(value, list):
            if not value:
                raise self.fail("workload.beside", "a node id or a non-empty list of node ids", value)
            return tuple(self.node_id(f"workload.beside[{i + 1}]", v) for i, v in enumerate(value))
        return (self.node_id("workload.beside", value),)

    def operations(self, value: Any) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
        """``ops``: a list of operations drawn alike (``["get", "put"]``), or a table of relative weights
        (``{ get = 3, put = 1 }``)."""
        expected = (
            f"a non-empty list of operations from {', '.join(OPS)}, "
            "or a table of weights such as { get = 3, put = 1 }"
        )
        if isinstance(value, dict):
            if not value:
                raise self.fail("workload.ops", expected, value)
            weights = []
            for op, w in value.items():
                if op not in OPS:
                    raise self.unknown("workload.ops", op, OPS)
                weights.append(self.number(f"workload.ops.{op}", w, 0.0, 1e9))
            if not any(weights):
                raise self.fail("workload.ops", "at least one positive weight", value)
            return tuple(value), tuple(weights)
        if not isinstance(value, list) or not value:
            raise self.fail("workload.ops", expected, value)
        for i, op in enumerate(value):
            if op not in OPS:
                raise self.fail(f"workload.ops[{i + 1}]", f"one of {', '.join(OPS)}", op)
        return tuple(value), None

    # ----------------------------------------------------------------------------- events

    def collect_names(self, tables: list[Any]) -> None:
        """Note the names that ``as`` keys bind (in events, steps and the steps of repeated steps), before reading
        any, so that ``"@name"`` can be checked wherever it is used (whether each names servers: an ``as`` on an
        action with a target)."""
        for t in tables:
            if not isinstance(t, dict):
                continue
            if isinstance(t.get("as"), str):
                action = ACTIONS.get(t.get("do")) if isinstance(t.get("do"), str) else None
                servers = action is not None and "node" in action.keys
                self.names[t["as"]] = self.names.get(t["as"], False) or servers
            if isinstance(t.get("steps"), list):
                self.collect_names(t["steps"])

    def events(self, events: list[Any], duration: int) -> list[Fault]:
        faults: list[Fault] = []
        previous = 0
        for i, raw in enumerate(events):
            path = f"events[{i + 1}]"
            event = self.table(path, raw)
            if "at" not in event:
                raise self.fail(f"{path}.at", "the time of the event (missing)")
            action = read_action(self, path, event, EVENT_KEYS)
            at = self.time(f"{path}.at", event["at"])
            if at < previous:
                raise self.fail(
                    f"{path}.at",
                    f"events in time order: a time not before the previous event's ({format_ms(previous)})",
                    event["at"],
                )
            previous = at
            every, count, gaps = 0, 1, None
            if "every" in event or "count" in event:
                if "every" not in event or "count" not in event:
                    raise self.fail(path, "both 'every' and 'count' for a repeated event", None)
                if isinstance(event["every"], list):
                    gaps = self.gaps(f"{path}.every", event["every"])
                    every = gaps[0]
                else:
                    every = self.time(f"{path}.every", event["every"], positive=True)
                count = self.integer(f"{path}.count", event["count"], 1, 100_000)
            one = read_occurrence(self, path, event, action, every, "'every'" if gaps is None else "every gap")
            undo_at = one.undo[0] if one.undo else 0
            if gaps is not None:
                # Random gaps: one fault that schedules its own repetitions as it runs; the worst case must fit.
                worst = at + (count - 1) * gaps[1]
                self.within(path, duration, worst, worst + undo_at, count, "at most ")
                faults.append(Fault(at, **one.fields, guard=one.guard(gaps, count)))
                continue
            for k in range(count):
                t = at + k * every
                self.within(path, duration, t, t + undo_at, count, "", k)
                if one.guarded:
                    faults.append(Fault(t, **one.fields, guard=one.guard(None, 1)))
                    continue
                faults.append(Fault(t, **one.fields))
                if one.undo:
                    faults.append(Fault(t + one.undo[0], **one.undo[1]))
        faults.sort(key=lambda f: f.at)  # stable: simultaneous faults keep the file's order
        return faults

    def within(self, path: str, duration: int, fires: int, undone: int, count: int, bound: str, k: int = 0) -> None:
        """Repetition ``k`` of an event fires at ``fires`` and is undone at ``undone`` (or ``fires``): both must lie
        within the run."""
        for offset, t in ((0, fires), (1, undone)):
            if t > duration:
                what = f"{path}.at" if (k, offset, bound) == (0, 0, "") else path
                repetition = f"repetition {count if bound else k + 1} of " if count > 1 else ""
                raise self.fail(
                    what,
                    f"events within the run (duration {format_ms(duration)}), but {repetition}this event "
                    f"{'fires' if offset == 0 else 'is undone'} at {bound}{format_ms(t)}",
                    None,
                    show=False,
                )

    def gaps(self, path: str, value: list[Any]) -> tuple[int, int]:
        """``every = [min, max]``: gaps drawn uniformly from that range when the event runs."""
        if len(value) != 2:
            raise self.fail(path, 'a time, or a [min, max] range of gaps such as ["200ms", "500ms"]', value)
        low = self.time(f"{path}[1]", value[0], positive=True)
        high = self.time(f"{path}[2]", value[1], positive=True)
        if high < low:
            raise self.fail(path, "a [min, max] range with min <= max", value)
        return low, high

    # ------------------------------------------------------------------------------ steps

    def steps(self, path: str, raw: list[Any]) -> tuple[Step, ...]:
        if not raw:
            raise self.fail(path, "a non-empty array of tables of steps", raw)
        return tuple(self.step(f"{path}[{i + 1}]", t) for i, t in enumerate(raw))

    def step(self, path: str, raw: Any) -> Step:
        t = self.table(path, raw)
        forms = [k for k in STEP_FORMS if k in t]
        if len(forms) > 1:
            raise self.fail(path, f"one of {', '.join(STEP_FORMS)} per step", ", ".join(forms), show=False)
        if not forms:
            for key in t:
                if key != "as":
                    raise self.unknown(path, key, (*STEP_FORMS, "as"))
            if "as" not in t:
                raise self.fail(path, f"a step: one of {', '.join(STEP_FORMS)}, or an `as` alone (a moment)", t)
            return Step(bind=read_name(self, f"{path}.as", t["as"]))
        form = forms[0]
        if form == "do":
            action = read_action(self, path, t, ())
            one = read_occurrence(self, path, t, action, 0, "")
            guard = one.guard(None, 1) if one.guarded or one.undo else None
            return Step(action=Fault(0, **one.fields, guard=guard))
        bind = read_name(self, f"{path}.as", t["as"]) if "as" in t else None
        if form == "wait":
            self.check_keys(path, t, ("wait", "as"))
            return Step(wait=self.time(f"{path}.wait", t["wait"]), bind=bind)
        if form == "until":
            self.check_keys(path, t, ("until", "within", "as"))
            if "within" not in t:
                raise self.fail(f"{path}.within", 'a deadline for the wait, such as within = "5s" (missing)')
            until = read_condition(self, f"{path}.until", t["until"])
            return Step(until=until, within=self.time(f"{path}.within", t["within"], positive=True), bind=bind)
        if form == "check":
            self.check_keys(path, t, ("check", "as"))
            return Step(check=read_condition(self, f"{path}.check", t["check"]), bind=bind)
        self.check_keys(path, t, ("repeat", "steps", "as"))
        rounds = self.integer(f"{path}.repeat", t["repeat"], 1, 100_000)
        if "steps" not in t:
            raise self.fail(f"{path}.steps", "the steps to repeat ([[steps.steps]] tables) (missing)")
        inner = t["steps"]
        if not isinstance(inner, list):
            raise self.fail(f"{path}.steps", "an array of tables ([[steps.steps]])", inner)
        return Step(repeat=rounds, steps=self.steps(f"{path}.steps", inner), bind=bind)

    # ------------------------------------------------------------------------ expectations

    def expectation(self, path: str, raw: Any, duration: int) -> Expectation:
        e = self.table(path, raw)
        kinds = [k for k in e if k in EXPECTATION_KINDS]
        if len(kinds) != 1:
            for key in e:
                if key not in EXPECTATION_KINDS and key not in MODIFIER_NAMES:
                    raise self.unknown(path, key, (*EXPECTATION_KINDS, *MODIFIER_NAMES))
            got = ", ".join(kinds) if kinds else "none"
            raise self.fail(path, f"exactly one of {', '.join(EXPECTATION_KINDS)}", got, show=False)
        kind = kinds[0]
        allowed = (kind, *EXPECTATION_MODIFIERS.get(kind, ()))
        self.check_keys(path, e, allowed)
        kpath = f"{path}.{kind}"
        value = e[kind]

        def within_run(p: str, t: int, raw_value: Any) -> int:
            if t > duration:
                raise self.fail(p, f"a time within the run (duration {format_ms(duration)})", raw_value)
            return t

        if kind == "leader_within":
            start = None
            if "after" in e:
                start = within_run(f"{path}.after", self.time(f"{path}.after", e["after"]), e["after"])
            return Expectation(kind, self.time(kpath, value, positive=True), start=start)
        at = within_run(f"{path}.at", self.time(f"{path}.at", e["at"]), e["at"]) if "at" in e else None
        if kind == "committed_at_least":
            servers = self.integer(f"{path}.on", e["on"], 1, self.nodes) if "on" in e else None
            return Expectation(kind, self.integer(kpath, value, 0), start=at, servers=servers)
        if kind in ("acked_at_least", "min_elections", "max_elections", "max_term", "snapshots_installed_at_least"):
            return Expectation(kind, self.integer(kpath, value, 0))
        if kind in ("is_leader", "not_leader"):
            if isinstance(value, str):
                if not value.startswith("@"):
                    raise self.fail(kpath, 'a node id or "@name"', value)
                read_bound_name(self, kpath, value)
                return Expectation(kind, value, start=at)
            return Expectation(kind, self.node_id(kpath, value), start=at)
        if kind == "logs_converge_by":
            t = within_run(kpath, self.time(kpath, value), value)
            lag = self.time(f"{path}.lag", e["lag"]) if "lag" in e else None
            return Expectation(kind, t, lag=lag)
        if kind in ("no_leader", "no_commit"):
            if not isinstance(value, list) or len(value) != 2:
                raise self.fail(kpath, 'an interval [from, to] such as ["2s", "3s"]', value)
            start = within_run(f"{kpath}[1]", self.time(f"{kpath}[1]", value[0]), value[0])
            end = within_run(f"{kpath}[2]", self.time(f"{kpath}[2]", value[1]), value[1])
            if end < start:
                raise self.fail(kpath, "an interval [from, to] with from <= to", value)
            among = None
            if "among" in e:
                if e["among"] not in ("all", "connected"):
                    raise self.fail(f"{path}.among", '"all" (every live server) or "connected"', e["among"])
                among = e["among"] if e["among"] != "all" else None
            return Expectation(kind, None, start=start, end=end, among=among)
        if kind == "violation":
            names = (*EXPECTABLE, "any")
            if value not in names:
                raise self.fail(kpath, f"a property name: one of {', '.join(names)}", value)
            return Expectation(kind, value)
        if kind in ("max_messages", "min_messages"):
            kinds = read_kinds(self, f"{path}.kind", e["kind"]) if "kind" in e else ()
            start, end, start_name, end_name = None, None, None, None
            if "during" in e:
                during = e["during"]
                dpath = f"{path}.during"
                if not isinstance(during, list) or len(during) != 2:
                    raise self.fail(dpath, 'an interval [from, to] of times or "@name"s, like ["1s", "@done"]', during)
                ends: list[int | str] = []
                for j, v in enumerate(during):
                    epath = f"{dpath}[{j + 1}]"
                    if isinstance(v, str) and v.startswith("@"):
                        if v[1:] not in self.names:
                            raise self.fail(epath, "a moment bound by an `as` somewhere in the file", v)
                        ends.append(v[1:])
                    else:
                        ends.append(within_run(epath, self.time(epath, v), v))
                first, last = ends
                if isinstance(first, int) and isinstance(last, int) and last < first:
                    raise self.fail(dpath, "an interval [from, to] with from <= to", during)
                start, start_name = (first, None) if isinstance(first, int) else (None, first)
                end, end_name = (last, None) if isinstance(last, int) else (None, last)
            count = self.integer(kpath, value, 0)
            return Expectation(kind, count, start=start, end=end, kinds=kinds, start_name=start_name, end_name=end_name)
        if kind == "leader_at_end":
            return Expectation(kind, self.node_id(kpath, value))
        if kind in ("clients_complete", "state_machines_agree"):
            if value is not True:
                raise self.fail(kpath, "true", value)
            return Expectation(kind, True)
        if kind == "members_at_end":
            if isinstance(value, int) and not isinstance(value, bool):
                return Expectation(kind, self.integer(kpath, value, 1, MAX_NODES))
            if not isinstance(value, list) or not value:
                raise self.fail(kpath, "a non-empty list of node ids (the members), or how many there are", value)
            ids = tuple(self.node_id(f"{kpath}[{i + 1}]", v) for i, v in enumerate(value))
            if len(set(ids)) != len(ids):
                raise self.fail(kpath, "a list of distinct node ids", value)
            return Expectation(kind, ids)
        # latency_p99_below
        return Expectation(kind, self.time(kpath, value, positive=True))


# ============================================================================================ loading


def loads(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate a scenario from TOML text. ``source`` names the file in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            head = message[: match.start()].strip()
            raise ScenarioError(
                f"{source}:{match.group(1)}: TOML syntax: expected valid TOML, got: {head} (column {match.group(2)})"
            ) from None
        raise ScenarioError(f"{source}: TOML syntax: expected valid TOML, got: {message}") from None
    if not doc:
        raise ScenarioError(f"{source}: expected a scenario (at least duration = ...), got an empty file")
    default_name = Path(source).stem if source != "<string>" else "scenario"
    return _Parser(source, text).scenario(doc, default_name)


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    source = str(path)
    if p.is_dir():
        raise ScenarioError(f"{source}: expected a scenario file (.toml), got a directory")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{source}: expected a scenario file, got no such file") from None
    except OSError as e:
        raise ScenarioError(f"{source}: expected a readable scenario file, got {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ScenarioError(f"{source}:{line}: expected UTF-8 text (TOML), got a byte that is not UTF-8") from None
    return loads(text, source)
