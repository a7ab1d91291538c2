"""Keep `bibid up`'s processes running: restart with back-off, prefix output, stop cleanly.

Why a small loop of our own instead of a library. We looked for a well-kept supervisor that
does what `bibid up` needs, in the foreground, with nothing more to install:

- honcho (what `bibid up` used before) prefixes output well, but its Manager stops every
  process as soon as one exits and never restarts anything: the fault this module fixes.
- supervisor (supervisord -n) restarts, stops process groups and escalates to SIGKILL, but it
  cannot prefix a child's output with its name when it goes to the terminal, its back-off
  grows by one second per attempt without a cap and gives up after `startretries` (FATAL),
  and it adds a configuration file and an XML-RPC control socket to secure.
- circus needs ZeroMQ and runs its own daemon and control channel.

So this is a small loop on top of subprocess: each child runs in its own process
group; its standard output and error are read by a thread and printed line by line as
`HH:MM:SS name | line`; when a child exits, whatever is left of its process group is killed
(a gunicorn master killed with -9 leaves workers holding the port) and it is started again
after a delay that doubles from 1 s to 60 s, and starts at 1 s again once the child has stayed
up for a while. It never gives up: a service that cannot start (its database is down, say)
keeps being tried every minute, and says so in one line each time. SIGINT or SIGTERM stops
everything: SIGTERM to every child's process group, SIGKILL to whatever is still there after a
grace period, and `bibid up` returns only when every child is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

FIRST_DELAY = 1.0
MAX_DELAY = 60.0
# A child that stayed up this long is considered healthy again: its next crash is restarted
# after FIRST_DELAY, not after the delay its earlier crash loop had reached.
STABLE_AFTER = 30.0
STOP_GRACE = 10.0
POLL = 0.2

_PR_SET_PDEATHSIG = 1


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _die_with_parent() -> None:
    """Run in the child between fork and exec: SIGTERM it when `bibid up` dies.

    Without this a `bibid up` killed with -9 (or by the OOM killer) would leave nine
    processes behind that hold the ports, because each child is in its own process group and
    a kill of ours does not reach them. Linux only; elsewhere the clean stop still applies.
    """
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


# Resolved once in the parent, so the child only makes one system call before exec (no
# imports or allocations after fork, which are what make preexec_fn risky beside threads).
_libc = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@dataclass
class Program:
    """One supervised command: its name (the output prefix), argv and environment."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    # Run as this user (a root `bibid cluster up` runs PostgreSQL and Redis as their own
    # users: PostgreSQL refuses root, and a data server has no business with root's rights).
    user: str | None = None
    # How the program wants to be asked to stop: PostgreSQL's SIGTERM is a "smart" shutdown
    # that waits for every client to leave, SIGINT is its fast and clean one.
    stop_signal: int = signal.SIGTERM
    # Start order and the reverse stop order: data servers (0) before the services that use
    # them (1), the balancer in front (2) last; stopping goes 2, 1, 0, so no request is
    # accepted that could not be served and no service loses its database under a request.
    tier: int = 1
    process: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = None
    restarts: int = 0
    reader: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    """Run programs until stopped, restarting any that exits (see the module docstring)."""

    def __init__(
        self,
        programs: Sequence[Program],
        *,
        out: IO[str] | None = None,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        stable_after: float = STABLE_AFTER,
        stop_grace: float = STOP_GRACE,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.programs = list(programs)
        # Called once the lowest tier runs and before the others start (`bibid cluster up`
        # waits for its databases there and migrates them); an exception stops everything.
        self.prepare = prepare
        self.out = out or sys.stdout
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.stop_grace = stop_grace
        self.width = max((len(p.name) for p in self.programs), default=8)
        self.width = max(self.width, len("supervisor"))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._signals = 0

    # Output -------------------------------------------------------------------------------

    def say(self, name: str, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self.out.write(f"{stamp} {name:<{self.width}} | {line}\n")
            self.out.flush()

    def log(self, line: str) -> None:
        self.say("supervisor", line)

    def _pump(self, program: Program, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(program.name, raw.decode("utf-8", "replace").rstrip("\r\n"))
        stream.close()

    # Children -----------------------------------------------------------------------------

    def _spawn(self, program: Program) -> None:
        # Called from the main thread only: the kernel sends PR_SET_PDEATHSIG when the
        # *thread* that forked the child ends, so a short-lived thread must never fork.
        program.restart_at = None
        try:
            process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
                list(program.argv),
                env=program.env,
                stdin=subprocess.DEVNULL,
                user=program.user,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own process group: a stop or a clean-up reaches the child and everything
                # it started (gunicorn's workers), and the terminal's Ctrl-C reaches only us,
                # so the order of stopping is ours.
                process_group=0,
                # One prctl call, see _die_with_parent. It runs after the switch to `user`,
                # which matters: changing the user clears a parent-death signal set before.
                preexec_fn=_die_with_parent,
            )
        except OSError as error:
            self.log(f"{program.name} could not start ({error}); retrying in {program.delay:g} s")
            self._schedule(program)
            return
        program.process = process
        program.started_at = time.monotonic()
        program.reader = threading.Thread(
            target=self._pump,
            args=(program, process.stdout),
            daemon=True,
            name=f"output of {program.name}",
        )
        program.reader.start()

    def _schedule(self, program: Program) -> None:
        program.restart_at = time.monotonic() + program.delay
        program.delay = min(program.delay * 2, self.max_delay)

    def _reap(self, program: Program) -> None:
        """A child exited: clean up its process group, log it, plan its restart."""
        process = program.process
        assert process is not None
        code = process.returncode
        _kill_group(process.pid, signal.SIGKILL)
        if program.reader is not None:
            program.reader.join(timeout=2)
        program.process = None
        if time.monotonic() - program.started_at >= self.stable_after:
            program.delay = self.first_delay
        how = f"{code} ({_signal_name(code)})" if code < 0 else str(code)
        program.restarts += 1
        self.log(f"{program.name} exited with {how}; restarting in {program.delay:g} s")
        self._schedule(program)

    # Running and stopping -----------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals += 1
        if self._signals > 1:
            # A second Ctrl-C: the operator does not want to wait for the grace period.
            for program in self.programs:
                if program.process is not None:
                    _kill_group(program.process.pid, signal.SIGKILL)
        self._stop.set()

    def run(self) -> int:
        """Start every program and keep them running until SIGINT or SIGTERM.

        Returns 0 after a requested stop, 1 when `prepare` failed (everything is stopped)."""
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        status = 0
        try:
            tiers = sorted({p.tier for p in self.programs})
            for number, tier in enumerate(tiers):
                for program in self.programs:
                    if program.tier == tier and not self._stop.is_set():
                        program.delay = self.first_delay
                        self._spawn(program)
                if number == 0 and self.prepare is not None and not self._stop.is_set():
                    try:
                        self.prepare()
                    except Exception as error:
                        self.log(f"could not start: {error}")
                        status = 1
                        self._stop.set()
            while not self._stop.wait(POLL):
                now = time.monotonic()
                for program in self.programs:
                    if program.process is not None and program.process.poll() is not None:
                        self._reap(program)
                    elif (
                        program.process is None
                        and program.restart_at is not None
                        and now >= program.restart_at
                    ):
                        self._spawn(program)
            self.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def stop(self) -> None:
        """Stop tier by tier, highest first: the stop signal to every child's process group,
        SIGKILL to what is left of a tier after the grace period."""
        running = [p for p in self.programs if p.process is not None]
        self.log(f"stopping {len(running)} processes")
        for tier in sorted({p.tier for p in running}, reverse=True):
            self._stop_tier([p for p in running if p.tier == tier])
        self.log("stopped")

    def _stop_tier(self, running: list[Program]) -> None:
        for program in running:
            _kill_group(program.process.pid, program.stop_signal)
        deadline = time.monotonic() + self.stop_grace
        for program in running:
            try:
                program.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{program.name} did not stop within {self.stop_grace:g} s; killing it")
        for program in running:
            # Also after a clean exit: a grandchild that ignored SIGTERM must not outlive us.
            _kill_group(program.process.pid, signal.SIGKILL)
            program.process.wait()
            if program.reader is not None:
                program.reader.join(timeout=2)
            program.process = None


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
