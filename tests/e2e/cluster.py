"""Start `bibid cluster up` (nginx, PostgreSQL, Redis, two nodes per service) for the tests."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from .harness import ROOT, SERVICES

TIMEOUT = 30


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(size: int = 40) -> int:
    """A base port with `size` free ports above it (the cluster's internal ports)."""
    for _ in range(200):
        base = random.randrange(20000, 40000, 50)
        if all(_free(p) for p in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports")


class FromAddress(HTTPAdapter):
    """Connect from another loopback address (127.0.0.2, …): the balancer then reports that
    address to the services, so a test's guessing lanes are its own."""

    def __init__(self, address: str, **kwargs) -> None:
        self.address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


@dataclass
class Cluster:
    state: Path
    process: subprocess.Popen
    log_path: Path
    port_base: int
    public_ports: dict[str, int]

    @property
    def ca(self) -> str:
        return str(self.state / "tls" / "ca.pem")

    def url(self, service: str) -> str:
        return f"https://127.0.0.1:{self.public_ports[service]}"

    def node_url(self, service: str, node: int) -> str:
        offset = {"identity": 0, "library": 10, "reading": 20}[service]
        return f"http://127.0.0.1:{self.port_base + offset + node - 1}"

    def http(self, source: str | None = None) -> requests.Session:
        session = requests.Session()
        # Not the environment's REQUESTS_CA_BUNDLE (CI's machine has one), which requests
        # would put before the session's own `verify`.
        session.trust_env = False
        session.verify = self.ca
        if source:
            session.mount("https://", FromAddress(source))
        return session

    def node_request(self, method: str, service: str, node: int, path: str, **kwargs):
        """A request straight to one node, as the balancer sends it (public Host, https)."""
        headers = {
            "Host": f"127.0.0.1:{self.public_ports[service]}",
            "X-Forwarded-Proto": "https",
            **kwargs.pop("headers", {}),
        }
        return requests.request(
            method,
            self.node_url(service, node) + path,
            headers=headers,
            allow_redirects=False,
            timeout=TIMEOUT,
            **kwargs,
        )

    def bibid(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bibid", "cluster", *args],
            cwd=ROOT,
            env=cluster_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"bibid cluster {' '.join(args)}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def run(self, *args: str) -> str:
        return self.bibid("run", "--state", str(self.state), "--", *args)

    def shell(self, service: str, code: str) -> str:
        return self.run(service, "shell", "-v", "0", "-c", code)

    def secrets(self) -> dict[str, str]:
        values = {}
        for line in (self.state / "secrets.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
        return values

    def pid(self, name: str) -> int:
        return int((self.state / "run" / f"{name}.pid").read_text().strip())

    def wait_node(self, service: str, node: int, *, not_pid: int | None = None) -> None:
        """Until the node answers again (under a new master when `not_pid` is given)."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                pid = self.pid(f"{service}-web-{node}")
                answer = requests.get(self.node_url(service, node) + "/healthz", timeout=2)
                if answer.status_code == 200 and pid != not_pid:
                    return
            except (OSError, ValueError, requests.RequestException):
                pass
            time.sleep(0.2)
        raise AssertionError(f"{service}-web-{node} did not come back:\n{self.log_tail()}")

    def access_log(self) -> list[dict]:
        path = self.state / "nginx" / "access.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def cluster_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test runner's environment without what would make the cluster a demo."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BIBID_DEMO", "DEBUG", "BIBID_TEST_CLOCK_FILE", "BIBID_VAR_DIR")
    }
    env.update(extra or {})
    return env


def start_cluster(
    state: Path,
    *,
    extra_env: dict[str, str] | None = None,
    port_base: int | None = None,
    public_ports: dict[str, int] | None = None,
    web_workers: int = 1,
) -> Cluster:
    port_base = port_base or free_block()
    public_ports = public_ports or {s: port_base + 40 + i for i, s in enumerate(SERVICES)}
    log_path = state.parent / f"{state.name}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bibid",
            "cluster",
            "up",
            "--state",
            str(state),
            "--port-base",
            str(port_base),
            "--public-ports",
            ",".join(str(public_ports[s]) for s in SERVICES),
            # One gunicorn worker of 4 threads per node keeps the whole topology within CI's
            # two cores; two nodes per service is what the tests are about.
            "--web-workers",
            str(web_workers),
        ],
        cwd=ROOT,
        env=cluster_env(extra_env),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster = Cluster(state, process, log_path, port_base, public_ports)
    deadline = time.monotonic() + 180
    waiting = list(SERVICES)
    while waiting:
        if process.poll() is not None or time.monotonic() > deadline:
            cluster.stop()
            raise AssertionError(f"the cluster did not start:\n{cluster.log_tail()}")
        try:
            answer = requests.get(f"{cluster.url(waiting[0])}/readyz", verify=cluster.ca, timeout=5)
            if answer.status_code == 200:
                waiting.pop(0)
                continue
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.5)
    # Every node, not only the first the balancer found.
    for service in SERVICES:
        nodes = 1 if service == "reading" else 2
        for node in range(1, nodes + 1):
            cluster.wait_node(service, node)
    return cluster
