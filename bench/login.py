"""Login throughput of the identity service against its hash-bound limit.

Starts the whole system the way `bibid up` does (tests/e2e/harness.py), signs patrons in
over real HTTP with `--concurrency` keep-alive connections, and in the same run times as
many bare Argon2id verifications in as many processes: the most logins the machine could
do if a login cost nothing but its password check. Prints logins/s, that limit and their
ratio, for SQLite and, when a URL is given, for PostgreSQL. See bench/README.md.

    .venv/bin/python bench/login.py [--requests 400] [--concurrency N] [--workers N]
                                    [--threads 4] [--postgres URL]

Only numbers are printed; nothing is asserted about time. The run fails (exit 1) only when
a login does not succeed, because then the figures would mean nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import html
import http.client
import multiprocessing
import os
import re
import resource
import secrets
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e import harness  # noqa: E402

LOGIN_PATH = "/inloggen/"
ACCOUNT_PAGE = "/"  # LOGIN_REDIRECT_URL (accounts:home)
CSRF_COOKIE = "bibid_identity_csrftoken"
SESSION_COOKIE = "bibid_identity_session"
DEVICE_COOKIE = "bibid_identity_device"
USER_AGENT = "bibid-bench/1 (login.py)"
PATRONS = 50
TARGET = 0.85
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# The parameters of bibid.identity.accounts.hashers.Argon2idHasher.
ARGON2 = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}


# -- the hash-bound limit ------------------------------------------------------------------


def _argon2_hasher():
    from argon2 import PasswordHasher, Type

    return PasswordHasher(**ARGON2, type=Type.ID)


def _verify_many(encoded: str, password: str, count: int) -> tuple[float, float]:
    hasher = _argon2_hasher()
    hasher.verify(encoded, password)  # warm: first use maps the memory
    start = time.perf_counter()
    for _ in range(count):
        hasher.verify(encoded, password)
    return start, time.perf_counter()


def _pool_ready(_: int) -> int:
    time.sleep(0.2)  # keeps each worker busy so that every process takes one
    return os.getpid()


def hash_limit(total: int, processes: int) -> float:
    """Bare Argon2id verifications per second, `total` of them in `processes` processes."""
    password = secrets.token_urlsafe(16)
    encoded = _argon2_hasher().hash(password)
    shares = [total // processes + (i < total % processes) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        list(pool.map(_pool_ready, range(processes)))
        spans = list(pool.map(_verify_many, [encoded] * processes, [password] * processes,
                              shares))
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return total / wall


# -- CPU accounting ------------------------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we may read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = (ppid, cmdline)
    return found


def identity_workers(root_pid: int) -> list[int]:
    """The gunicorn worker processes of the identity service under `bibid up`."""
    procs = _processes()
    tree = {root_pid}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in procs.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    def web(pid: int) -> bool:  # a gunicorn process itself, not the shell honcho starts
        cmdline = procs.get(pid, (0, ""))[1]
        return "gunicorn bibid.identity.wsgi" in cmdline and not cmdline.startswith("/bin/sh")

    masters = {pid for pid in tree if web(pid) and not web(procs[pid][0])}
    return sorted(pid for pid in tree if procs[pid][0] in masters)


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, which is already in user
    return total - idle, total


# -- the patrons' browsers -----------------------------------------------------------------


@dataclass
class Browser:
    """One patron's browser: the cookies it keeps and the CSRF token its next form carries."""

    username: str
    password: str
    cookies: dict[str, str] = field(default_factory=dict)
    token: str = ""

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def take_cookies(self, response: http.client.HTTPResponse) -> None:
        for header in response.msg.get_all("Set-Cookie") or ():
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


