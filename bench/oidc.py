"""The whole OpenID Connect sign-in, as a relying party makes it, against the hash-bound limit.

Starts the whole system the way `bibid up` does (tests/e2e/harness.py) and signs patrons in
to the Online Bibliotheek's demo client over real HTTP, each sign-in from a fresh browser
that kept only its device cookie: six requests (authorize, the sign-in page, the sign-in
POST, authorize again, the token request with the client secret and the PKCE verifier,
userinfo with the access token). In the same run, in rounds that take turns, it times as
many bare Argon2id verifications in as many processes: the most sign-ins the machine could
do if a sign-in cost nothing but its password check (bench/login.py's method). Prints
sign-ins/s, that limit and their ratio, p50/p95 per sign-in and per step, and the CPU time
per sign-in of each kind of process, for SQLite and, when a URL is given, PostgreSQL.

Then, in-process (Django's test client, real Argon2id, a fresh database in a child
process), the SQL statements and the CPU time of every step, and what is left outside the
hash. See bench/README.md.

    .venv/bin/python bench/oidc.py [--requests 300] [--concurrency N] [--workers N]
                                   [--threads 4] [--postgres URL]
                                   [--in-process | --no-in-process] [--in-process-count 100]
                                   [--sql] [--profile FILE]

Only numbers are printed; nothing is asserted about time. The run fails (exit 1) only when
a step of a sign-in gets an unexpected answer, because then the figures would mean nothing.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import cProfile
import hashlib
import html
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.login import (  # noqa: E402
    ARGON2,
    CATEGORIES,
    CSRF_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    TOKEN_RE,
    Browser,
    Client,
    CpuMeter,
    Verifiers,
    create_patrons,
    machine_busy_share,
    split,
)
from tests.e2e import harness  # noqa: E402
from tests.e2e.oidc import service_client  # noqa: E402

from bibid.common.demo import LIBRARIES, READING_SERVICE  # noqa: E402
from bibid.common.rp import paths  # noqa: E402

DEVICE_COOKIE = "bibid_identity_device"
AUTHORIZE_PATH = "/o/authorize/"
TOKEN_PATH = "/o/token/"  # noqa: S105 - a path, not a secret
USERINFO_PATH = "/o/userinfo/"
SCOPE = "openid profile libraries rights"  # what the services ask (bibid.common.rp.clients)
# The sign-in form (the page's other forms, the language switch, carry a `next` too).
LOGIN_FORM_RE = re.compile(r'<form method="post" action="/inloggen/".*?</form>', re.DOTALL)
NEXT_RE = re.compile(r'name="next" value="([^"]*)"')
STEPS = ("authorize 1", "login page", "login POST", "authorize 2", "token", "userinfo")
PATRONS = 50
IN_PROCESS_PATRONS = 20
ROUNDS = 4
# The targets (issue 18): full sign-in / hash-bound limit, statements per step in
# the lean path, and the CPU of everything outside the hash per whole sign-in, in-process.
RATIO_TARGET = {"SQLite": 0.75, "PostgreSQL": 0.70}
STATEMENT_TARGET = {"authorize 2": 4, "token": 8, "userinfo": 2}
OUTSIDE_HASH_TARGET_MS = 8.0
# Transaction control, not data: what tests/identity/test_guard.py's data_statements skips,
# and BEGIN (SQLite's BEGIN IMMEDIATE goes through a cursor; PostgreSQL's BEGIN does not).
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET LOCAL", "BEGIN")


class SignInFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


@dataclass(frozen=True)
class Service:
    """The relying party as registered at identity: the demo's Online Bibliotheek."""

    client_id: str
    client_secret: str
    redirect_uri: str
    issuer: str

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass
class Request:
    """What one sign-in sends to /o/authorize/: PKCE S256, state and nonce, fresh each time."""

    service: Service
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def path(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": self.service.client_id,
            "redirect_uri": self.service.redirect_uri,
            "scope": SCOPE,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{AUTHORIZE_PATH}?{urlencode(query)}"

    def token_body(self, code: str) -> str:
        return urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.service.redirect_uri,
                "code_verifier": self.verifier,
            }
        )


