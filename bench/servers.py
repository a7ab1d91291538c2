"""The identity service's form login under gunicorn and under Granian, side by side over HTTP.

Starts the identity service alone, twice on one database (SQLite under a fresh var dir):
under gunicorn exactly as `bibid up` starts it (bibid.common.serving.web_command: the
load-shedding gthread Worker, which freezes the loaded heap, `--workers` x `--threads`), and
under Granian's WSGI interface with as many workers and blocking threads (this module's
`application`: the same WSGI application, with the same heap freeze after loading). Then,
in rounds that take turns (bare Argon2id verifications, one server, the other; the order
of the servers swaps each round), it drives form logins with bench/login.py's client and
patrons (each patron's browser keeps its device cookie and its CSRF token; each login is a
fresh sign-in) and, with `--gets`, plain GETs of the sign-in page. For each server: logins/s,
the ratio to the hash-bound limit, p50, and the CPU time per login of the server's own
processes (from /proc).

Granian is not a dependency of Bibid: install it apart and point --granian-path at it, e.g.

    .venv/bin/python -m venv /tmp/granian-venv
    /tmp/granian-venv/bin/pip install --target /tmp/srv granian
    .venv/bin/python bench/servers.py --granian-path /tmp/srv [--requests 400] [--gets 1000]

Only numbers are printed; the run fails (exit 1) only when a login does not succeed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if __name__ != "__main__" and os.environ.get("BIBID_BENCH_GRANIAN") == "1":
    # Imported by a Granian worker as its application: the identity service's WSGI
    # application, and what bibid.common.serving.Worker does once it has loaded it.
    from bibid.common.serving import settle_heap
    from bibid.identity.wsgi import application  # noqa: F401 - Granian's target

    settle_heap()

from bench.login import (  # noqa: E402
    CLK_TCK,
    LOGIN_PATH,
    Browser,
    Client,
    Verifiers,
    _processes,
    create_patrons,
    drive,
    machine_busy_share,
    split,
)
from tests.e2e import harness  # noqa: E402

ROUNDS = 4
PATRONS = 50


def tree_ticks(root: int) -> float:
    """CPU seconds so far of `root` and every process under it."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            total += procs[pid][1]
        todo.extend(children.get(pid, ()))
    return total / CLK_TCK


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.logins = 0
        self.seconds = self.cpu = 0.0
        self.latencies: list[float] = []
        self.gets = 0
        self.get_seconds = self.get_cpu = 0.0

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()