class Client:
    """One keep-alive HTTP connection, used by one thread at a time."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.reconnects = 0

    def request(self, method: str, path: str, *, body: str | None = None,
                headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        headers = {"Host": f"{self.host}:{self.port}", "User-Agent": USER_AGENT, **headers}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection; only then try once more.
                self.conn.close()
                self.reconnects += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def open_login_page(self, browser: Browser) -> None:
        """GET the login page once, as a browser does: the CSRF cookie and the form's token."""
        cookies = {"Cookie": browser.cookie_header()}
        response, page = self.request("GET", LOGIN_PATH, headers=cookies)
        if response.status != 200:
            raise RuntimeError(f"GET {LOGIN_PATH} for {browser.username}: {response.status}")
        browser.take_cookies(response)
        match = TOKEN_RE.search(page.decode())
        if not match or CSRF_COOKIE not in browser.cookies:
            raise RuntimeError("the login page set no CSRF cookie or token")
        browser.token = html.unescape(match.group(1))

    def log_in(self, browser: Browser) -> str | None:
        """POST the form; None on a 302 to the account page, else what went wrong."""
        body = urlencode({"csrfmiddlewaretoken": browser.token, "username": browser.username,
                          "password": browser.password})
        response, _ = self.request("POST", LOGIN_PATH, body=body, headers={
            "Cookie": browser.cookie_header(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.origin,
            "Referer": f"{self.origin}{LOGIN_PATH}",
        })
        browser.take_cookies(response)
        # The patron closes the browser (or signs out) before the next sign-in: each login
        # below is a fresh sign-in, not a repeat sign-in inside a live session.
        browser.cookies.pop(SESSION_COOKIE, None)
        if response.status != 302 or response.getheader("Location") != ACCOUNT_PAGE:
            return f"{response.status} {response.getheader('Location') or ''}".strip()
        # Django rotated the CSRF secret on login; the new cookie value (the unmasked secret)
        # is a valid form token, so the next form needs no second GET.
        browser.token = browser.cookies[CSRF_COOKIE]
        return None


# -- one run against one database ----------------------------------------------------------


@dataclass
class Outcome:
    database: str
    logins: int
    seconds: float
    limit: float
    latencies: list[float]
    client_cpu: float  # seconds of CPU the benchmark process used while measuring
    identity_cpu: float  # seconds of CPU the identity web workers used
    machine_cpu: float  # busy core-seconds of the whole machine
    workers: int
    errors: list[str]

    @property
    def rate(self) -> float:
        return self.logins / self.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.limit


def create_patrons(system: harness.System, count: int) -> list[Browser]:
    """Active accounts with real passwords, made in one shell (create_patron's service)."""
    browsers = [Browser(f"bench.patron.{i:03d}", secrets.token_urlsafe(18)) for i in range(count)]
    accounts = [(b.username, b.password) for b in browsers]
    system.identity_shell(
        "from bibid.identity.accounts.services import create_account\n"
        "from bibid.identity.accounts.actors import Actor\n"
        f"for username, password in {accounts!r}:\n"
        "    create_account(username=username, password=password, active=True,\n"
        "                   recovery_email='', actor=Actor.system('bench'))\n"
    )
    return browsers


def drive(clients: list[Client], browsers: list[Browser], total: int,
          latencies: list[float] | None, errors: list[str]) -> None:
    """`total` logins by len(clients) threads; each thread signs in its own patrons in turn."""
    lock = threading.Lock()
    issued = 0

    def worker(index: int) -> None:
        nonlocal issued
        client = clients[index]
        mine = browsers[index::len(clients)]
        turn = 0
        while True:
            with lock:
                if issued >= total:
                    return
                issued += 1
            browser = mine[turn % len(mine)]
            turn += 1
            start = time.perf_counter()
            problem = client.log_in(browser)
            took = time.perf_counter() - start
            if problem:
                with lock:
                    errors.append(f"{browser.username}: {problem}")
                client.open_login_page(browser)  # a fresh form before the next try
            elif latencies is not None:
                with lock:
                    latencies.append(took)

    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        for future in [pool.submit(worker, i) for i in range(len(clients))]:
            future.result()


def run_one(label: str, args: argparse.Namespace, postgres: str | None) -> Outcome:
    print(f"\n== {label}: hash-bound limit ({args.requests} Argon2id verifications, "
          f"{args.concurrency} processes)", flush=True)
    limit = hash_limit(args.requests, args.concurrency)
    print(f"   {limit:.1f} verifications/s", flush=True)

    saved = os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
    if postgres:
        os.environ["BIBID_TEST_POSTGRES_URL"] = postgres
    try:
        with tempfile.TemporaryDirectory(prefix="bibid-bench-") as var:
            print(f"== {label}: starting bibid up --workers {args.workers} "
                  f"--threads {args.threads}", flush=True)
            system = harness.start_system(Path(var), workers=args.workers, threads=args.threads)
            try:
                return measure(label, system, args, limit)
            finally:
                harness.stop_system(system)
    finally:
        os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
        if saved is not None:
            os.environ["BIBID_TEST_POSTGRES_URL"] = saved


def measure(label: str, system: harness.System, args: argparse.Namespace,
            limit: float) -> Outcome:
    patrons = max(PATRONS, args.concurrency)
    browsers = create_patrons(system, patrons)
    base = system.urls["identity"]
    clients = [Client(base) for _ in range(args.concurrency)]
    for i, browser in enumerate(browsers):
        clients[i % len(clients)].open_login_page(browser)

    # Warm-up, not counted: every patron signs in once, so that each worker process has
    # loaded its code, templates and connections, and every browser holds the device cookie
    # a returning patron's browser holds.
    errors: list[str] = []
    drive(clients, browsers, patrons, None, errors)
    if errors:
        raise RuntimeError(f"warm-up logins failed: {errors[:5]}\n{system.log_tail()}")

    workers = identity_workers(system.process.pid)
    print(f"== {label}: {args.requests} logins, {args.concurrency} connections, "
          f"{len(workers)} identity workers", flush=True)
    latencies: list[float] = []
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    workers_before = sum(_cpu_ticks(pid) for pid in workers)
    busy_before, _ = machine_busy_ticks()
    start = time.perf_counter()
    drive(clients, browsers, args.requests, latencies, errors)
    seconds = time.perf_counter() - start
    busy_after, _ = machine_busy_ticks()
    workers_after = sum(_cpu_ticks(pid) for pid in workers)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    for client in clients:
        client.conn.close()
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime)
    return Outcome(
        database=label, logins=len(latencies), seconds=seconds, limit=limit,
        latencies=latencies, client_cpu=client_cpu,
        identity_cpu=(workers_after - workers_before) / CLK_TCK,
        machine_cpu=(busy_after - busy_before) / CLK_TCK, workers=len(workers), errors=errors,
    )