# -- the checks of every answer, shared by both ways of sending the requests --------------


def check_to_login(status: int, location: str, authorize: str) -> str:
    """authorize 1: a browser without a session goes to the sign-in page and back here."""
    parts = urlsplit(location)
    nxt = parse_qs(parts.query).get("next", [""])[0]
    if status != 302 or parts.path != LOGIN_PATH or nxt != authorize:
        raise SignInFailed(STEPS[0], f"{status} {location[:120]}")
    return location


def check_login_page(status: int, page: str, authorize: str) -> str:
    """login page: the form, its CSRF token and the way back to authorize; returns the token."""
    form = LOGIN_FORM_RE.search(page)
    form = form.group(0) if form else ""
    token, nxt = TOKEN_RE.search(form), NEXT_RE.search(form)
    if status != 200 or not token or not nxt or html.unescape(nxt.group(1)) != authorize:
        raise SignInFailed(STEPS[1], f"{status}, no form with the way back to authorize")
    return html.unescape(token.group(1))


def check_signed_in(status: int, location: str, request: Request) -> str | None:
    """login POST: the code for the service at once (the sign-in answers in place of the
    authorization endpoint, bibid.identity.signin.views.continue_in_place), or, as before
    that, a redirect back to authorize (None: "authorize 2" is a request of its own)."""
    if status == 302 and location == request.path:
        return None
    if status == 302 and location.startswith(request.service.redirect_uri + "?"):
        return check_code(status, location, request, STEPS[2])
    raise SignInFailed(STEPS[2], f"{status} {location[:120]}")


def check_code(status: int, location: str, request: Request, step: str = STEPS[3]) -> str:
    """authorize 2: back to the service with code, the same state and the issuer (RFC 9207)."""
    service = request.service
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if (
        status != 302
        or not location.startswith(service.redirect_uri + "?")
        or not query.get("code")
        or query.get("state") != request.state
        or query.get("iss") != service.issuer
    ):
        raise SignInFailed(step, f"{status} {location[:120]}")
    return query["code"]


