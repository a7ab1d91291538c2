"""Start the whole system the way `bibid up` does, on free ports, for cross-service tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SERVICES = ("identity", "library", "reading")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class System:
    """A running Bibid: URLs, the environment its commands need, and its demo sign-ins."""

    env: dict[str, str]
    urls: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    demo: dict = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    clock_file: Path | None = None

    def move_clock(self, **delta: float) -> None:
        """Move every service's clock forward (BIBID_TEST_CLOCK_FILE, test runs only)."""
        from datetime import timedelta

        current = float(self.clock_file.read_text() or 0)
        self.clock_file.write_text(str(current + timedelta(**delta).total_seconds()))

    def bibid(self, *args: str, input: str | None = None, check: bool = True) -> str:
        """Run a `bibid` command against this system; return its standard output."""
        done = subprocess.run(
            [sys.executable, "-m", "bibid", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"bibid {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def identity_shell(self, code: str) -> str:
        """Run Python in the identity service's context (operator tooling; tests set up data)."""
        return self.bibid("identity", "shell", "-v", "0", "-c", code)

    def create_patron(
        self, username: str, password: str | None, *, active: bool = True, recovery_email: str = ""
    ) -> None:
        self.identity_shell(
            "from bibid.identity.accounts.services import create_account\n"
            "from bibid.identity.accounts.actors import Actor\n"
            f"create_account(username={username!r}, password={password!r}, active={active!r},"
            f" recovery_email={recovery_email!r}, actor=Actor.system('test'))\n"
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def processes(self) -> dict[int, tuple[int, str]]:
        """Every process below `bibid up` (read from /proc): {pid: (parent pid, command line)}."""
        return descendants(self.process.pid) if self.process else {}

    def program_pids(self, fragment: str) -> list[int]:
        """The pids of the supervised programs whose command line contains `fragment`
        (children of `bibid up` itself, e.g. a gunicorn master, not one of its workers)."""
        return [
            pid
            for pid, (ppid, cmd) in self.processes().items()
            if ppid == self.process.pid and fragment in cmd
        ]

    def program_pid(self, fragment: str) -> int:
        found = self.program_pids(fragment)
        assert len(found) == 1, f"{fragment!r}: {found}"
        return found[0]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _proc_table() -> dict[int, tuple[int, str]]:
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:  # gone meanwhile
            continue
        # The command name in stat is in parentheses and may hold spaces: split after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, cmdline)
    return table


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every living process below `root` (Linux /proc; no psutil)."""
    table = _proc_table()
    found: dict[int, tuple[int, str]] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, cmd) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = (ppid, cmd)
                todo.append(pid)
    return found


def _postgres_databases(base_url: str, tag: str) -> dict[str, str]:
    import psycopg

    urls = {}
    with psycopg.connect(base_url, autocommit=True) as conn:
        for service in SERVICES:
            name = f"bibid_e2e_{service}_{tag}"
            conn.execute(f'CREATE DATABASE "{name}"')
            urls[service] = urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))
    return urls


def _drop_postgres_databases(base_url: str, tag: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        for service in SERVICES:
            conn.execute(f'DROP DATABASE IF EXISTS "bibid_e2e_{service}_{tag}" WITH (FORCE)')


def wait_ready(system: System, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = set(SERVICES)
    while pending:
        if system.process and system.process.poll() is not None:
            raise RuntimeError(f"bibid up exited early:\n{system.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"services not ready: {sorted(pending)}\n{system.log_tail()}")
        for service in list(pending):
            try:
                with urllib.request.urlopen(f"{system.urls[service]}/readyz", timeout=2) as r:
                    if r.status == 200:
                        pending.discard(service)
            except OSError:
                pass
        time.sleep(0.3)


def eventually(check: Callable[[], Any], what: str, timeout: float) -> Any:
    """Poll until check() returns something truthy (task workers deliver asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.5)


def start_system(
    var_dir: Path,
    *,
    workers: int = 2,
    threads: int = 2,
    extra_env: dict[str, str] | None = None,
    embedded: bool = False,
) -> System:
    """Start `bibid up` on free ports. `embedded`: as on a fresh clone, with no BIBID_DEMO,
    DEBUG or secret key in the environment (bibid applies its embedded demo default)."""
    env = dict(os.environ)
    for key in list(env):
        if key.endswith("_DATABASE_URL") or key == "DJANGO_SETTINGS_MODULE":
            env.pop(key)
        if embedded and (key.endswith("_SECRET_KEY") or key in ("BIBID_DEMO", "DEBUG")):
            env.pop(key)
    # One trusted proxy hop: tests that need their own client address send X-Forwarded-For
    # (as a reverse proxy would); everything else is seen as 127.0.0.1.
    env.update(
        {
            "BIBID_VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1",
            "BIBID_TRUSTED_PROXIES": "1",
        }
    )
    if not embedded:
        env["BIBID_DEMO"] = "1"
    urls = {}
    for service in SERVICES:
        port = free_port()
        env[f"{service.upper()}_PORT"] = str(port)
        env.pop(f"{service.upper()}_PUBLIC_URL", None)
        urls[service] = f"http://127.0.0.1:{port}"
    tag = uuid.uuid4().hex[:8]
    databases: list[str] = []
    # The embedded default is SQLite under var/ by definition, also in the PostgreSQL run.
    pg = None if embedded else os.environ.get("BIBID_TEST_POSTGRES_URL")
    if pg:
        for service, url in _postgres_databases(pg, tag).items():
            env[f"{service.upper()}_DATABASE_URL"] = url
        databases.append(tag)
    env.update(extra_env or {})
    for service in SERVICES:
        # extra_env may name a service's port or public URL (WebAuthn needs a host name such
        # as localhost: browsers refuse an IP address as its relying party id).
        prefix = service.upper()
        urls[service] = (
            env.get(f"{prefix}_PUBLIC_URL") or f"http://127.0.0.1:{env[f'{prefix}_PORT']}"
        )
    log_path = var_dir / "bibid-up.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bibid", "up", "--workers", str(workers), "--threads", str(threads)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    system = System(env=env, urls=urls, log_path=log_path, process=process, databases=databases)
    try:
        wait_ready(system)
        system.demo = json.loads(system.bibid("demo", "--show", "--json"))
    except BaseException:
        stop_system(system)
        raise
    return system


def stop_system(system: System) -> None:
    system.stop()
    pg = os.environ.get("BIBID_TEST_POSTGRES_URL")
    for tag in system.databases:
        if pg:
            _drop_postgres_databases(pg, tag)