# -- report --------------------------------------------------------------------------------


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(f"\nLogin throughput: {args.requests} logins, concurrency {args.concurrency}, "
          f"bibid up --workers {args.workers} --threads {args.threads}, {cores} cores")
    head = (f"{'database':<11}{'logins/s':>10}{'limit/s':>10}{'ratio':>8}{'p50 ms':>9}"
            f"{'p95 ms':>9}{'client CPU':>12}{'web CPU/login':>15}{'machine busy':>14}")
    print(head)
    print("-" * len(head))
    for o in outcomes:
        ordered = sorted(o.latencies) or [0.0]
        p50 = statistics.median(ordered) * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        client = f"{o.client_cpu / o.seconds * 100:.0f}% core"
        web = f"{o.identity_cpu / max(o.logins, 1) * 1000:.1f} ms"
        busy = f"{o.machine_cpu / (o.seconds * cores) * 100:.0f}%"
        print(f"{o.database:<11}{o.rate:>10.1f}{o.limit:>10.1f}{o.ratio:>8.2f}{p50:>9.0f}"
              f"{p95:>9.0f}{client:>12}{web:>15}{busy:>14}")
    print(f"\nratio = logins/s / limit/s (target >= {TARGET}); limit = bare Argon2id "
          f"(t={ARGON2['time_cost']}, m={ARGON2['memory_cost']} KiB, p={ARGON2['parallelism']}) "
          f"verifications/s in {args.concurrency} processes;")
    print("client CPU = this benchmark process; web CPU/login = identity gunicorn workers; "
          "machine busy = all cores (incl. the database server).")
    for o in outcomes:
        if o.errors:
            print(f"{o.database}: {len(o.errors)} failed logins, e.g. {o.errors[:3]}")


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400,
                        help="measured logins (and bare verifications) per database")
    parser.add_argument("--concurrency", type=int, default=cores,
                        help="parallel patrons / verifying processes (default: cores)")
    parser.add_argument("--workers", type=int, default=cores,
                        help="gunicorn workers per service (default: cores)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per gunicorn worker (default: 4, as bibid up)")
    parser.add_argument("--postgres", default=os.environ.get("BIBID_TEST_POSTGRES_URL"),
                        help="also run on PostgreSQL (default: $BIBID_TEST_POSTGRES_URL)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")

    outcomes = [run_one("SQLite", args, None)]
    if args.postgres:
        outcomes.append(run_one("PostgreSQL", args, args.postgres))
    report(outcomes, args)
    failed = any(o.errors or o.logins != args.requests for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
