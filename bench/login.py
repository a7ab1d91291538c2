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
USER_AGENT = "bibid-bench/1 (login.py)"
PATRONS = 50
ROUNDS = 4
TARGET = 0.85
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# The parameters of bibid.common.hashers.Argon2idHasher.
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


class Verifiers:
    """`processes` processes that time bare Argon2id verifications of one hash."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.password = secrets.token_urlsafe(16)
        self.encoded = _argon2_hasher().hash(self.password)
        context = multiprocessing.get_context("spawn")
        self.pool = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context)
        list(self.pool.map(_pool_ready, range(processes)))

    def seconds(self, total: int) -> float:
        """Wall time of `total` verifications spread over the processes."""
        n = self.processes
        spans = list(
            self.pool.map(_verify_many, [self.encoded] * n, [self.password] * n, split(total, n))
        )
        return max(end for _, end in spans) - min(start for start, _ in spans)

    def close(self) -> None:
        self.pool.shutdown()


# -- CPU accounting ------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, CPU clock ticks, command line) of every process we may read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), cmdline)
    return found


def _machine_busy() -> int:
    """Busy clock ticks of all cores together, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4]  # all but idle and iowait


def machine_busy_share(seconds: float) -> float:
    """How busy the machine is (0..1 of all cores) over the next `seconds`."""
    before, start = _machine_busy(), time.perf_counter()
    time.sleep(seconds)
    ticks = _machine_busy() - before
    return ticks / CLK_TCK / ((time.perf_counter() - start) * (os.cpu_count() or 1))


CATEGORIES = ("client", "identity web", "rest of bibid", "database", "other")


class CpuMeter:
    """Where the machine's CPU time went between start() and stop(), by kind of process.

    client: this benchmark process; identity web: the identity gunicorn workers; rest of
    bibid: everything else `bibid up` runs (gunicorn masters, the other two services, task
    workers, cron); database: the PostgreSQL backends of this run and their server's own
    processes; other: the rest of the machine's busy time (other programs, the kernel's
    network work, processes that came and went).
    """

    def __init__(self, root_pid: int, db_tags: list[str]) -> None:
        self.root_pid, self.db_tags = root_pid, db_tags
        self.spent = dict.fromkeys(CATEGORIES, 0.0)

    def start(self) -> None:
        self.before, self.busy_before = _processes(), _machine_busy()
        self.rusage_before = resource.getrusage(resource.RUSAGE_SELF)

    def stop(self) -> dict[str, float]:
        busy = _machine_busy() - self.busy_before
        after = _processes()
        spent = dict.fromkeys(CATEGORIES, 0.0)
        kinds = self._classify(after)
        for pid, (_, ticks, _) in after.items():
            if pid in kinds and pid != os.getpid():
                earlier = self.before.get(pid)
                spent[kinds[pid]] += (ticks - (earlier[1] if earlier else 0)) / CLK_TCK
        now = resource.getrusage(resource.RUSAGE_SELF)
        spent["client"] = (
            now.ru_utime - self.rusage_before.ru_utime + now.ru_stime - self.rusage_before.ru_stime
        )
        spent["other"] = max(0.0, busy / CLK_TCK - sum(spent.values()))
        for name, seconds in spent.items():
            self.spent[name] += seconds
        return spent

    def _classify(self, procs: dict[int, tuple[int, int, str]]) -> dict[int, str]:
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = set(), [self.root_pid]
        while todo:
            pid = todo.pop()
            tree.add(pid)
            todo.extend(children.get(pid, ()))

        def web(pid: int) -> bool:  # a gunicorn process itself, not a shell around it
            cmdline = procs[pid][2] if pid in procs else ""
            return "gunicorn bibid.identity.wsgi" in cmdline and not cmdline.startswith("/bin/sh")

        kinds = {pid: "rest of bibid" for pid in tree}
        for pid in tree:
            if web(pid) and web(procs[pid][0]):
                kinds[pid] = "identity web"
        backends = [
            pid
            for pid, (_, _, cmd) in procs.items()
            if cmd.startswith("postgres:") and any(tag in cmd for tag in self.db_tags)
        ]
        servers = {procs[pid][0] for pid in backends}
        for pid, (ppid, _, cmd) in procs.items():
            if pid in backends or (ppid in servers and not _foreign_backend(cmd)):
                kinds[pid] = "database"
        kinds.update(dict.fromkeys(servers, "database"))
        return kinds