def check_tokens(status: int, body: bytes, request: Request) -> tuple[str, str]:
    """token: an access token and an ID token for this client with this nonce; (token, sub).

    The ID token's signature is not checked here (tests/e2e/test_oidc_http.py does, against
    the JWKS): the client's CPU counts against the system, and the signature is not what
    this measures."""
    try:
        tokens = json.loads(body)
        payload = tokens["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, KeyError, IndexError):
        raise SignInFailed(STEPS[4], f"{status} {body[:120]!r}") from None
    if (
        status != 200
        or tokens.get("token_type") != "Bearer"
        or not tokens.get("access_token")
        or claims.get("nonce") != request.nonce
        or claims.get("aud") != request.service.client_id
        or claims.get("iss") != request.service.issuer
    ):
        raise SignInFailed(STEPS[4], f"{status} {body[:120]!r}")
    return tokens["access_token"], claims["sub"]


def check_userinfo(status: int, body: bytes, sub: str) -> None:
    try:
        info = json.loads(body)
    except ValueError:
        info = {}
    if status != 200 or info.get("sub") != sub or "rights" not in info:
        raise SignInFailed(STEPS[5], f"{status} {body[:120]!r}")


# -- over HTTP -----------------------------------------------------------------------------


class RelyingParty(Client):
    """One keep-alive connection (bench/login.py's Client), signing patrons in step by step.

    The browser's requests and the service's back-channel requests (token, userinfo) share
    the connection: a real service has its own, which costs the server the same."""

    def sign_in(self, browser: Browser, service: Service) -> list[float | None]:
        """One whole sign-in from a fresh browser; the seconds of each step (None for
        "authorize 2" when the sign-in POST answered with the code)."""
        # A fresh browser that kept only its device cookie, as a patron's browser does
        # between sign-ins (the session ended, the CSRF cookie was cleared with it).
        browser.cookies = {k: v for k, v in browser.cookies.items() if k == DEVICE_COOKIE}
        request = Request(service)
        authorize = request.path
        times = []

        def timed(method: str, path: str, headers: dict[str, str], body: str | None = None):
            start = time.perf_counter()
            response, content = self.request(method, path, body=body, headers=headers)
            times.append(time.perf_counter() - start)
            if "Cookie" in headers:  # the browser's request, not the service's
                browser.take_cookies(response)
            return response.status, response.getheader("Location") or "", content

        status, location, _ = timed("GET", authorize, {"Cookie": browser.cookie_header()})
        login = check_to_login(status, location, authorize)
        status, _, page = timed("GET", login, {"Cookie": browser.cookie_header()})
        token = check_login_page(status, page.decode(), authorize)
        if CSRF_COOKIE not in browser.cookies:
            raise SignInFailed(STEPS[1], "no CSRF cookie")
        form = {
            "csrfmiddlewaretoken": token,
            "username": browser.username,
            "password": browser.password,
            "next": authorize,
        }
        status, location, _ = timed(
            "POST",
            LOGIN_PATH,
            {
                "Cookie": browser.cookie_header(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
                "Referer": f"{self.origin}{login}",
            },
            urlencode(form),
        )
        code = check_signed_in(status, location, request)
        if SESSION_COOKIE not in browser.cookies:
            raise SignInFailed(STEPS[2], "no session cookie")
        if code is None:
            status, location, _ = timed("GET", authorize, {"Cookie": browser.cookie_header()})
            code = check_code(status, location, request)
        else:
            times.append(None)
        status, _, body = timed(
            "POST",
            TOKEN_PATH,
            {"Authorization": service.basic(), "Content-Type": "application/x-www-form-urlencoded"},
            request.token_body(code),
        )
        access, sub = check_tokens(status, body, request)
        status, _, body = timed("GET", USERINFO_PATH, {"Authorization": f"Bearer {access}"})
        check_userinfo(status, body, sub)
        return times


def link_patrons(system, browsers: list[Browser]) -> None:
    """Link every patron to a demo library with two rights, as a member's account is: the
    ID token and userinfo then carry a library and rights, as they do for real patrons."""
    library = LIBRARIES[0]
    until = (date.today() + timedelta(days=365)).isoformat()
    rights = [
        {"code": code, "valid_from": None, "valid_until": until, "limits": {"loans": 10}}
        for code in ("ebooks", "audiobooks")
    ]
    rows = [
        (b.username, f"{library.card_prefix}9{i:05d}", f"Lezer {i}") for i, b in enumerate(browsers)
    ]
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.libraries.models import Library, Link\n"
        f"library = Library.objects.get(code={library.code!r})\n"
        f"for username, card, name in {rows!r}:\n"
        "    Link.objects.create(library=library, customer_ref=card, card_number=card,\n"
        "        account=Account.objects.get(username=username), authorized_at=clock.now(),\n"
        "        customer={'name': name, 'card_number': card},\n"
        f"        rights={rights!r})\n"
    )


def drive(
    clients: list[RelyingParty],
    browsers: list[Browser],
    service: Service,
    total: int,
    steps: list[list[float]] | None,
    errors: list[str],
) -> None:
    """`total` sign-ins by len(clients) threads; each thread signs in its own patrons in turn
    (bench/login.py's drive, with the whole sign-in instead of the form POST)."""
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
            try:
                times = client.sign_in(browser, service)
            except SignInFailed as failed:
                with lock:
                    errors.append(f"{browser.username}: {failed}")
                continue
            if steps is not None:
                with lock:
                    steps.append(times)

    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        for future in [pool.submit(worker, i) for i in range(len(clients))]:
            future.result()


@dataclass
class Outcome:
    database: str
    seconds: float
    limit: float  # bare verifications/s
    steps: list[list[float]]  # per sign-in, the seconds of each step
    cpu: dict[str, float]
    busy_before: float
    errors: list[str]

    @property
    def sign_ins(self) -> int:
        return len(self.steps)

    @property
    def rate(self) -> float:
        return self.sign_ins / self.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.limit


def run_http(label: str, args: argparse.Namespace, postgres: str | None) -> Outcome:
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
                return measure_http(label, system, verifiers, args, busy)
            finally:
                harness.stop_system(system)
    finally:
        verifiers.close()
        os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
        if saved is not None:
            os.environ["BIBID_TEST_POSTGRES_URL"] = saved


def measure_http(
    label: str,
    system: harness.System,
    verifiers: Verifiers,
    args: argparse.Namespace,
    busy_before: float,
) -> Outcome:
    registered = service_client(system, READING_SERVICE.client_id)
    service = Service(
        client_id=registered["client_id"],
        client_secret=registered["client_secret"],
        redirect_uri=paths.urls(system.urls["reading"])["redirect_uri"],
        issuer=f"{system.urls['identity']}/o",
    )
    browsers = create_patrons(system, max(PATRONS, args.concurrency))
    link_patrons(system, browsers)
    clients = [RelyingParty(system.urls["identity"]) for _ in range(args.concurrency)]

    # Warm-up, not counted (as bench/login.py): every patron signs in once, one at a time,
    # so that the browser holds the device cookie a returning patron's browser holds (a
    # first sign-in goes through the shared per-address lane, where concurrent attempts can
    # be refused with 429); then a few concurrent sign-ins warm every worker.
    errors: list[str] = []
    for i, browser in enumerate(browsers):
        try:
            clients[i % len(clients)].sign_in(browser, service)
        except SignInFailed as failed:
            errors.append(f"{browser.username}: {failed}")
    drive(clients, browsers, service, 4 * len(clients), None, errors)
    if errors:
        raise RuntimeError(f"warm-up sign-ins failed: {errors[:5]}\n{system.log_tail()}")

    # Rounds of bare verifications and sign-ins, taking turns: a shared virtual machine's
    # speed drifts by 10-20 % within a minute; taking turns makes both see the same machine.
    rounds = min(ROUNDS, args.requests)
    meter = CpuMeter(system.process.pid, system.databases)
    steps: list[list[float]] = []
    hashing = signing_in = 0.0
    for number, count in enumerate(split(args.requests, rounds), 1):
        for client in clients:
            client.conn.close()  # reconnect afresh after the pause
        took = verifiers.seconds(count)
        hashing += took
        meter.start()
        start = time.perf_counter()
        drive(clients, browsers, service, count, steps, errors)
        spent = time.perf_counter() - start
        meter.stop()
        signing_in += spent
        print(
            f"== {label}: round {number}/{rounds}: {count / took:.1f} verifications/s, "
            f"{count / spent:.1f} sign-ins/s",
            flush=True,
        )
    for client in clients:
        client.conn.close()
    return Outcome(
        database=label,
        seconds=signing_in,
        limit=args.requests / hashing,
        steps=steps,
        cpu=meter.spent,
        busy_before=busy_before,
        errors=errors,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report_http(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(
        f"\nOpenID Connect sign-in throughput: {args.requests} sign-ins (five or six requests), "
        f"concurrency {args.concurrency},\nbibid up --workers {args.workers} --threads "
        f"{args.threads}, {cores} cores"
    )
    head = (
        f"{'database':<11}{'sign-ins/s':>11}{'limit/s':>9}{'ratio':>7}{'target':>8}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'busy before':>13}"
    )
    print(head)
    print("-" * len(head))
    for o in outcomes:
        totals = [sum(t for t in times if t is not None) for times in o.steps]
        target = RATIO_TARGET[o.database]
        met = "met" if o.ratio >= target else "not met"
        print(
            f"{o.database:<11}{o.rate:>11.1f}{o.limit:>9.1f}{o.ratio:>7.2f}"
            f"{f'>={target:.2f}':>8}{statistics.median(totals) * 1000:>8.0f}"
            f"{percentile(totals, 0.95) * 1000:>8.0f}{o.busy_before:>13.0%}  {met}"
        )
    print(
        f"\nratio = sign-ins/s / limit/s. limit = bare Argon2id verifications/s "
        f"(t={ARGON2['time_cost']}, m={ARGON2['memory_cost']} KiB, p={ARGON2['parallelism']}) "
        f"in {args.concurrency} processes,\nmeasured in {ROUNDS} rounds that take turns with "
        "the sign-ins. p50/p95: one whole sign-in (all its round trips)."
    )

    print("\nPer step, ms (p50 / p95 of the round trip, as the client sees it):")
    head = f"{'database':<11}" + "".join(f"{step:>16}" for step in STEPS)
    print(head)
    print("-" * len(head))
    for o in outcomes:
        cells = []
        for i in range(len(STEPS)):
            column = [times[i] for times in o.steps if times[i] is not None]
            if not column:
                cells.append(f"{'in login POST':>16}")
                continue
            p50, p95 = statistics.median(column) * 1000, percentile(column, 0.95) * 1000
            cells.append(f"{f'{p50:.1f} / {p95:.1f}':>16}")
        print(f"{o.database:<11}" + "".join(cells))

    print("\nCore time per sign-in while measuring, in ms (cores x seconds / sign-ins):")
    names = (*CATEGORIES, "idle", "= all", "hash alone")
    head = f"{'database':<11}" + "".join(f"{name:>15}" for name in names)
    print(head)
    print("-" * len(head))
    for o in outcomes:
        per = [o.cpu[name] / max(o.sign_ins, 1) * 1000 for name in CATEGORIES]
        every = cores * o.seconds / max(o.sign_ins, 1) * 1000
        row = (*per, max(0.0, every - sum(per)), every, cores / o.limit * 1000)
        print(f"{o.database:<11}" + "".join(f"{v:>15.1f}" for v in row))
    print(
        "client = this benchmark; identity web = the identity gunicorn workers; rest of "
        "bibid = all else\n`bibid up` runs; database = this run's PostgreSQL processes; "
        "other = the rest of the machine's busy time."
    )
    for o in outcomes:
        if o.busy_before > 0.1:
            print(
                f"{o.database}: WARNING the machine was {o.busy_before:.0%} busy before "
                "the run; these figures are skewed."
            )
        if o.errors:
            print(f"{o.database}: {len(o.errors)} sign-ins FAILED, e.g. {o.errors[:3]}")


# -- in-process: statements and CPU per step -----------------------------------------------


def run_identity_child(
    script: str, child_args: list[str], *, database_url: str | None = None
) -> list[str]:
    """Run `script` with `child_args` in a child process with the identity service's
    settings, a fresh state folder and (unless `database_url` names one) a fresh SQLite
    database, in demo mode as the HTTP run (tests/e2e/harness.py: plain http, the generated
    signing key, the demo's service clients). A child of its own: Django is set up once per
    process, and its per-request log lines (stderr, kept in a file) must not mix with the
    output. Returns the child's output lines; raises with the end of its log if it failed."""
    with tempfile.TemporaryDirectory(prefix="bibid-bench-") as var:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.pop("DEBUG", None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bibid.identity.settings",
                "BIBID_VAR_DIR": var,
                "BIBID_DEMO": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if database_url:
            env["IDENTITY_DATABASE_URL"] = database_url
        Path(var, "static", "identity").mkdir(parents=True)
        log = Path(var, "child.log")
        with log.open("w") as errors:
            done = subprocess.run(
                [sys.executable, script, *child_args],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"the in-process run failed ({done.returncode}):\n{tail}")
    return lines


def in_process_patrons(count: int) -> list[Browser]:
    """In a child (after django.setup()): the database prepared with the demo, and `count`
    patrons made as bench/login.py's create_patrons makes them (its code, run here)."""
    import io

    from django.core.management import call_command

    call_command("prepare", "--static", "--demo=if-empty", stdout=io.StringIO())
    return create_patrons(InProcessShell, count)


class InProcessShell:
    """bench/login.py's create_patrons (and link_patrons) run their code in the identity
    shell; in the child, this process is that shell."""

    @staticmethod
    def identity_shell(code: str) -> str:
        exec(code, {})  # noqa: S102 - our own set-up code, as `bibid identity shell -c`
        return ""


def run_in_process(label: str, args: argparse.Namespace, postgres: str | None) -> dict:
    """The in-process measurement in a child process (run_identity_child), on a database of
    its own."""
    print(f"\n== {label}: in-process, {args.in_process_count} sign-ins", flush=True)
    database = f"bibid_bench_oidc_{secrets.token_hex(4)}"
    database_url = None
    if postgres:
        import psycopg

        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        database_url = urlsplit(postgres)._replace(path=f"/{database}").geturl()
    try:
        lines = run_identity_child(
            __file__,
            [
                "--in-process-child",
                "--in-process-count",
                str(args.in_process_count),
                *(["--sql"] if args.sql else []),
                *(["--profile", f"{args.profile}.{label}"] if args.profile else []),
            ],
            database_url=database_url,
        )
    finally:
        if postgres:
            import psycopg

            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    *sql, result = lines
    if sql:
        print("\n".join(sql))
    return {"database": label, **json.loads(result)}


def step_summary(counts: list[tuple[int, int, float, float]]) -> dict | None:
    """Medians of one step's (data, control, driver s, CPU s) over the sign-ins; None when
    no sign-in made the step a request of its own."""
    if not counts:
        return None
    return {
        "data": statistics.median(c[0] for c in counts),
        "data_max": max(c[0] for c in counts),
        "control": statistics.median(c[1] for c in counts),
        "driver_ms": statistics.median(c[2] for c in counts) * 1000,
        "cpu_ms": statistics.median(c[3] for c in counts) * 1000,
    }


class GcTime:
    """CPU seconds in Python's cyclic garbage collector while active, and collections per
    generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTime:
        import gc

        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        import gc

        gc.callbacks.remove(self._callback)


class Statements:
    """Counts what passes through the connection's cursors (execute_wrapper): data
    statements and transaction control apart, and the seconds spent in the driver."""

    def __init__(self, keep: bool = False) -> None:
        self.data = self.control = 0
        self.seconds = 0.0
        self.keep = keep
        self.kept: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            if sql.lstrip().upper().startswith(CONTROL):
                self.control += 1
            else:
                self.data += 1
            if self.keep:
                self.kept.append(f"{where_from()}  {' '.join(sql.split())[:150]}")

    def snapshot(self) -> tuple[int, int, float]:
        return self.data, self.control, self.seconds


def where_from() -> str:
    """The innermost caller outside Django's database layer: which code ran a statement."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if "/django/db/" in name or "/django/utils/" in name or name == __file__:
            continue
        for marker in ("/src/bibid/", "/site-packages/"):
            if marker in name:
                return f"{name.split(marker, 1)[1]}:{frame.lineno} {frame.name}"
    return "?"


def in_process_child(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import check_password, make_password
    from django.db import connection
    from django.test import Client as TestClient

    browsers = in_process_patrons(IN_PROCESS_PATRONS)
    link_patrons(InProcessShell, browsers)
    # What a web worker does once it has loaded the application (bibid.common.serving).
    from bibid.common.serving import settle_heap

    settle_heap()
    service = Service(
        client_id=READING_SERVICE.client_id,
        client_secret=READING_SERVICE.client_secret,
        redirect_uri=paths.urls(settings.BIBID_PUBLIC_URLS["reading"])["redirect_uri"],
        issuer=settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"],
    )
    host = urlsplit(settings.BIBID_PUBLIC_URLS["identity"]).netloc
    origin = f"http://{host}"
    device: dict[str, str] = {}

    # One test client for the browsers and one for the service's own requests (token,
    # userinfo), each kept for the whole run: a test client loads the middleware chain on its
    # first request (WhiteNoise then scans every static file, some 40 ms), which a server
    # does once per process, not once per sign-in.
    patron = TestClient(
        enforce_csrf_checks=True, HTTP_HOST=host, HTTP_USER_AGENT="bibid-bench/1 (oidc.py)"
    )
    back = TestClient(HTTP_HOST=host)

    def sign_in(browser: Browser, counter: Statements) -> list[tuple[int, int, float, float]]:
        """One whole sign-in from a fresh browser that kept only its device cookie; per step
        (data statements, control statements, driver seconds, CPU seconds), the test
        client's own work included."""
        patron.cookies = SimpleCookie()
        if browser.username in device:
            patron.cookies[DEVICE_COOKIE] = device[browser.username]
        request = Request(service)
        authorize = request.path
        steps = []

        def timed(call, *a, **kw):
            data, control, seconds = counter.snapshot()
            profiler = step_profilers.get(STEPS[len(steps)]) if measuring else None
            cpu = time.process_time()
            if profiler is not None:
                profiler.enable()
            response = call(*a, **kw)
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - cpu
            after = counter.snapshot()
            steps.append((after[0] - data, after[1] - control, after[2] - seconds, cpu))
            return response

        form_type = "application/x-www-form-urlencoded"
        answer = timed(patron.get, authorize)
        login = check_to_login(answer.status_code, answer.get("Location", ""), authorize)
        answer = timed(patron.get, login)
        token = check_login_page(answer.status_code, answer.content.decode(), authorize)
        form = {
            "csrfmiddlewaretoken": token,
            "username": browser.username,
            "password": browser.password,
            "next": authorize,
        }
        answer = timed(
            patron.post,
            LOGIN_PATH,
            urlencode(form),
            content_type=form_type,
            headers={"Origin": origin, "Referer": f"{origin}{login}"},
        )
        code = check_signed_in(answer.status_code, answer.get("Location", ""), request)
        if code is None:
            answer = timed(patron.get, authorize)
            code = check_code(answer.status_code, answer.get("Location", ""), request)
        else:
            steps.append(None)  # answered by the login POST
        answer = timed(
            back.post,
            TOKEN_PATH,
            request.token_body(code),
            content_type=form_type,
            headers={"Authorization": service.basic()},
        )
        access, sub = check_tokens(answer.status_code, answer.content, request)
        answer = timed(back.get, USERINFO_PATH, headers={"Authorization": f"Bearer {access}"})
        check_userinfo(answer.status_code, answer.content, sub)
        device[browser.username] = patron.cookies[DEVICE_COOKIE].value
        return steps

    # --profile: one cProfile per step (FILE.<step>, spaces as dashes), of the measured sign-ins.
    step_profilers = {step: cProfile.Profile() for step in STEPS} if args.profile else {}
    measuring = False
    counter = Statements()
    with connection.execute_wrapper(counter):
        for browser in browsers * 2:  # warm-up: device cookies, templates, caches
            sign_in(browser, counter)
        measuring = True
        gc_time = GcTime()
        with gc_time:
            measured = [
                sign_in(browsers[i % len(browsers)], counter) for i in range(args.in_process_count)
            ]
    for step, profiler in step_profilers.items():
        profiler.dump_stats(f"{args.profile}.{step.replace(' ', '-')}")
    # The bare hash, as the sign-in checks it (Django's check_password with the configured
    # Argon2id hasher), in this process: what the login POST's CPU is compared with.
    password = secrets.token_urlsafe(16)
    encoded = make_password(password)
    hashes = []
    for _ in range(max(20, args.in_process_count // 5)):
        cpu = time.process_time()
        check_password(password, encoded)
        hashes.append(time.process_time() - cpu)
    if args.sql:
        shown = Statements(keep=True)
        with connection.execute_wrapper(shown):
            for step, counts in zip(STEPS, sign_in(browsers[0], shown), strict=True):
                if counts is None:
                    print(f"-- {step}: answered by the login POST")
                    continue
                data, control, _, _ = counts
                print(f"-- {step}: {data} data statements, {control} transaction control")
                for line in shown.kept[: data + control]:
                    print(f"   {line}")
                del shown.kept[: data + control]
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "hash_ms": statistics.median(hashes) * 1000,
                "steps": [
                    step_summary([s[i] for s in measured if s[i] is not None])
                    for i in range(len(STEPS))
                ],
                "total_cpu_ms": statistics.median(
                    sum(x[3] for x in s if x is not None) for s in measured
                )
                * 1000,
                "gc_ms": gc_time.seconds * 1000 / len(measured),
                "gc_collections": gc_time.collections,
            }
        )
    )
    return 0


def report_in_process(results: list[dict], args: argparse.Namespace) -> None:
    print(
        f"\nIn-process (Django's test client, real Argon2id), {args.in_process_count} sign-ins, "
        "medians per step:\ndata statements (max), transaction control, ms in the database "
        "driver, ms of CPU (the test client's own work included)"
    )
    for r in results:
        head = f"{r['database']:<12}{'data':>6}{'(max)':>7}{'control':>9}{'driver ms':>11}"
        head += f"{'CPU ms':>9}{'target':>9}"
        print(f"\n{head}\n{'-' * len(head)}")
        in_post = r["steps"][STEPS.index("authorize 2")] is None
        for step, s in zip(STEPS, r["steps"], strict=True):
            if s is None:
                print(f"{step:<12}{'(answered by the login POST)':>42}")
                continue
            target = STATEMENT_TARGET.get(step)
            if step == "login POST" and in_post:
                # The sign-in's own 6, then the authorization's budget.
                target = 6 + STATEMENT_TARGET["authorize 2"]
            verdict = ""
            if target is not None:
                verdict = f"{f'<={target}':>9}  {'met' if s['data_max'] <= target else 'not met'}"
            print(
                f"{step:<12}{s['data']:>6.0f}{s['data_max']:>7}{s['control']:>9.0f}"
                f"{s['driver_ms']:>11.2f}{s['cpu_ms']:>9.2f}{verdict}"
            )
        data = sum(s["data"] for s in r["steps"] if s is not None)
        driver = sum(s["driver_ms"] for s in r["steps"] if s is not None)
        outside = r["total_cpu_ms"] - r["hash_ms"]
        met = "met" if outside < OUTSIDE_HASH_TARGET_MS else "not met"
        print(f"{'whole':<12}{data:>6.0f}{'':>7}{'':>9}{driver:>11.2f}{r['total_cpu_ms']:>9.2f}")
        print(
            f"bare hash (check_password, CPU) {r['hash_ms']:.2f} ms; outside the hash "
            f"{outside:.2f} ms per sign-in (target < {OUTSIDE_HASH_TARGET_MS:.0f}): {met}"
        )
        young, middle, old = r["gc_collections"]
        print(
            f"garbage collector {r['gc_ms']:.2f} ms per sign-in "
            f"({young}/{middle}/{old} collections of generation 0/1/2)"
        )


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=300, help="measured sign-ins (and bare verifications)"
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
        "--threads", type=int, default=4, help="threads per gunicorn worker (default: 4)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BIBID_TEST_POSTGRES_URL"),
        help="also run on PostgreSQL (default: $BIBID_TEST_POSTGRES_URL)",
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--in-process", action="store_true", help="only the in-process statements and CPU"
    )
    only.add_argument("--no-in-process", action="store_true", help="only the sign-ins over HTTP")
    parser.add_argument(
        "--in-process-count", type=int, default=100, help="measured in-process sign-ins"
    )
    parser.add_argument(
        "--sql", action="store_true", help="list one in-process sign-in's statements, by caller"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="a cProfile of each step of the measured in-process sign-ins: FILE.<database>.<step>",
    )
    parser.add_argument("--in-process-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.in_process_count < 1:
        parser.error("--requests, --concurrency and --in-process-count must be at least 1")
    if args.in_process_child:
        return in_process_child(args)

    databases = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    outcomes = []
    if not args.in_process:
        outcomes = [run_http(label, args, url) for label, url in databases]
    results = []
    if not args.no_in_process:
        results = [run_in_process(label, args, url) for label, url in databases]
    if outcomes:
        report_http(outcomes, args)
    if results:
        report_in_process(results, args)
    failed = any(o.errors or o.sign_ins != args.requests for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