def get_pages(clients: list[Client], browsers: list[Browser], total: int) -> None:
    """`total` GETs of the sign-in page (with the browser's cookies) by len(clients) threads."""

    def worker(index: int, count: int) -> None:
        client, mine = clients[index], browsers[index :: len(clients)]
        for turn in range(count):
            browser = mine[turn % len(mine)]
            response, _ = client.request(
                "GET", LOGIN_PATH, headers={"Cookie": browser.cookie_header()}
            )
            if response.status != 200:
                raise RuntimeError(f"GET {LOGIN_PATH}: {response.status}")

    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        jobs = [pool.submit(worker, i, n) for i, n in enumerate(split(total, len(clients)))]
        for job in jobs:
            job.result()


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="measured logins per server")
    parser.add_argument("--gets", type=int, default=0, help="measured page GETs per server")
    parser.add_argument("--concurrency", type=int, default=cores)
    parser.add_argument("--workers", type=int, default=cores)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--granian-path",
        default="/tmp/srv",  # noqa: S108 - a path to read a package from, as the docstring shows
        help="where granian is installed (pip install --target)",
    )
    args = parser.parse_args(argv)

    from bibid.common.serving import memory_env, web_command

    busy = machine_busy_share(2.0)
    print(f"== machine {busy:.0%} busy beforehand", flush=True)
    verifiers = Verifiers(args.concurrency)
    var = Path(tempfile.mkdtemp(prefix="bibid-bench-servers-"))
    servers: list[Server] = []
    try:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_DATABASE_URL") and k not in ("DEBUG", "DJANGO_SETTINGS_MODULE")
        }
        ports = {"gunicorn": harness.free_port(), "granian": harness.free_port()}
        env.update(
            {
                "BIBID_VAR_DIR": str(var),
                "BIBID_DEMO": "1",
                "PYTHONUNBUFFERED": "1",
                "BIBID_TRUSTED_PROXIES": "1",
                "IDENTITY_PORT": str(ports["gunicorn"]),
                "DJANGO_SETTINGS_MODULE": "bibid.identity.settings",
            }
        )
        system = harness.System(env=env, urls={}, log_path=var / "setup.log")
        system.bibid("identity", "prepare", "--static", "--demo=if-empty")
        browsers = create_patrons(system, max(PATRONS, args.concurrency))

        def server_env(name: str) -> dict[str, str]:
            metrics = var / "metrics" / name
            metrics.mkdir(parents=True)
            return {**env, **memory_env(), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}

        gunicorn = web_command(
            "identity",
            bind="127.0.0.1",
            port=ports["gunicorn"],
            workers=args.workers,
            threads=args.threads,
        )
        granian = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["granian"]),
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.threads),
            "--no-access-log",
            "bench.servers:application",
        ]
        granian_env = server_env("granian")
        granian_env["PYTHONPATH"] = os.pathsep.join([args.granian_path, str(ROOT)])
        granian_env["BIBID_BENCH_GRANIAN"] = "1"
        servers = [
            Server("gunicorn", gunicorn, server_env("gunicorn"), ports["gunicorn"], var / "g.log"),
            Server("granian", granian, granian_env, ports["granian"], var / "r.log"),
        ]
        for server in servers:
            server.wait_ready()
        clients = {s.name: [Client(s.url) for _ in range(args.concurrency)] for s in servers}

        # Warm-up: every patron signs in once, one at a time (its device cookie; see
        # bench/login.py), on the first server, then a few concurrent logins on each.
        errors: list[str] = []
        first = clients["gunicorn"]
        for i, browser in enumerate(browsers):
            first[i % len(first)].open_login_page(browser)
            if problem := first[i % len(first)].log_in(browser):
                errors.append(f"{browser.username}: {problem}")
        for server in servers:
            drive(clients[server.name], browsers, 8 * args.concurrency, None, errors)
            if args.gets:
                get_pages(clients[server.name], browsers, 8 * args.concurrency)
        if errors:
            raise RuntimeError(f"warm-up logins failed: {errors[:5]}")

        hashing = 0.0
        for number, count in enumerate(split(args.requests, ROUNDS)):
            took = verifiers.seconds(count)
            hashing += took
            order = servers if number % 2 == 0 else servers[::-1]
            line = [f"round {number + 1}/{ROUNDS}: {count / took:.1f} verifications/s"]
            for server in order:
                for client in clients[server.name]:
                    client.conn.close()
                cpu, start = tree_ticks(server.process.pid), time.perf_counter()
                drive(clients[server.name], browsers, count, server.latencies, errors)
                spent = time.perf_counter() - start
                server.cpu += tree_ticks(server.process.pid) - cpu
                server.seconds += spent
                server.logins += count
                line.append(f"{server.name} {count / spent:.1f} logins/s")
                if args.gets:
                    gets = args.gets // ROUNDS
                    cpu, start = tree_ticks(server.process.pid), time.perf_counter()
                    get_pages(clients[server.name], browsers, gets)
                    server.get_seconds += time.perf_counter() - start
                    server.get_cpu += tree_ticks(server.process.pid) - cpu
                    server.gets += gets
            print("== " + ", ".join(line), flush=True)
        limit = args.requests / hashing
    finally:
        for server in servers:
            server.stop()
        verifiers.close()
        shutil.rmtree(var, ignore_errors=True)

    print(
        f"\nForm logins over HTTP: {args.requests} per server, concurrency {args.concurrency}, "
        f"{args.workers} workers x {args.threads} threads, SQLite, {cores} cores; "
        f"bare hash limit {limit:.1f}/s ({1000 * cores / limit:.1f} core-ms per verification)"
    )
    head = (
        f"{'server':<10}{'logins/s':>9}{'ratio':>7}{'p50 ms':>8}{'CPU ms/login':>14}"
        f"{'beside hash':>13}{'GETs/s':>8}{'CPU ms/GET':>12}"
    )
    print(f"{head}\n{'-' * len(head)}")
    for s in servers:
        rate = s.logins / s.seconds
        gets = f"{s.gets / s.get_seconds:>8.1f}{s.get_cpu / s.gets * 1000:>12.2f}" if s.gets else ""
        print(
            f"{s.name:<10}{rate:>9.1f}{rate / limit:>7.2f}"
            f"{statistics.median(s.latencies) * 1000:>8.1f}{s.cpu / s.logins * 1000:>14.2f}"
            f"{s.cpu / s.logins * 1000 - 1000 * cores / limit:>13.2f}{gets}"
        )
    print(
        "CPU ms/login: CPU time of the server's processes (master and workers, /proc) per "
        "login, the hash included;\nbeside hash: less the core-ms of one bare verification "
        "at the limit; ratio = logins/s / bare\nverifications/s in as many processes, rounds "
        "taking turns."
    )
    if errors:
        print(f"{len(errors)} logins FAILED, e.g. {errors[:3]}")
    if busy > 0.1:
        print(f"WARNING the machine was {busy:.0%} busy before the run; figures are skewed.")
    return 1 if errors else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
