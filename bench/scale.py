"""National scale on PostgreSQL: what a million accounts change, measured in one run.

Starts the whole system the way `bibid up` does (tests/e2e/harness.py) on fresh PostgreSQL
databases, loads data with the real import commands (`bibid library import`, `bibid identity
import`, the files made by bench/import.py's generator: each account linked to one customer
with a subscription, over `--libraries` libraries) and measures, over real HTTP:

1. sign-in latency (the form, as bench/login.py signs in: a patron's browser keeps its
   device cookie; `--concurrency` patrons at once, closed loop) and the helpdesk diagnosis
   latency (POST /api/v1/customers/{card}/diagnosis at the library, which asks identity's
   status once, as bench/diagnose.py measures it) at `--small` accounts, then grows the same
   databases to `--accounts` and measures again: p50/p95 and the ratio large / small
   (target: sign-in and diagnosis p95 at 1 M within 1.2x of 10 k). A second system, the
   reference, is loaded with the same small data and stays at that size; both are measured
   in rounds that take turns, so the large size is also compared with the small one in the
   same minutes (a shared machine's speed drifts), and the two at equal size give the noise
   floor of the ratio;
2. `bibid identity purge-inactive` of `--inactive` expired inactive accounts (imported as
   inactive, each linked to a library; the command runs with its clock a day ahead, so the
   services' own five-minute purge leaves them alone) while patrons keep signing in: time
   to done (target < 60 s) and sign-in p95 during the purge against just before (target
   within 1.5x);
3. the nightly sync of one library (`bibid library sync`'s code, in a `bibid library shell`
   under a connection execute_wrapper): the first night after the migration (every
   customer's rights new at identity) and a usual night (nothing changed): time, customers/s
   and the library's SQL statements per customer; identity's statements per bulk call of
   5,000 (Django's test client in a `bibid identity shell`, as bench/diagnose.py counts);
4. the changes feed (GET /api/v1/changes, limit 500 as the library's follower asks) read
   from the start by each of the ten libraries with its own client credentials, one library
   after another (as the library service's follow_changes task does) and all ten at once:
   time per library, pages/s, and the page time of the first ten pages against the last ten;
5. the resident memory (VmRSS in /proc/<pid>/status) of every gunicorn worker of every
   service after the small and after the large sign-in runs, and at the end (target < 150 MB).

Between the steps the library learns its links (set-up, not measured: what the feed would
tell it, written straight into its database, because following a million `link_created`
one by one queues a push each; docs/import.md) and both databases get `VACUUM ANALYZE`, as
after any bulk load. The library service's pollers are set to a day, so nothing but the
benchmark's own load runs. A bare Argon2id verification rate is measured next to each
sign-in run: the machine's speed, which drifts on a shared VM.

    .venv/bin/python bench/scale.py [--accounts 100000] [--small 10000] [--inactive N]
                                    [--postgres URL]
    .venv/bin/python bench/scale.py --accounts 1000000    # the national figure, ~45 min

Prints figures only; nothing is asserted about time. Exits 1 only when the system
misbehaves (a sign-in, diagnosis, feed page or sync that fails, an import or purge that does
not do every row), because then the figures would mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import login  # noqa: E402
from tests.e2e import harness  # noqa: E402
from tests.e2e.library_api import Library as LibraryApi  # noqa: E402

importer = importlib.import_module("bench.import")  # `import` is a keyword

SIGNIN_RATIO = 1.2  # p95 at the large size within 1.2x of the small size
PURGE_SECONDS = 60
PURGE_RATIO = 1.5  # sign-in p95 during the purge within 1.5x of before
RSS_MB = 150
FEED_PAGE = 500  # what IdentityClient.changes_list asks for
SYNC_CALL = 5000  # items per bulk call (loginaccounts.sync.BATCH)


class Misbehaved(Exception):
    """The system did something wrong: the figures would mean nothing."""


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def p50_p95(values: list[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 95)


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def machine() -> str:
    busy = login.machine_busy_share(2.0)
    return f"machine {busy:.0%} busy, load average {os.getloadavg()[0]:.1f}"


# -- data ----------------------------------------------------------------------------------


def split_lines(source: Path, first: Path, rest: Path, count: int) -> None:
    """The first `count` lines of `source` to `first`, the others to `rest`. A
    subscription starts 90 days ago (the generator's start is a fixed date, long enough ago
    for a year's subscription to have ended): a customer has rights to push and a current
    subscription for the helpdesk to look at, as most members do."""
    start = (datetime.date.today() - datetime.timedelta(days=90)).isoformat()
    with source.open() as lines, first.open("w") as head, rest.open("w") as tail:
        for number, line in enumerate(lines):
            line = re.sub(
                r'"subscription_start": "[0-9-]+"', f'"subscription_start": "{start}"', line
            )
            (head if number < count else tail).write(line)


def inactive_file(folder: Path, count: int, libraries: int, tag: int = 0) -> Path:
    """Sign-ups that were never activated: the generator's accounts, renamed, without a
    password, linked to a card of their library that no other account has (`tag` 0 or 1:
    two sets)."""
    folder.mkdir(exist_ok=True)
    customers, accounts = importer.generate(folder, count, libraries)
    customers.unlink()
    path = folder / "inactive.jsonl"
    with accounts.open() as rows, path.open("w") as out:
        for row_number, line in enumerate(rows):
            row = json.loads(line)
            library = row_number % libraries
            # The generator's cards are 4LL + 7 digits below 8,000,000 per library here;
            # 4LL9 (or 4LL8 for the second set) + 6 digits never meets one of them.
            card = f"4{library:02d}{9 - tag}{row_number // libraries:06d}"
            out.write(
                json.dumps(
                    {
                        "username": f"aanmelding{tag}.{row_number:07d}",
                        "recovery_email": row["recovery_email"],
                        "state": "inactive",
                        "password_hash": "",
                        "links": [{"library": f"bib{library:02d}", "card_number": card}],
                    }
                )
                + "\n"
            )
    return path


def sample(path: Path, stop: int, count: int, rng: random.Random, taken: set[int]) -> list[dict]:
    """`count` rows of the first `stop` lines of a JSON Lines file, at random, none in `taken`."""
    free = stop - len([n for n in taken if n < stop])
    wanted = set()
    while len(wanted) < min(count, free):
        number = rng.randrange(stop)
        if number not in taken:
            wanted.add(number)
    taken |= wanted
    rows = []
    with path.open() as lines:
        for number, line in enumerate(lines):
            if number in wanted:
                rows.append(json.loads(line))
            if number >= stop:
                break
    return rows


def run_import(system: harness.System, service: str, path: Path, rows: int, var: Path) -> float:
    report = var / f"{path.stem}.report.csv"
    took, out = importer.bibid(
        system.env, service, "import", str(path), "--no-progress", "--report", str(report)
    )
    if f"created: {rows}" not in out:
        raise Misbehaved(f"{service} import of {path.name}: not every row created:\n{out}")
    say(f"{service} import {path.name}: {rows:,} rows in {took:.1f} s ({rows / took:,.0f}/s)")
    return took


SETUP_IDENTITY = """
import json
from bibid.identity.libraries.services import register_library
out = []
for i in range({n}):
    done = register_library(code=f"bib{{i:02d}}", name=f"Bibliotheek {{i}}",
                            card_prefixes=[f"4{{i:02d}}"])
    out.append({{"library": done.library.code, "name": done.library.name,
                "client_id": done.client_id, "client_secret": done.client_secret}})
print(json.dumps(out))
"""

SETUP_LIBRARY_STAFF = """
import json
from bibid.common.demo import SUBSCRIPTION_TYPES
from bibid.library.subscriptions.models import SubscriptionType
from bibid.library.staff.models import Staff
from bibid.library.staff.permissions import Actor
from bibid.library.staff.tokens import create_token
from bibid.library.tenants.models import Library
clients = json.loads({clients!r})
tokens = {{}}
for client in clients:
    library = Library.objects.get(code=client["library"])
    library.identity_client_id = client["client_id"]
    library.identity_client_secret = client["client_secret"]
    library.save()
    staff = Staff.objects.create_user(f"helpdesk.{{library.code}}", None, name="Helpdesk",
                                      library=library, role=Staff.Role.HELPDESK)
    tokens[library.code], _ = create_token(actor=Actor.system("bench"), staff=staff, name="bench")
# Online rights (e-books, audiobooks), as most members' subscriptions have: what is pushed.
SubscriptionType.objects.filter(library__code__startswith="bib").update(
    rights=next(t.rights for t in SUBSCRIPTION_TYPES if t.code == "compleet")
)
print(json.dumps(tokens))
"""


def set_up_libraries(system: harness.System, libraries: int) -> tuple[list[dict], dict]:
    """The libraries at both services (as docs/import.md's step 1), with real client
    credentials at the library and a helpdesk member with an API token in each."""
    clients = json.loads(system.identity_shell(SETUP_IDENTITY.format(n=libraries)))
    system.bibid("library", "shell", "-v", "0", "-c", importer.LIBRARY_SETUP.format(n=libraries))
    tokens = json.loads(
        system.bibid(
            "library",
            "shell",
            "-v",
            "0",
            "-c",
            SETUP_LIBRARY_STAFF.format(clients=json.dumps(clients)),
        )
    )
    return clients, tokens


def learn_links(system: harness.System) -> int:
    """Set-up: the library records the links identity made, as its feed follower would, and
    its cursor moves to the end of its feed. Straight in the databases: following a million
    `link_created` one at a time queues a push each (docs/import.md, step 5)."""
    with psycopg.connect(system.env["IDENTITY_DATABASE_URL"]) as identity:
        links = identity.execute(
            "SELECT lib.code, l.customer_ref, a.public_id, a.username"
            " FROM libraries_link l JOIN libraries_library lib ON lib.id = l.library_id"
            " JOIN accounts_account a ON a.id = l.account_id WHERE lib.code LIKE 'bib%'"
        ).fetchall()
        cursors = identity.execute(
            "SELECT lib.code, max(c.id) FROM libraries_change c"
            " JOIN libraries_library lib ON lib.id = c.library_id WHERE lib.code LIKE 'bib%'"
            " GROUP BY lib.code"
        ).fetchall()
    with psycopg.connect(system.env["LIBRARY_DATABASE_URL"]) as library:
        library.execute(
            "CREATE TEMP TABLE bench_links (code text, card text, account uuid, username text)"
        )
        with library.cursor().copy("COPY bench_links FROM STDIN") as copy:
            for row in links:
                copy.write_row(row)
        updated = library.execute(
            "UPDATE customers_customer c SET account_id = b.account,"
            " account_username = b.username, account_linked_at = now()"
            " FROM bench_links b, tenants_library t"
            " WHERE t.code = b.code AND c.library_id = t.id AND c.card_number = b.card"
            " AND c.account_id IS NULL"
        ).rowcount
        for code, cursor in cursors:
            library.execute(
                "UPDATE tenants_library SET changes_cursor = %s WHERE code = %s", (cursor, code)
            )
    return updated


def settle(system: harness.System) -> float:
    """What an operator runs after a bulk load (VACUUM ANALYZE: fresh planner statistics, the
    visibility map set, so that autovacuum does not start on a million rows during the
    measurements), and a CHECKPOINT: the gigabytes the import dirtied are written now, not
    spread over the next measurement (in a first run, sign-in p95 doubled right after the
    import and was back two minutes later)."""
    started = time.perf_counter()
    for service in ("identity", "library"):
        with psycopg.connect(system.env[f"{service.upper()}_DATABASE_URL"], autocommit=True) as c:
            c.execute("VACUUM ANALYZE")
    with psycopg.connect(system.env["IDENTITY_DATABASE_URL"], autocommit=True) as c:
        c.execute("CHECKPOINT")
    return time.perf_counter() - started


# -- sign-ins ------------------------------------------------------------------------------


class Patrons:
    """Imported patrons signing in through the form, each in a browser of its own."""

    def __init__(self, system: harness.System, rows: list[dict], concurrency: int) -> None:
        self.browsers = [login.Browser(row["username"], importer.PASSWORD) for row in rows]
        self.clients = [login.Client(system.urls["identity"]) for _ in range(concurrency)]

    def warm(self) -> None:
        """Each patron signs in once, one at a time (login.py's warm-up): the imported hash
        becomes our Argon2id at that first sign-in, and the browser gets its device cookie,
        as a returning patron's has. Then a few concurrent ones."""
        errors: list[str] = []
        for i, browser in enumerate(self.browsers):
            client = self.clients[i % len(self.clients)]
            client.open_login_page(browser)
            if problem := client.log_in(browser):
                errors.append(f"{browser.username}: {problem}")
        login.drive(self.clients, self.browsers, 4 * len(self.clients), None, errors)
        if errors:
            raise Misbehaved(f"warm-up sign-ins failed: {errors[:5]}")

    def with_concurrency(self, system: harness.System, concurrency: int) -> Patrons:
        """The same warmed-up browsers, signing in `concurrency` at a time."""
        other = Patrons(system, [], concurrency)
        other.browsers = self.browsers
        return other

    def keep_going(self, stop: threading.Event) -> tuple[list[tuple[float, float]], list[str]]:
        """Sign in until `stop` is set, in the background; ([(started, ms)], errors)."""
        samples: list[tuple[float, float]] = []
        errors: list[str] = []
        lock = threading.Lock()

        def worker(index: int) -> None:
            client = self.clients[index]
            mine = self.browsers[index :: len(self.clients)]
            turn = 0
            while not stop.is_set():
                browser = mine[turn % len(mine)]
                turn += 1
                started = time.perf_counter()
                problem = client.log_in(browser)
                took = (time.perf_counter() - started) * 1000
                with lock:
                    if problem:
                        errors.append(f"{browser.username}: {problem}")
                    else:
                        samples.append((started, took))
                if problem:
                    client.open_login_page(browser)

        threads = [
            threading.Thread(target=worker, args=(i,), daemon=True)
            for i in range(len(self.clients))
        ]
        for thread in threads:
            thread.start()
        self.threads = threads
        return samples, errors

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)

    def close(self) -> None:
        for client in self.clients:
            client.conn.close()


def hash_rate(verifiers: login.Verifiers, count: int) -> float:
    """Bare Argon2id verifications/s on all cores: the machine's speed just now."""
    return count / verifiers.seconds(count)


# -- diagnoses -----------------------------------------------------------------------------


class Helpdesk:
    """One keep-alive session per library, with its helpdesk member's API token."""

    def __init__(self, system: harness.System, tokens: dict[str, str]) -> None:
        self.base = system.urls["library"] + "/api/v1"
        self.sessions = {}
        for code, token in tokens.items():
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            self.sessions[code] = session

    def diagnose(self, customer: dict) -> float:
        started = time.perf_counter()
        answer = self.sessions[customer["library"]].post(
            f"{self.base}/customers/{customer['card_number']}/diagnosis",
            json={"problem": "cannot-login"},
            timeout=60,
        )
        took = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise Misbehaved(
                f"diagnosis of {customer['card_number']}: {answer.status_code} {answer.text[:300]}"
            )
        return took

    def one_round(self, customers: list[dict], rng: random.Random) -> list[float]:
        """Each customer diagnosed once, in a shuffled order."""
        return [self.diagnose(customer) for customer in rng.sample(customers, len(customers))]


# -- two systems, the same minutes ----------------------------------------------------------


@dataclass
class Site:
    """One running system with its libraries: `grown` grows to the large size, `reference`
    stays at the small one, so that both can be measured in the same minutes."""

    name: str
    system: harness.System
    clients: list[dict]
    helpdesk: Helpdesk
    taken: set[int] = field(default_factory=set)


def measure_sites(
    sites: list[tuple[Site, list[dict], list[dict]]],
    args: argparse.Namespace,
    verifiers: login.Verifiers,
    rng: random.Random,
) -> tuple[dict, dict[str, Patrons]]:
    """Sign-ins and diagnoses at each site, in rounds that take turns between the sites (and
    with bare Argon2id verifications: the machine's speed), as login.py takes turns: a shared
    machine's speed drifts within a minute, so both sites see the same machine. Each site is
    given (site, patrons' account rows, customers' rows)."""
    patrons = {}
    for site, rows, customers in sites:
        patrons[site.name] = Patrons(site.system, rows, args.concurrency)
        say(f"{site.name}: warm-up of {len(rows)} patrons and {len(customers)} customers")
        patrons[site.name].warm()
        for customer in customers:
            site.helpdesk.diagnose(customer)
    found = {site.name: {"signins": [], "diagnoses": []} for site, _, _ in sites}
    errors: list[str] = []
    speeds = []
    say(f"{args.signins} sign-ins at each of {len(sites)} system(s), in 4 rounds ({machine()})")
    for number, share in enumerate(login.split(args.signins, 4)):
        speeds.append(hash_rate(verifiers, 50))
        for site, _, _ in sites[:: 1 if number % 2 == 0 else -1]:
            latencies: list[float] = []
            login.drive(
                patrons[site.name].clients, patrons[site.name].browsers, share, latencies, errors
            )
            found[site.name]["signins"] += [seconds * 1000 for seconds in latencies]
    if errors:
        raise Misbehaved(f"{len(errors)} sign-ins failed: {errors[:5]}")
    say(f"{args.rounds} rounds of diagnoses at each system ({machine()})")
    for number in range(args.rounds):
        for site, _, customers in sites[:: 1 if number % 2 == 0 else -1]:
            found[site.name]["diagnoses"] += site.helpdesk.one_round(customers, rng)
    for name, data in found.items():
        (s50, s95), (d50, d95) = p50_p95(data["signins"]), p50_p95(data["diagnoses"])
        say(
            f"{name}: sign-in p50/p95 {s50:.1f} / {s95:.1f} ms, diagnosis p50/p95 "
            f"{d50:.1f} / {d95:.1f} ms"
        )
    found["hash_rate"] = statistics.mean(speeds)
    return found, patrons


# -- memory --------------------------------------------------------------------------------


def worker_rss(system: harness.System) -> dict[str, list[float]]:
    """VmRSS in MB of each gunicorn worker, per service (gunicorn processes whose parent is
    their gunicorn master)."""
    table = system.processes()
    found: dict[str, list[float]] = {}
    for service in harness.SERVICES:
        wsgi = f"gunicorn bibid.{service}.wsgi"
        gunicorn = {pid for pid, (_ppid, cmd) in table.items() if wsgi in cmd}
        for pid in sorted(gunicorn):
            if table[pid][0] not in gunicorn:
                continue  # the master
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        found.setdefault(service, []).append(int(line.split()[1]) / 1024)
    return found


def show_rss(label: str, rss: dict[str, list[float]]) -> None:
    parts = [
        f"{service} {' / '.join(f'{mb:.0f}' for mb in sorted(values))}"
        for service, values in rss.items()
    ]
    say(f"RSS of the gunicorn workers ({label}), MB: {'; '.join(parts)}")


# -- the purge -----------------------------------------------------------------------------


def purge(
    system: harness.System,
    patrons: Patrons,
    var: Path,
    expected: int,
    before: float,
    nice: int = 0,
):
    """`bibid identity purge-inactive` with its clock a day ahead, while patrons sign in;
    `nice`: run it at that lower CPU priority (`nice -n`)."""
    clock = var / "purge-clock"
    clock.write_text(str(25 * 3600))  # past the 24-hour activation window
    env = {**system.env, "BIBID_TEST_CLOCK_FILE": str(clock)}
    # What the command costs before its first batch (Python, Django, the count).
    dry = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bibid", "purge-inactive", "--dry-run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    startup = time.perf_counter() - dry
    found = int(out.split()[0])
    if found < expected:
        raise Misbehaved(f"the purge would find {found}, not {expected}: {out}")
    stop = threading.Event()
    quiet = login.CpuMeter(system.process.pid, system.databases)
    quiet.start()
    quiet_started = time.perf_counter()
    samples, errors = patrons.keep_going(stop)
    first_output: list[float] = []
    try:
        time.sleep(before)
        cpu_before = quiet.stop()
        cpu_before["seconds"] = time.perf_counter() - quiet_started
        meter = login.CpuMeter(system.process.pid, system.databases)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        meter.start()
        started = time.perf_counter()
        niced = ["nice", "-n", str(nice)] if nice else []
        command = subprocess.Popen(
            [*niced, sys.executable, "-m", "bibid", "purge-inactive"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        def progress() -> None:
            # The progress bar's first line is written when the purge starts to work (the
            # count, then the batches): the end of the command's start-up.
            stream = command.stderr
            error = b""
            while chunk := stream.read1(4096):
                if not first_output and b"purging" in chunk:
                    first_output.append(time.perf_counter())
                error = (error + chunk)[-3000:]
            command.error = error.decode(errors="replace")

        reader = threading.Thread(target=progress, daemon=True)
        reader.start()
        output = command.stdout.read().decode()
        command.wait()
        ended = time.perf_counter()
        cpu = meter.stop()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The command's own CPU (this process's only child finished meanwhile), and where
        # the rest of the machine's went: login.CpuMeter's kinds ("other" then holds the
        # command, which is not below `bibid up`, and whatever else ran on the machine).
        cpu["command"] = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        cpu["other"] = max(0.0, cpu["other"] - cpu["command"])
        reader.join(timeout=10)
        time.sleep(3)
    finally:
        stop.set()
        patrons.join()
    if command.returncode != 0:
        raise Misbehaved(f"purge failed:\n{output}\n{getattr(command, 'error', '')}")
    deleted = int(output.split()[0])
    # The services' own five-minute purge may have taken a demo account meanwhile (the
    # demo has one past its window); ours are all still there for the command.
    if not expected <= deleted <= found:
        raise Misbehaved(f"the purge deleted {deleted} of {found} ({expected} ours): {output}")
    if errors:
        raise Misbehaved(f"{len(errors)} sign-ins failed during the purge: {errors[:5]}")
    working = first_output[0] if first_output else started
    return {
        "deleted": deleted,
        "seconds": ended - started,
        "startup": startup,
        "working": ended - working,
        "before": [ms for at, ms in samples if at < started],
        "during": [ms for at, ms in samples if started <= at <= ended],
        "working_samples": [ms for at, ms in samples if working <= at <= ended],
        "after": [ms for at, ms in samples if at > ended],
        "cpu": cpu,
        "cpu_before": cpu_before,
        "nice": nice,
    }


# -- the nightly sync ----------------------------------------------------------------------

SYNC_SHELL = """
import io, json, time
from django.core.management import call_command
from django.db import connection
from bibid.library.customers.models import Customer
from bibid.library.loginaccounts.pushes import payload_for
from bibid.library.tenants.models import Library
library = Library.objects.get(code={code!r})
linked = Customer.objects.filter(library=library, account_id__isnull=False).count()
statements = [0]
def count(execute, sql, params, many, context):
    statements[0] += 1
    return execute(sql, params, many, context)
for night in ("first", "usual"):
    statements[0] = 0
    out = io.StringIO()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        call_command("sync", library={code!r}, no_progress=True, stdout=out)
    took = time.perf_counter() - started
    print(json.dumps({{"night": night, "seconds": took, "statements": statements[0],
                      "linked": linked, "counts": out.getvalue().strip()}}))
items = [
    {{"customer_ref": c.card_number, **payload_for(c)}}
    for c in Customer.objects.filter(library=library, account_id__isnull=False)
    .order_by("pk").prefetch_related("memberships__subscription__type")[:{size}]
]
with open({path!r}, "w") as fh:
    json.dump(items, fh, default=str)
"""

IDENTITY_BULK_SHELL = """
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
skip = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET LOCAL")
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION={bearer!r})
items = json.load(open({path!r}))
def call(kind, items):
    with CaptureQueriesContext(connection) as ctx:
        answer = client.post("/api/v1/authorizations", data=json.dumps({{"items": items}}),
                             content_type="application/json")
    assert answer.status_code == 200, answer.content[:500]
    data = [q for q in ctx.captured_queries if not q["sql"].upper().startswith(skip)]
    print(json.dumps({{"kind": kind, "items": len(items), "statements": len(data),
                      "counts": answer.json()["counts"]}}))
call("unchanged", items)
for item in items:  # another system changed the data: each item is new to identity
    item["version"] += 1
    item["customer"]["name"] += " (gewijzigd)"
call("changed", items)
"""


def nightly_sync(system: harness.System, client: dict, var: Path) -> dict:
    path = var / "sync-items.json"
    out = system.bibid(
        "library",
        "shell",
        "-v",
        "0",
        "-c",
        SYNC_SHELL.format(code=client["library"], size=SYNC_CALL, path=str(path)),
    )
    nights = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for night in nights:
        counts = dict(part.split(": ") for part in night["counts"].split(", "))
        done = int(counts.get("updated", 0)) + int(counts.get("unchanged", 0))
        if done != night["linked"]:
            raise Misbehaved(f"sync {night['night']}: {night['counts']} for {night['linked']}")
        night["parsed"] = counts
    token = LibraryApi(system.urls["identity"], client, scope="accounts:read accounts:write").token
    out = system.identity_shell(
        IDENTITY_BULK_SHELL.format(bearer=f"Bearer {token}", path=str(path))
    )
    calls = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {"nights": nights, "identity": calls}


# -- the changes feed ----------------------------------------------------------------------


def read_feed(api: LibraryApi) -> dict:
    """Read the library's whole feed from the start, page by page, as its follower does. A
    503 (the service shedding load: ten readers on eight threads) is waited out as its
    Retry-After says and the page asked again; those refusals are counted."""
    after, pages, changes, refused, resets = 0, [], 0, 0, 0
    started = time.perf_counter()
    while True:
        began = time.perf_counter()
        try:
            answer = api.call("GET", "/changes", params={"after": after, "limit": FEED_PAGE})
        except requests.ConnectionError:
            # A keep-alive connection the server closed as it was reused (gunicorn closes
            # one idle for 2 s; a reader that waited out a 503 may find it closed): a
            # follower asks again. Worker restarts would show in the log check below.
            resets += 1
            if resets > 100:
                raise
            continue
        if answer.status_code == 503 and refused < 1000:
            refused += 1
            time.sleep(min(5.0, float(answer.headers.get("Retry-After") or 1)))
            continue
        pages.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise Misbehaved(f"feed of {api.code} after {after}: {answer.status_code}")
        page = answer.json()
        changes += len(page["changes"])
        after = page["next_after"]
        if not page["more"]:
            break
    return {
        "library": api.code,
        "seconds": time.perf_counter() - started,
        "pages": pages,
        "changes": changes,
        "refused": refused,
        "resets": resets,
    }


def feeds(system: harness.System, clients: list[dict]) -> dict:
    apis = [LibraryApi(system.urls["identity"], c, scope="accounts:read") for c in clients]
    say(f"changes feed: ten libraries one after another ({machine()})")
    one_by_one = [read_feed(api) for api in apis]
    say(f"changes feed: ten libraries at once ({machine()})")
    results: list[dict] = [{}] * len(apis)
    failures: list[str] = []
    started = time.perf_counter()

    def read(index: int) -> None:
        try:
            results[index] = read_feed(apis[index])
        except (Misbehaved, requests.RequestException) as error:
            failures.append(f"{apis[index].code}: {error}")

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(apis))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    together = time.perf_counter() - started
    if failures or any(not r for r in results):
        raise Misbehaved(f"a library's feed read failed: {failures[:3]}")
    for one, two in zip(one_by_one, results, strict=True):
        if one["changes"] != two["changes"]:
            raise Misbehaved(f"feed of {one['library']}: {one['changes']} then {two['changes']}")
    return {"one_by_one": one_by_one, "together": results, "together_seconds": together}


# -- the run -------------------------------------------------------------------------------


def start(var: Path, name: str, args: argparse.Namespace) -> harness.System:
    say(f"starting bibid up --workers {args.workers} --threads {args.threads} ({name})")
    (var / name).mkdir()
    return harness.start_system(
        var / name,
        workers=args.workers,
        threads=args.threads,
        extra_env={
            # No poller of the library service runs during the benchmark (the feed, the
            # push queue): what is measured is the load the benchmark makes.
            "BIBID_LIBRARY_POLL_SECONDS": str(86400),
            **dict(pair.split("=", 1) for pair in args.env),
        },
    )


def load(site: Site, customers: Path, accounts: Path, rows: int, var: Path) -> dict:
    """Import with the real commands; the library learns its links; the databases settle."""
    done = {
        "library": run_import(site.system, "library", customers, rows, var),
        "identity": run_import(site.system, "identity", accounts, rows, var),
        "rows": rows,
    }
    linked = learn_links(site.system)
    took = settle(site.system)
    say(
        f"{site.name}: the library learnt {linked:,} links (set-up); VACUUM ANALYZE and "
        f"CHECKPOINT {took:.0f} s"
    )
    return done


def run(args: argparse.Namespace, var: Path, files: Path) -> dict:
    rng = random.Random(args.seed)
    result: dict = {"rss": {}}
    say(f"generating {args.accounts:,} accounts and customers over {args.libraries} libraries")
    customers, accounts = importer.generate(files, args.accounts, args.libraries)
    parts = {}
    for name, path in (("customers", customers), ("accounts", accounts)):
        first, rest = files / f"{name}-small.jsonl", files / f"{name}-rest.jsonl"
        split_lines(path, first, rest, args.small)
        parts[name] = (first, rest)
    size = sum(f.stat().st_size for f in files.rglob("*.jsonl")) / 1e6
    say(f"files ready ({size:,.0f} MB under {files})")

    systems: list[harness.System] = []
    verifiers = login.Verifiers(args.concurrency)
    try:
        sites = []
        for name in ("grown", "reference"):
            system = start(var, name, args)
            systems.append(system)
            clients, tokens = set_up_libraries(system, args.libraries)
            sites.append(Site(name, system, clients, Helpdesk(system, tokens)))
        grown, reference = sites
        system = grown.system
        log_start = system.log_path.stat().st_size
        result["imports"] = {}
        for site in sites:
            done = load(site, parts["customers"][0], parts["accounts"][0], args.small, var)
            result["imports"].setdefault("small", done)

        # The small size at both systems (the same data): how far two identical systems
        # differ when measured in the same minutes, the noise floor of the ratio below.
        rows = sample(accounts, args.small, args.patrons, rng, grown.taken)
        picked = sample(customers, args.small, args.customers, rng, set())
        result["small"], patrons = measure_sites(
            [(grown, rows, picked), (reference, rows, picked)], args, verifiers, rng
        )
        for each in patrons.values():
            each.close()
        result["rss"][f"after the {args.small:,}-account run"] = rss = worker_rss(system)
        show_rss(f"after {args.small:,}", rss)

        say(f"growing {grown.name} to {args.accounts:,} accounts")
        result["imports"]["large"] = load(
            grown,
            parts["customers"][1],
            parts["accounts"][1],
            args.accounts - args.small,
            var,
        )
        result["large"], patrons = measure_sites(
            [
                (
                    grown,
                    sample(accounts, args.accounts, args.patrons, rng, grown.taken),
                    sample(customers, args.accounts, args.customers, rng, set()),
                ),
                (
                    reference,
                    sample(accounts, args.small, args.patrons, rng, reference.taken | grown.taken),
                    sample(customers, args.small, args.customers, rng, set()),
                ),
            ],
            args,
            verifiers,
            rng,
        )
        patrons["reference"].close()
        harness.stop_system(reference.system)  # its work is done: two idle cores' worth less
        systems.remove(reference.system)
        result["rss"][f"after the {args.accounts:,}-account run"] = rss = worker_rss(system)
        show_rss(f"after {args.accounts:,}", rss)

        result["purge"] = []
        loads = sorted({args.concurrency, 1}, reverse=True)
        for number, concurrency in enumerate(loads):
            inactive = inactive_file(
                files / f"inactive-{number}", args.inactive, args.libraries, number
            )
            say(f"purge: importing {args.inactive:,} inactive accounts (linked, never activated)")
            run_import(system, "identity", inactive, args.inactive, var)
            settle(system)
            signing_in = patrons["grown"].with_concurrency(system, concurrency)
            say(
                f"purge: {concurrency} patron(s) at once signing in for {args.before:.0f} s, "
                f"then bibid purge-inactive ({machine()})"
            )
            done = purge(system, signing_in, var, args.inactive, args.before, args.purge_nice)
            signing_in.close()
            done["concurrency"] = concurrency
            result["purge"].append(done)
            say(f"purge: {done['deleted']:,} accounts in {done['seconds']:.1f} s")
        patrons["grown"].close()

        result["rss"]["after the purge"] = worker_rss(system)
        say(f"nightly sync of {grown.clients[0]['library']} ({machine()})")
        result["sync"] = nightly_sync(system, grown.clients[0], var)
        for night in result["sync"]["nights"]:
            say(f"sync, {night['night']} night: {night['counts']} in {night['seconds']:.1f} s")

        result["rss"]["after the sync (bulk calls of 5,000)"] = worker_rss(system)
        result["feed"] = feeds(system, grown.clients)
        result["rss"]["after the feed, at the end"] = rss = worker_rss(system)
        show_rss("at the end", rss)
        result["health"] = health(system.log_path, log_start)
    except BaseException:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for number, each in enumerate(systems):
            kept = Path(tempfile.gettempdir()) / f"bibid-bench-scale-{stamp}-{number}.log"
            shutil.copyfile(each.log_path, kept)
            print(f"bibid up's output is kept in {kept}", file=sys.stderr)
        raise
    finally:
        verifiers.close()
        for each in systems:
            harness.stop_system(each)
    return result


HEALTH = {
    "worker timeouts": re.compile(r"WORKER TIMEOUT"),
    "workers started again": re.compile(r"Booting worker"),
    "tracebacks": re.compile(r"Traceback \(most recent call last\)"),
    # bibid.request's line per request: method, route, status (503 is load shedding).
    "5xx answers other than 503": re.compile(r"bibid\.request \[[^\]]*\] \S+ \S+ 5(?!03)\d\d "),
}


def health(log: Path, start: int) -> dict[str, int]:
    """What `bibid up` logged after start-up that a healthy run does not log."""
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    return {name: len(pattern.findall(text)) for name, pattern in HEALTH.items()}


# -- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(result: dict, args: argparse.Namespace) -> None:
    print(
        f"\nScale on PostgreSQL: {args.small:,} then {args.accounts:,} accounts and customers "
        f"over {args.libraries} libraries; bibid up --workers {args.workers} --threads "
        f"{args.threads}; {args.concurrency} patrons at once; {os.cpu_count()} cores"
    )
    print("\nImports (the real commands, start-up included):")
    for name, done in result["imports"].items():
        rows = done["rows"]
        print(
            f"  {name:<6} {rows:>10,} rows: library {done['library']:7.1f} s "
            f"({rows / done['library']:,.0f}/s), identity {done['identity']:7.1f} s "
            f"({rows / done['identity']:,.0f}/s)"
        )

    big, few = f"{args.accounts:,}", f"{args.small:,}"
    rows = [
        ("small", "grown", f"{few}, grown system, before growing"),
        ("small", "reference", f"{few}, reference, same minutes"),
        ("large", "grown", f"{big}, grown system"),
        ("large", "reference", f"{few}, reference, same minutes"),
    ]
    for kind, name in (("signins", "Sign-in"), ("diagnoses", "Diagnosis")):
        print(f"\n{name + ' at':<46}{'p50 ms':>8}{'p95 ms':>8}{'n':>6}")
        for phase, site, label in rows:
            values = result[phase][site][kind]
            p50, p95 = p50_p95(values)
            print(f"  {label:<44}{p50:>8.1f}{p95:>8.1f}{len(values):>6}")

        def p95(phase: str, site: str, kind: str = kind) -> float:
            return p50_p95(result[phase][site][kind])[1]

        grown = p95("large", "grown") / p95("small", "grown")
        same = p95("large", "grown") / p95("large", "reference")
        floor = p95("small", "grown") / p95("small", "reference")
        print(
            f"  p95 {big} / {few}, the grown system before and after (minutes apart): "
            f"{grown:.2f}, target <= {SIGNIN_RATIO}: {verdict(grown <= SIGNIN_RATIO)}\n"
            f"  p95 {big} / {few}, grown against reference in the same minutes: "
            f"{same:.2f}, target <= {SIGNIN_RATIO}: {verdict(same <= SIGNIN_RATIO)}\n"
            f"  control, the two systems at {few} each (same minutes): {floor:.2f}"
        )
    print(
        f"\nBare Argon2id verifications/s (the machine's speed): {result['small']['hash_rate']:.1f}"
        f" while the small size was measured, {result['large']['hash_rate']:.1f} the large"
    )

    for purged in result["purge"]:
        print(
            f"\nPurge of {purged['deleted']:,} expired inactive accounts (bibid purge-inactive, "
            f"batches of 500) while {purged['concurrency']} patron(s) at once sign in: "
            f"{purged['seconds']:.1f} s for the command "
            f"({purged['deleted'] / purged['seconds']:,.0f}/s), of which "
            f"{purged['working']:.1f} s from its progress bar's first line (the count and the "
            f"batches; a dry run, start-up and count, took {purged['startup']:.1f} s); target "
            f"< {PURGE_SECONDS} s: {verdict(purged['seconds'] < PURGE_SECONDS)}"
        )
        niced = f" (under nice -n {purged['nice']})" if purged["nice"] else ""
        for label, cpu, seconds in (
            ("before", purged["cpu_before"], purged["cpu_before"]["seconds"]),
            ("while it ran", purged["cpu"], purged["seconds"]),
        ):
            command = (
                f"the command {cpu['command'] / seconds:.2f}{niced}, " if "command" in cpu else ""
            )
            print(
                f"  cores busy {label} (CPU seconds / wall seconds): {command}"
                f"the databases {cpu['database'] / seconds:.2f}, identity's web workers "
                f"{cpu['identity web'] / seconds:.2f}, the rest of bibid up "
                f"{cpu['rest of bibid'] / seconds:.2f}, this benchmark "
                f"{cpu['client'] / seconds:.2f}, everything else on the machine "
                f"{cpu['other'] / seconds:.2f}"
            )
        before = p50_p95(purged["before"])
        print(
            f"  sign-in {'before':<30} p50 {before[0]:6.1f}  p95 {before[1]:6.1f}  max "
            f"{max(purged['before']):6.1f} ms  (n {len(purged['before'])})"
        )
        for key, label in (
            ("during", "during the command"),
            ("working_samples", "during the count and batches"),
        ):
            values = purged[key]
            if len(values) < 2:
                print(f"  sign-in {label:<30} too few sign-ins ({len(values)})")
                continue
            p50, p95 = p50_p95(values)
            ratio = p95 / before[1]
            print(
                f"  sign-in {label:<30} p50 {p50:6.1f}  p95 {p95:6.1f}  max {max(values):6.1f}"
                f" ms  (n {len(values)}): p95 ratio {ratio:.2f}, target <= {PURGE_RATIO}: "
                f"{verdict(ratio <= PURGE_RATIO)}"
            )

    sync = result["sync"]
    print(f"\nNightly sync of one library ({sync['nights'][0]['linked']:,} linked customers):")
    for night in sync["nights"]:
        linked = night["linked"]
        print(
            f"  {night['night']:<6} night: {night['seconds']:6.1f} s "
            f"({linked / night['seconds']:,.0f}"
            f" customers/s), {night['counts']}; library SQL statements {night['statements']:,}"
            f" = {night['statements'] / linked:.3f} per customer"
        )
    for call in sync["identity"]:
        print(
            f"  identity, one bulk call of {call['items']:,} ({call['kind']}): "
            f"{call['statements']} SQL statements ({call['counts']})"
        )

    feed = result["feed"]
    print(f"\nChanges feed, {FEED_PAGE} changes a page, from the start:")
    print(
        f"  {'library':<8}{'changes':>9}{'pages':>7}{'s':>8}{'pages/s':>9}{'p50 ms':>8}"
        f"{'first 10 ms':>13}{'last 10 ms':>12}   | at once:{'s':>6}{'p50 ms':>8}{'503s':>6}"
    )
    for one, two in zip(feed["one_by_one"], feed["together"], strict=True):
        pages = one["pages"]
        first = statistics.mean(pages[:10])
        last = statistics.mean(pages[-11:-1] if len(pages) > 11 else pages[-10:])
        print(
            f"  {one['library']:<8}{one['changes']:>9,}{len(pages):>7}{one['seconds']:>8.1f}"
            f"{len(pages) / one['seconds']:>9.1f}{statistics.median(pages):>8.1f}"
            f"{first:>13.1f}{last:>12.1f}   |         {two['seconds']:>6.1f}"
            f"{statistics.median(two['pages']):>8.1f}{two['refused']:>6}"
        )
    total_changes = sum(o["changes"] for o in feed["one_by_one"])
    total_pages = sum(len(o["pages"]) for o in feed["one_by_one"])
    one_seconds = sum(o["seconds"] for o in feed["one_by_one"])
    print(
        f"  all: {total_changes:,} changes in {total_pages:,} pages; one after another "
        f"{one_seconds:.1f} s ({total_pages / one_seconds:.1f} pages/s); all ten at once "
        f"{feed['together_seconds']:.1f} s ({total_pages / feed['together_seconds']:.1f} pages/s)"
    )
    resets = sum(o["resets"] for o in (*feed["one_by_one"], *feed["together"]))
    print(
        "  (last 10: the ten pages before the final, shorter one; 503s: pages refused by load "
        f"shedding and asked again after Retry-After; keep-alive connections found closed and "
        f"asked again: {resets})"
    )

    print(f"\nRSS of each gunicorn worker, MB (target < {RSS_MB}):")
    worst = 0.0
    for moment, per_service in result["rss"].items():
        parts = []
        for service, values in per_service.items():
            worst = max(worst, *values)
            parts.append(f"{service} {' / '.join(f'{mb:.0f}' for mb in sorted(values))}")
        print(f"  {moment}: {'; '.join(parts)}")
    print(f"  largest {worst:.0f} MB: {verdict(worst < RSS_MB)}")
    print(
        "\nbibid up's log after start-up: "
        + ", ".join(f"{name}: {count}" for name, count in result["health"].items())
    )


def main(argv: list[str] | None = None) -> int:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000, help="the large size")
    parser.add_argument("--small", type=int, default=10_000, help="the first size measured")
    parser.add_argument("--libraries", type=int, default=10)
    parser.add_argument(
        "--inactive", type=int, help="expired inactive accounts to purge (default: accounts/10)"
    )
    parser.add_argument("--signins", type=int, default=600, help="measured sign-ins per size")
    parser.add_argument("--patrons", type=int, default=200, help="patrons signing in per size")
    parser.add_argument("--customers", type=int, default=100, help="customers diagnosed per size")
    parser.add_argument("--rounds", type=int, default=5, help="diagnoses of each customer")
    parser.add_argument(
        "--before", type=float, default=20, help="seconds of sign-ins before the purge"
    )
    parser.add_argument("--concurrency", type=int, default=cores)
    parser.add_argument("--workers", type=int, default=cores)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--purge-nice", type=int, default=0, help="run the purge command under nice -n N"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="K=V", help="for the services (repeatable)"
    )
    parser.add_argument("--postgres", default=os.environ.get("BIBID_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    if not args.postgres:
        parser.error("a PostgreSQL server is needed: --postgres URL or BIBID_TEST_POSTGRES_URL")
    if not 0 < args.small < args.accounts:
        parser.error("--small must be above 0 and below --accounts")
    args.inactive = args.inactive or max(1, args.accounts // 10)
    args.patrons = max(args.patrons, args.concurrency)
    free = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
    say(f"{free:.0f} GB free under {tempfile.gettempdir()} (about 0.7 GB of files per million)")
    saved = os.environ.get("BIBID_TEST_POSTGRES_URL")
    os.environ["BIBID_TEST_POSTGRES_URL"] = args.postgres  # the harness's databases
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bibid-bench-scale-") as var,
            tempfile.TemporaryDirectory(prefix="bibid-bench-scale-files-") as files,
        ):
            try:
                result = run(args, Path(var), Path(files))
            except Misbehaved as error:
                print(f"\nThe system misbehaved; no figures: {error}", file=sys.stderr)
                return 1
    finally:
        if saved is None:
            os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
        else:
            os.environ["BIBID_TEST_POSTGRES_URL"] = saved
    report(result, args)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
