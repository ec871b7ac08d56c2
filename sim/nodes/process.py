"""A node in another process, in any language: the contract's JSON Lines form (``examples/CONTRACT.md``).

``ProcessNode`` is called like the built-in node's class, one per server boot, and starts one OS process that
speaks JSON Lines on its standard input and output. Each input (``start``, ``step``, ``tick``, ``query``) is one
line written and one line read back, in lock step, so a run stays a pure function of its seed. The process is
killed when its server crashes (``close``), and a restart starts a new one from the durable state the simulator
kept.

A process that exits, hangs past the time limit or writes what the contract does not allow raises
``NodeFailure``: the run stops there with the property ``NodeFailure``, a finding with a seed and a shrunk
scenario like any other. The time limit (``hang_limit``, wall-clock seconds) is the only use of the wall clock: it
decides whether a hang is reported, never anything else.

No process outlives the simulator: each is killed by ``close``, when its ``ProcessNode`` is collected, at exit
(``weakref.finalize``), and by the kernel when the simulator dies any other way (``PR_SET_PDEATHSIG`` on Linux);
each runs in a session of its own, so a Ctrl-C at the terminal reaches the simulator only, which then ends them.

Cheap by construction: one ``write`` and usually one ``read`` system call per input (the answer is read into a
buffer, not byte by byte), messages kept as the JSON their sender wrote and encoded once whatever the number of
deliveries, and the log the node wrote kept here so that applied entries are known without being sent back.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import random
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import asdict
from functools import partial
from typing import IO, Any

from sim.nodes import wire
from sim.nodes.contract import CAPABILITIES, STATE, Implementation, ImplementationError, NodeFailure
from sim.raft.messages import Entry
from sim.raft.node import FOLLOWER, RaftConfig
from sim.raft.output import Output, PersistentState, SoftState

hang_limit = 10.0  # wall-clock seconds a node may take to answer one input before it is reported as hung


def set_hang_limit(seconds: float) -> None:
    """``--node-timeout``: the wall-clock seconds a process may take to answer one input."""
    global hang_limit
    hang_limit = seconds


def _prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()
_PR_SET_PDEATHSIG = 1


def _in_child() -> None:
    """Run in the child between fork and exec: die with the simulator (SIGKILL when its parent thread ends)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _end(proc: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    """Kill the process (if it still runs) and reap it, so that no zombie or orphan is left; close its pipes."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored: this is quick
        proc.wait(timeout=5)
    for f in (proc.stdin, proc.stdout, stderr):
        try:
            if f is not None:
                f.close()
        except OSError:
            pass


def _spawn(argv: tuple[str, ...]) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    # Kept open for the process's life (closed by ``_end``): its standard error, read back only for a report.
    stderr = tempfile.TemporaryFile(prefix="raftsim-node-")  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
            preexec_fn=_in_child,
        )
    except OSError as e:
        stderr.close()
        raise NodeFailure(f"cannot start {shlex.join(argv)}: {e.strerror or e}") from None
    return proc, stderr


# One process started ahead for each command, not yet booted: a restarted server takes it, so the interpreter's
# start-up (tens of milliseconds for Node.js) overlaps with the simulation instead of stalling it. Keyed by the
# process id too: a forked campaign worker must never use its parent's spare.
_spares: dict[tuple[int, tuple[str, ...]], tuple[subprocess.Popen[bytes], IO[bytes]]] = {}


def _take(argv: tuple[str, ...]) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    key = (os.getpid(), argv)
    spare = _spares.pop(key, None)
    if spare is None or spare[0].poll() is not None:
        if spare is not None:
            _end(*spare)
        spare = _spawn(argv)
    with contextlib.suppress(NodeFailure):  # the next boot will say why
        _spares[key] = _spawn(argv)
    return spare


@atexit.register
def _end_spares() -> None:
    for key, spare in list(_spares.items()):
        if key[0] == os.getpid():
            _end(*spare)
    _spares.clear()


class ProcessNode:
    """One server's node as an OS process (see the module's docstring). Build it with ``process_implementation``,
    which binds the command."""

    def __init__(
        self,
        argv: tuple[str, ...],
        node_id: int,
        voters: tuple[int, ...],
        config: RaftConfig,
        rng: random.Random,
        state: PersistentState | None = None,
    ) -> None:
        state = state or PersistentState()
        self.id = node_id
        self.voters = tuple(voters)
        self.peers = frozenset(v for v in self.voters if v != node_id)
        self.config = config
        self.seed = rng.getrandbits(63)  # the node's own randomness, from the server's seeded stream
        self.durable = state
        # The log as the node's writes left it (they become durable before the next input): applied entries are
        # read from here, so the node never sends them back.
        self.log: list[Entry] = list(state.entries)
        self.applied = 0
        self.reported: tuple[str, int, int | None, int, int] | None = None
        self.capabilities: frozenset[str] = frozenset()
        self.last_input = "boot"
        self._buffer = b""
        self.proc, self._stderr = _take(argv)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self._poll_out = select.poll()
        self._poll_out.register(self._out, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._closer = weakref.finalize(self, _end, self.proc, self._stderr)

    # ---------------------------------------------------------------------------------------- the inputs

    def start(self, now: int) -> Output:
        s = self.durable
        config = asdict(self.config)
        line = wire.boot_line(self.id, self.voters, config, self.seed, s.term, s.voted_for, s.entries, now)
        self.last_input = f"boot at local time {now}us"
        d = self._call(line)
        version = d.get("version")
        if version != 1:
            raise self._failure(wire._bad("version (in the boot answer)", "1", version))
        caps = d.get("capabilities", [])
        if type(caps) is not list or not all(type(c) is str for c in caps):
            raise self._failure(wire._bad("capabilities", "a list of names", caps))
        self.capabilities = frozenset(c for c in caps if c in CAPABILITIES)
        return self._output(d)

    def step(self, m: Any, now: int) -> Output:
        self.last_input = f"{getattr(m, 'kind', None) or type(m).__name__} from {m.src} at local time {now}us"
        return self._output(self._call(wire.message_line(m, now)))

    def tick(self, timer: str, now: int) -> Output:
        self.last_input = f"timer {timer!r} at local time {now}us"
        return self._output(self._call(wire.timer_line(timer, now)))

    def query(self, what: str) -> str | None:
        self.last_input = f"query {what!r}"
        d = self._call(wire.query_line(what, 0))
        value = d.get(what)
        if value is not None and type(value) is not str:
            raise self._failure(wire._bad(what, "a string", value))
        return value

    def close(self) -> None:
        self._closer()

    # ------------------------------------------------------------------------------------------- the pipe

    def _call(self, line: bytes) -> dict[str, Any]:
        """Write one input line and read one output line (lock step), within the time limit."""
        deadline = time.monotonic() + hang_limit
        view = memoryview(line)
        while view:
            try:
                n = os.write(self._in, view)
            except BlockingIOError:  # the pipe is full: the node is not reading
                self._wait(deadline, write=True)
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise self._died() from None
            view = view[n:]
        buf = self._buffer
        end = buf.find(b"\n")
        while end < 0:
            self._wait(deadline)
            try:
                chunk = os.read(self._out, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                raise self._died()
            start = len(buf)
            buf += chunk
            end = buf.find(b"\n", start)
        self._buffer = buf[end + 1 :]
        if self._buffer.strip():
            raise self._failure(NodeFailure(f"malformed output: more than one line for one input: {buf[:120]!r}"))
        try:
            return wire.parse_object(buf[:end])
        except NodeFailure as e:
            raise self._failure(e) from None

    def _wait(self, deadline: float, write: bool = False) -> None:
        remaining = deadline - time.monotonic()
        if write:
            ready = select.select([], [self._in], [], max(0.0, remaining))[1] if remaining > 0 else []
        else:
            ready = self._poll_out.poll(max(0, int(remaining * 1000) + 1)) if remaining > 0 else []
        if not ready:
            raise self._failure(
                NodeFailure(f"hung: no answer within {hang_limit:g}s of wall-clock time (the time limit)")
            )

    def _died(self) -> NodeFailure:
        try:
            code = self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return self._failure(NodeFailure("closed its standard output"))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return self._failure(NodeFailure(f"{how} (it must answer every input with one line)"))

    def _failure(self, e: NodeFailure) -> NodeFailure:
        """The finding, with where it happened and what the node said on its standard error last; the process is
        ended."""
        self._stderr.flush()
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 400))
            tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        except (OSError, ValueError):
            tail = []
        self.close()
        where = f"node {self.id}'s process, after input {self.last_input}: "
        said = f" (its stderr ends: {' | '.join(tail)})" if tail else ""
        return NodeFailure(where + str(e) + said)

    # ----------------------------------------------------------------------------------------- the output

    def _output(self, d: dict[str, Any]) -> Output:
        """The answer as an ``Output`` (``sim.raft.output``), checked field by field."""
        out = Output()
        try:
            hs = d.get("hard_state")
            if hs is not None:
                out.hard_state = wire.hard_state(hs)
            lg = d.get("log")
            if lg is not None:
                if type(lg) is not dict:
                    raise wire._bad("log", 'an object {"from": I, "entries": [...]}', lg)
                start = wire._int("log.from", lg.get("from"), 1)
                if start > len(self.log) + 1:
                    raise wire._bad("log.from", f"an index at most one past the log's end ({len(self.log) + 1})", start)
                written = wire.entries(lg.get("entries", []))
                del self.log[start - 1 :]
                self.log.extend(written)
                out.log_from = start
                out.log_entries = written
            # After the log write: what it applied may be what this very input appended.
            state = d.get("state")
            if state is not None:
                soft = wire.soft_state(state)
                if soft != self.reported:
                    self.reported = soft
                    out.soft_state = wire.soft_state_value(soft)
                applied = soft[4]
                if applied > self.applied:
                    log = self.log
                    top = min(applied, len(log))
                    out.applied = [(i, log[i - 1]) for i in range(self.applied + 1, top + 1)]
                    self.applied = applied
            send = d.get("send")
            if send is not None:
                out.messages = wire.messages("send", send, self.id, self.peers)
            early = d.get("send_early")
            if early is not None:
                out.unsynced_messages = wire.messages("send_early", early, self.id, self.peers)
            replies = d.get("replies")
            if replies is not None:
                out.messages.extend(wire.replies(replies, self.id))
            timers = d.get("timers")
            if timers is not None:
                out.timers = wire.timers(timers)
        except NodeFailure as e:
            raise self._failure(e) from None
        if out.hard_state is not None and STATE not in self.capabilities:
            # A black box: its term is known from its durable writes (the checker holds it to never decreasing).
            out.soft_state = SoftState(FOLLOWER, out.hard_state[0], None, 0, 0)
        return out


def process_implementation(command: str) -> Implementation:
    """The implementation run by ``command`` (``--node-cmd``), with the capabilities it declares when it boots:
    asked once, of a process booted as server 1 of 3 with nothing durable, then ended."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError as e:
        raise ImplementationError(f"expected a command line, got {command!r} ({e})") from None
    if not argv:
        raise ImplementationError("expected a command line, got an empty one")
    try:
        probe = ProcessNode(argv, 1, (1, 2, 3), RaftConfig(), random.Random(0))
    except NodeFailure as e:
        raise ImplementationError(str(e)) from None
    try:
        probe.start(0)
    except NodeFailure as e:
        raise ImplementationError(f"{command!r} did not boot: {e}") from None
    finally:
        probe.close()
    return Implementation(partial(ProcessNode, argv), probe.capabilities, command)