def _foreign_backend(cmdline: str) -> bool:
    """A PostgreSQL backend serving some other database (not one of this run)."""
    auxiliary = (
        "checkpointer",
        "background writer",
        "walwriter",
        "autovacuum",
        "logical replication",
        "stats",
        "archiver",
    )
    return not any(name in cmdline for name in auxiliary)


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

    def request(
        self, method: str, path: str, *, body: str | None = None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        headers = {"Host": f"{self.host}:{self.port}", "User-Agent": USER_AGENT, **headers}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection; only then try once more.
                self.conn.close()
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
        body = urlencode(
            {
                "csrfmiddlewaretoken": browser.token,
                "username": browser.username,
                "password": browser.password,
            }
        )
        response, _ = self.request(
            "POST",
            LOGIN_PATH,
            body=body,
            headers={
                "Cookie": browser.cookie_header(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
                "Referer": f"{self.origin}{LOGIN_PATH}",
            },
        )
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
    limit: float  # bare verifications/s
    latencies: list[float]
    cpu: dict[str, float]  # CPU seconds by CATEGORIES while measuring
    busy_before: float  # busy share of the machine just before, with nothing of ours running
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


def drive(
    clients: list[Client],
    browsers: list[Browser],
    total: int,
    latencies: list[float] | None,
    errors: list[str],
) -> None:
    """`total` logins by len(clients) threads; each thread signs in its own patrons in turn."""
    lock = threading.Lock()
    issued = 0

    def worker(index: int) -> None:
        nonlocal issued
        client = clients[index]
        mine = browsers[index :: len(clients)]
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


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def run_one(label: str, args: argparse.Namespace, postgres: str | None) -> Outcome:
    busy = machine_busy_share(2.0)
    print(f"\n== {label}: machine {busy:.0%} busy beforehand", flush=True)
    verifiers = Verifiers(args.concurrency)
    saved = os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
    if postgres:
        os.environ["BIBID_TEST_POSTGRES_URL"] = postgres
    try:
        with tempfile.TemporaryDirectory(prefix="bibid-bench-") as var:
            print(
                f"== {label}: starting bibid up --workers {args.workers} --threads {args.threads}",
                flush=True,
            )
            system = harness.start_system(Path(var), workers=args.workers, threads=args.threads)
            try:
                return measure(label, system, verifiers, args, busy)
            finally:
                harness.stop_system(system)
    finally:
        verifiers.close()
        os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
        if saved is not None:
            os.environ["BIBID_TEST_POSTGRES_URL"] = saved


def measure(
    label: str,
    system: harness.System,
    verifiers: Verifiers,
    args: argparse.Namespace,
    busy_before: float,
) -> Outcome:
    browsers = create_patrons(system, max(PATRONS, args.concurrency))
    clients = [Client(system.urls["identity"]) for _ in range(args.concurrency)]
    for i, browser in enumerate(browsers):
        clients[i % len(clients)].open_login_page(browser)

    # Warm-up, not counted. First every patron signs in once, one at a time: their browsers
    # then hold the device cookie a returning patron's browser holds. One at a time because
    # a first sign-in from a browser goes through the shared per-address lane, and
    # concurrent attempts there can be refused with 429 (see bench/README.md). Then a few
    # concurrent logins, so that every worker process has loaded its code and connections.
    errors: list[str] = []
    for i, browser in enumerate(browsers):
        if problem := clients[i % len(clients)].log_in(browser):
            errors.append(f"{browser.username}: {problem}")
    drive(clients, browsers, 4 * len(clients), None, errors)
    if errors:
        raise RuntimeError(f"warm-up logins failed: {errors[:5]}\n{system.log_tail()}")

    # Rounds of bare verifications and logins, taking turns: a shared virtual machine's
    # speed drifts by 10-20 % within a minute, and taking turns makes both see the same
    # machine. While the verifiers run, the system is up but idle (about 1 % of one core).
    rounds = min(ROUNDS, args.requests)
    meter = CpuMeter(system.process.pid, system.databases)
    latencies: list[float] = []
    hashing = logging_in = 0.0
    for number, (verify, logins) in enumerate(
        zip(split(args.requests, rounds), split(args.requests, rounds), strict=True), 1
    ):
        for client in clients:
            client.conn.close()  # reconnect afresh after the pause
        took = verifiers.seconds(verify)
        hashing += took
        meter.start()
        start = time.perf_counter()
        drive(clients, browsers, logins, latencies, errors)
        spent = time.perf_counter() - start
        meter.stop()
        logging_in += spent
        print(
            f"== {label}: round {number}/{rounds}: {verify / took:.1f} verifications/s, "
            f"{logins / spent:.1f} logins/s",
            flush=True,
        )
    for client in clients:
        client.conn.close()
    return Outcome(
        database=label,
        logins=len(latencies),
        seconds=logging_in,
        limit=args.requests / hashing,
        latencies=latencies,
        cpu=meter.spent,
        busy_before=busy_before,
        errors=errors,
    )


# -- report --------------------------------------------------------------------------------


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(
        f"\nLogin throughput: {args.requests} logins, concurrency {args.concurrency}, "
        f"bibid up --workers {args.workers} --threads {args.threads}, {cores} cores"
    )
    head = (
        f"{'database':<11}{'logins/s':>9}{'limit/s':>9}{'ratio':>7}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'busy before':>13}"
    )
    print(head)
    print("-" * len(head))
    for o in outcomes:
        ordered = sorted(o.latencies) or [0.0]
        p50 = statistics.median(ordered) * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        print(
            f"{o.database:<11}{o.rate:>9.1f}{o.limit:>9.1f}{o.ratio:>7.2f}"
            f"{p50:>8.0f}{p95:>8.0f}{o.busy_before:>13.0%}"
        )
    print(
        f"\nratio = logins/s / limit/s, target >= {TARGET}. limit = bare Argon2id "
        f"verifications/s (t={ARGON2['time_cost']}, m={ARGON2['memory_cost']} KiB, "
        f"p={ARGON2['parallelism']}) in {args.concurrency} processes,\nmeasured in "
        f"{ROUNDS} rounds that take turns with the logins."
    )

    print("\nCore time per login while measuring, in ms (cores x seconds / logins):")
    names = (*CATEGORIES, "idle", "= all", "hash alone")
    head = f"{'database':<11}" + "".join(f"{name:>15}" for name in names)
    print(head)
    print("-" * len(head))
    for o in outcomes:
        per = [o.cpu[name] / max(o.logins, 1) * 1000 for name in CATEGORIES]
        every = cores * o.seconds / max(o.logins, 1) * 1000
        hashed = cores / o.limit * 1000
        row = (*per, max(0.0, every - sum(per)), every, hashed)
        print(f"{o.database:<11}" + "".join(f"{v:>15.1f}" for v in row))
    print(
        "client = this benchmark (its HTTP client); identity web = the identity gunicorn "
        "workers;\nrest of bibid = all else `bibid up` runs; database = this run's "
        "PostgreSQL processes;\nother = the rest of the machine's busy time (other "
        "programs, kernel network work);\nhash alone = one bare verification at the "
        "limit; ratio = hash alone / all."
    )
    for o in outcomes:
        client_share = o.cpu["client"] / o.seconds
        print(
            f"{o.database}: the client took {client_share:.0%} of one core "
            f"({client_share / cores:.1%} of the machine)."
        )
        if o.busy_before > 0.1:
            print(
                f"{o.database}: WARNING the machine was {o.busy_before:.0%} busy before "
                "the run; these figures are skewed."
            )
        if o.errors:
            print(f"{o.database}: {len(o.errors)} logins FAILED, e.g. {o.errors[:3]}")


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=400,
        help="measured logins (and bare verifications) per database",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=cores,
        help="parallel patrons / verifying processes (default: cores)",
    )
    parser.add_argument(
        "--workers", type=int, default=cores, help="gunicorn workers per service (default: cores)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per gunicorn worker (default: 4, as bibid up)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BIBID_TEST_POSTGRES_URL"),
        help="also run on PostgreSQL (default: $BIBID_TEST_POSTGRES_URL)",
    )
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
