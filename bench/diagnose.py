"""Helpdesk diagnosis: latency through the library REST API, identity round trips, SQL cost.

Starts the whole system the way `bibid up` does (tests/e2e/harness.py), makes the customers
of the helpdesk scenario table (tests/e2e/test_helpdesk_scenarios.py: every finding code,
through the real APIs) next to the demo customers, and then, in one run:

1. times `POST /api/v1/customers/{card}/diagnosis` over real HTTP, one keep-alive client,
   `--rounds` times over every customer (shuffled per round): p50 and p95 in ms;
2. counts identity's GET .../status requests in its request log while (1) runs: the identity
   round trips per diagnosis (the design says exactly one);
3. times identity's GET .../status alone, and the library's GET /customers/{card} (same
   API, token and customer, no identity call), the same way: what each part costs;
4. counts SQL statements of one diagnosis for a customer with 1 and with 1,000 past login
   attempts: library side with CaptureQueriesContext in a `bibid library shell` (the same
   diagnosis.run the API calls, recorded as a case), identity side in a `bibid identity
   shell` around GET .../status through Django's test client (data statements, as
   tests/identity/test_library_api.py counts them);
5. times the fix loop: `POST /api/v1/customers/{card}/diagnosis/fix`, which diagnoses again
   first (the fix offered now, never what a form says), carries the fix out at identity,
   delivers the rights push it queued and diagnoses again (the answer holds the new
   diagnosis and whether the fix worked). Two fixes: "Autoriseer inlogaccount" for
   customers whose rights another system overwrote with older ones (re-made before every
   round, not timed), and "Activeer inlogaccount" for accounts the library generated (one
   per customer); identity's requests during the loop are counted per fix.

Targets: diagnosis p95 < 50 ms, fix loop p95 < 100 ms. Reported next to the machine's load,
not asserted; the run fails (exit 1) only when a diagnosis or a fix does not succeed,
because then the figures would mean nothing.

    .venv/bin/python bench/diagnose.py [--rounds 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e import harness  # noqa: E402
from tests.e2e.scenarios import World, staff_token  # noqa: E402
from tests.e2e.test_helpdesk_scenarios import SCENARIOS, all_in_order  # noqa: E402

TARGET_P95_MS = 50
TARGET_FIX_P95_MS = 100
FIX_CUSTOMERS = 20  # per fix kind
HISTORY = 1000
HELPDESK = {"aan-de-maas": "helpdesk.maas", "duinstreek": "helpdesk.duin"}
# identity's one line per request (bibid.request: method, route name, status), not a path.
STATUS_LINE = re.compile(r"^\S+ identity-web\s+\|.*bibid\.request .*GET \S*account_status ")
IDENTITY_LINE = re.compile(r"^\S+ identity-web\s+\|.*bibid\.request .*(GET|POST|PUT|DELETE|PATCH) ")


def load() -> str:
    """The load average over the last minute, next to the number of cores."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def machine_busy_share(seconds: float = 3) -> float:
    """How busy the machine is (0..1 of all cores) over the next `seconds`, from /proc/stat."""

    def busy() -> int:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(values) - values[3] - values[4]  # all but idle and iowait

    before, start = busy(), time.perf_counter()
    time.sleep(seconds)
    seconds = time.perf_counter() - start
    return (busy() - before) / os.sysconf("SC_CLK_TCK") / (seconds * (os.cpu_count() or 1))


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def make_customers(system: harness.System) -> tuple[World, list[dict]]:
    """The cases to diagnose: every demo customer (cannot-login) and every scenario of the
    table (its own problem and typed name)."""
    world = World(system, None, patrons=80)
    cases = [
        {
            "group": "demo",
            "library": c["library"],
            "card": c["card_number"],
            "problem": "cannot-login",
            "username": None,
            "expected": None,
        }
        for c in system.demo["customers"]
    ]
    for scenario in SCENARIOS:
        made = scenario.setup(world)
        cases.append(
            {
                "group": "scenario",
                "library": "aan-de-maas",
                "card": made.card,
                "problem": scenario.problem,
                "expected": scenario.expected,
                "username": made.names[scenario.username] if scenario.username else None,
            }
        )
    return world, cases


class Client:
    """One keep-alive connection per library, as a staff member's script would use."""

    def __init__(self, system: harness.System) -> None:
        self.base = system.urls["library"] + "/api/v1"
        self.sessions = {}
        for library, user in HELPDESK.items():
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {staff_token(system, user)}"
            self.sessions[library] = session

    def show(self, case: dict) -> float:
        """GET /customers/{card}: the same API, token and customer, without identity."""
        started = time.perf_counter()
        answer = self.sessions[case["library"]].get(
            f"{self.base}/customers/{case['card']}", timeout=60
        )
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(f"customer {case['card']}: {answer.status_code}")
        return elapsed

    def fix(self, card: str, code: str) -> tuple[float, dict]:
        """The fix loop: carry out the fix of finding `code` and diagnose again."""
        started = time.perf_counter()
        answer = self.sessions["aan-de-maas"].post(
            f"{self.base}/customers/{card}/diagnosis/fix",
            json={"problem": "cannot-login", "code": code},
            timeout=60,
        )
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(
                f"fix {code} for {card} failed: {answer.status_code} {answer.text[:300]}"
            )
        return elapsed, answer.json()

    def diagnose(self, case: dict) -> tuple[float, dict]:
        body = {"problem": case["problem"]}
        if case["username"] is not None:
            body["username"] = case["username"]
        started = time.perf_counter()
        answer = self.sessions[case["library"]].post(
            f"{self.base}/customers/{case['card']}/diagnosis", json=body, timeout=60
        )
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise SystemExit(
                f"diagnosis of {case['card']} failed: {answer.status_code} {answer.text[:300]}"
            )
        return elapsed, answer.json()


def time_status(system: harness.System, cases: list[dict], rounds: int) -> list[float]:
    """identity's GET /status alone, with the library's own client credentials."""
    from tests.e2e.library_api import Library, demo_client

    apis = {
        code: Library(system.urls["identity"], demo_client(system, code), scope="accounts:read")
        for code in HELPDESK
    }
    for case in cases:  # warm
        apis[case["library"]].status(case["card"])
    timings = []
    for _ in range(rounds):
        for case in random.sample(cases, len(cases)):
            params = {"username": case["username"]} if case["username"] else None
            started = time.perf_counter()
            answer = apis[case["library"]].status(case["card"], params=params)
            timings.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"status of {case['card']} failed: {answer.text[:300]}")
    return timings


def time_fixes(system: harness.System, world: World, client: Client, rounds: int) -> dict:
    """The fix loop, timed: POST .../diagnosis/fix for customers whose rights another system
    overwrote (authorize, `rounds` times each) and for accounts the library generated
    (activate, once each); identity's requests during the timed calls counted."""
    stale = [all_in_order(world).card for _ in range(FIX_CUSTOMERS)]
    inactive = []
    for _ in range(FIX_CUSTOMERS):
        card = world.member()
        world.desk.generate(card)
        world.wait_for_push(card)  # the push of the generation, not part of the loop
        inactive.append(card)
    timings: dict[str, list[float]] = {"authorize": [], "activate": []}
    worked: dict[str, int] = {"authorize": 0, "activate": 0}
    status_calls = identity_calls = 0

    def fix(kind: str, card: str, code: str) -> None:
        nonlocal status_calls, identity_calls
        start = system.log_path.stat().st_size
        elapsed, body = client.fix(card, code)
        timings[kind].append(elapsed)
        worked[kind] += body["fix"]["state"] == "worked"
        status, every = count_log(system.log_path, start, settle=True)
        status_calls += status
        identity_calls += every

    for _ in range(rounds):
        for card in stale:  # set-up, not timed: older rights, as another system sends them
            world.push_stale(card)
        for card in random.sample(stale, len(stale)):
            fix("authorize", card, "authorization-outdated")
    for card in random.sample(inactive, len(inactive)):
        fix("activate", card, "login-account-inactive")
    return {
        "timings": timings,
        "worked": worked,
        "status_calls": status_calls,
        "identity_calls": identity_calls,
    }


def count_log(path: Path, start: int, *, settle: bool = False) -> tuple[int, int]:
    """(GET .../status lines, all identity web requests) written after byte `start`;
    `settle`: read again until the log stops growing (its lines may lag a little)."""

    def read() -> tuple[int, int]:
        with path.open("rb") as fh:
            fh.seek(start)
            lines = fh.read().decode(errors="replace").splitlines()
        return (
            sum(1 for line in lines if STATUS_LINE.match(line)),
            sum(1 for line in lines if IDENTITY_LINE.match(line)),
        )

    found = read()
    while settle:
        time.sleep(0.05)
        again = read()
        if again == found:
            break
        found = again
    return found


def sql_counts(system: harness.System, world: World) -> dict:
    """Statements of one diagnosis at the library and of the status call at identity, for a
    customer with 1 past login attempt and one with 1,000."""
    cards = {}
    for attempts in (1, HISTORY):
        made = all_in_order(world)
        world.wrong_password(made.patron.username)  # a real one, through the sign-in page
        cards[attempts] = made.card
        if attempts > 1:
            # The other 999 straight into the login history (the sign-in page allows at most
            # 100 failures an hour per account): spread over the last four weeks.
            system.identity_shell(
                "from datetime import timedelta\n"
                "from bibid.common import clock\n"
                "from bibid.identity.accounts.models import Account\n"
                "from bibid.identity.signin.models import LoginEvent\n"
                f"a = Account.objects.get(username={made.patron.username!r})\n"
                "now = clock.now()\n"
                "LoginEvent.objects.bulk_create([LoginEvent(at=now - timedelta(minutes=40 * "
                "(i + 1)), kind='login', account_id=a.pk, username=a.username, "
                "outcome='failure', reason='wrong_password', ip='192.0.2.1') "
                f"for i in range({attempts - 1})], batch_size=500)\n"
            )
    library = system.bibid(
        "library",
        "shell",
        "-v",
        "0",
        "-c",
        (
            "import json\n"
            "from django.db import connection\n"
            "from django.test.utils import CaptureQueriesContext\n"
            "from bibid.library.customers.models import Customer\n"
            "from bibid.library.helpdesk import diagnosis\n"
            "from bibid.library.staff.models import Staff\n"
            "from bibid.library.staff.permissions import Actor\n"
            "actor = Actor(Staff.objects.get(username='helpdesk.maas'), via='api')\n"
            f"for attempts, card in {sorted(cards.items())!r}:\n"
            "    customer = Customer.objects.get(library__code='aan-de-maas', card_number=card)\n"
            "    diagnosis.run(actor=actor, customer=customer, problem='cannot-login')\n"
            "    with CaptureQueriesContext(connection) as ctx:\n"
            "        found = diagnosis.run(actor=actor, customer=customer, problem='cannot-login')\n"  # noqa: E501
            "    print(json.dumps({'attempts': attempts, 'queries': len(ctx.captured_queries),"
            " 'cause': found.findings[0].code}))\n"
            # Where the time goes, in this one process: the whole run, and identity's call in it.
            "import statistics, time\n"
            "from bibid.library.loginaccounts import services as accounts\n"
            "asking, spent = accounts.status, []\n"
            "def timed(**kwargs):\n"
            "    started = time.perf_counter()\n"
            "    try:\n"
            "        return asking(**kwargs)\n"
            "    finally:\n"
            "        spent.append(time.perf_counter() - started)\n"
            "accounts.status = timed\n"
            "runs = []\n"
            "for _ in range(40):\n"
            "    started = time.perf_counter()\n"
            "    diagnosis.run(actor=actor, customer=customer, problem='cannot-login')\n"
            "    runs.append(time.perf_counter() - started)\n"
            "print(json.dumps({'run_ms': statistics.median(runs) * 1000,"
            " 'status_ms': statistics.median(spent) * 1000}))\n"
        ),
    )
    token = world.identity.token
    identity = system.identity_shell(
        "import json\n"
        "from django.db import connection\n"
        "from django.test import Client\n"
        "from django.test.utils import CaptureQueriesContext\n"
        "skip = ('SAVEPOINT', 'RELEASE SAVEPOINT', 'ROLLBACK TO SAVEPOINT', 'SET LOCAL')\n"
        f"client = Client(HTTP_HOST='127.0.0.1', HTTP_AUTHORIZATION={'Bearer ' + token!r})\n"
        f"for attempts, card in {sorted(cards.items())!r}:\n"
        "    client.get(f'/api/v1/customers/{card}/status')\n"
        "    with CaptureQueriesContext(connection) as ctx:\n"
        "        answer = client.get(f'/api/v1/customers/{card}/status')\n"
        "    assert answer.status_code == 200, answer.content\n"
        "    data = [q for q in ctx.captured_queries if not q['sql'].upper().startswith(skip)]\n"
        "    print(json.dumps({'attempts': attempts, 'queries': len(data)}))\n"
    )
    result = {"library": {}, "identity": {}, "cause": {}}
    for line in library.splitlines():
        row = json.loads(line)
        if "run_ms" in row:
            result["in_process"] = row
            continue
        result["library"][row["attempts"]] = row["queries"]
        result["cause"][row["attempts"]] = row["cause"]
    for line in identity.splitlines():
        row = json.loads(line)
        result["identity"][row["attempts"]] = row["queries"]
    return result


def run(label: str, rounds: int, postgres: str | None) -> dict:
    old = os.environ.get("BIBID_TEST_POSTGRES_URL")
    if postgres:
        os.environ["BIBID_TEST_POSTGRES_URL"] = postgres
    else:
        os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
    try:
        with tempfile.TemporaryDirectory(prefix="bibid-bench-") as var:
            clock_file = Path(var) / "clock-offset"
            clock_file.write_text("0")
            print(f"== {label}: starting bibid up", flush=True)
            system = harness.start_system(
                Path(var),
                workers=os.cpu_count() or 2,
                threads=4,
                extra_env={"BIBID_TEST_CLOCK_FILE": str(clock_file)},
            )
            system.clock_file = clock_file
            try:
                return measure(label, system, rounds)
            finally:
                harness.stop_system(system)
    finally:
        if old is None:
            os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
        else:
            os.environ["BIBID_TEST_POSTGRES_URL"] = old


def measure(label: str, system: harness.System, rounds: int) -> dict:
    print(f"== {label}: making the scenario customers (set-up, not measured)", flush=True)
    world, cases = make_customers(system)
    client = Client(system)
    mismatches = []
    for case in cases:  # warm-up, and a look at the causes
        _ms, body = client.diagnose(case)
        # Colleagues and volunteers: the outcome not-allowed, and identity is not asked.
        case["asks_identity"] = body["outcome"] != "not-allowed"
        if case["expected"] and body["findings"][0]["code"] != case["expected"]:
            mismatches.append((case["card"], case["expected"], body["findings"][0]["code"]))
    busy, average = machine_busy_share(), load()
    print(
        f"== {label}: {rounds} rounds over {len(cases)} customers (machine {busy:.0%} busy "
        f"just before, {average})",
        flush=True,
    )
    start = system.log_path.stat().st_size
    timings: dict[str, list[float]] = {"demo": [], "scenario": []}
    for _ in range(rounds):
        for case in random.sample(cases, len(cases)):
            elapsed, _body = client.diagnose(case)
            timings[case["group"]].append(elapsed)
    diagnoses = sum(len(v) for v in timings.values())
    asking = rounds * sum(1 for case in cases if case["asks_identity"])
    status_calls, identity_calls = count_log(system.log_path, start)
    for _ in range(20):  # the access log may lag a little behind
        time.sleep(0.5)
        again = count_log(system.log_path, start)
        if again == (status_calls, identity_calls) and status_calls >= asking:
            break
        status_calls, identity_calls = again
    print(
        f"== {label}: identity's GET /status alone; the library's GET /customers/{{card}}",
        flush=True,
    )
    status = time_status(system, [c for c in cases if c["asks_identity"]], rounds)
    shown = [client.show(case) for _ in range(rounds) for case in random.sample(cases, len(cases))]
    print(f"== {label}: SQL statements for 1 and {HISTORY:,} past login attempts", flush=True)
    sql = sql_counts(system, world)
    fix_busy, fix_average = machine_busy_share(), load()
    print(
        f"== {label}: the fix loop (machine {fix_busy:.0%} busy just before, {fix_average})",
        flush=True,
    )
    fixes = time_fixes(system, world, client, rounds)
    fixes.update(busy=fix_busy, load=fix_average)
    return {
        "label": label,
        "timings": timings,
        "status": status,
        "shown": shown,
        "diagnoses": diagnoses,
        "fixes": fixes,
        "load": average,
        "asking": asking,
        "busy": busy,
        "status_calls": status_calls,
        "identity_calls": identity_calls,
        "sql": sql,
        "customers": {g: sum(1 for c in cases if c["group"] == g) for g in timings},
        "mismatches": mismatches,
    }


def report(result: dict, rounds: int) -> None:
    print(
        f"\nDiagnosis latency, {result['label']}: POST /api/v1/customers/{{card}}/diagnosis, "
        f"1 keep-alive client, {rounds} rounds (machine {result['busy']:.0%} busy before, "
        f"{result['load']})"
    )
    print(f"{'customers':<28} {'n':>4} {'diagnoses':>10} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    groups = [
        ("demo customers", result["timings"]["demo"], result["customers"]["demo"]),
        ("scenario customers", result["timings"]["scenario"], result["customers"]["scenario"]),
        (
            "all",
            result["timings"]["demo"] + result["timings"]["scenario"],
            sum(result["customers"].values()),
        ),
    ]
    for name, values, n in groups:
        print(
            f"{name:<28} {n:>4} {len(values):>10} {percentile(values, 50):>7.1f} "
            f"{percentile(values, 95):>7.1f} {max(values):>7.1f}"
        )
    status = result["status"]
    print(
        f"{'identity GET /status alone':<28} {'':>4} {len(status):>10} "
        f"{percentile(status, 50):>7.1f} {percentile(status, 95):>7.1f} {max(status):>7.1f}"
    )
    shown = result["shown"]
    print(
        f"{'library GET /customers/{card}':<28} {'':>4} {len(shown):>10} "
        f"{percentile(shown, 50):>7.1f} {percentile(shown, 95):>7.1f} {max(shown):>7.1f}"
    )
    everything = groups[-1][1]
    p95 = percentile(everything, 95)
    verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
    print(f"target p95 < {TARGET_P95_MS} ms: {verdict} ({p95:.1f} ms; reported, not asserted)")
    print(
        f"identity round trips per diagnosis: "
        f"{result['status_calls'] / result['asking']:.2f} ({result['status_calls']} GET "
        f".../status in identity's request log for {result['asking']} diagnoses; the other "
        f"{result['diagnoses'] - result['asking']} were of colleagues and volunteers, "
        f"who are not looked up; {result['identity_calls'] - result['status_calls']} other "
        f"identity requests in that time, from the services' workers)"
    )
    sql = result["sql"]
    print(f"\nSQL statements per diagnosis {'1 attempt':>12} {f'{HISTORY:,} attempts':>15}")
    print(f"{'library (diagnosis.run)':<28} {sql['library'][1]:>12} {sql['library'][HISTORY]:>15}")
    print(f"{'identity (GET /status)':<28} {sql['identity'][1]:>12} {sql['identity'][HISTORY]:>15}")
    in_process = sql["in_process"]
    print(
        f"\nIn one `bibid library shell` process (the 1,000-attempt customer, 40 runs): "
        f"diagnosis.run p50 {in_process['run_ms']:.1f} ms, of which identity's status call "
        f"{in_process['status_ms']:.1f} ms"
    )
    fixes = result["fixes"]
    print(
        f"\nFix loop, {result['label']}: POST /api/v1/customers/{{card}}/diagnosis/fix "
        f"(diagnose, fix, push, diagnose again; machine {fixes['busy']:.0%} busy before, "
        f"{fixes['load']})"
    )
    print(f"{'fix':<28} {'n':>4} {'worked':>10} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    every_fix = []
    for kind, values in fixes["timings"].items():
        every_fix += values
        print(
            f"{kind:<28} {len(values):>4} {fixes['worked'][kind]:>10} "
            f"{percentile(values, 50):>7.1f} {percentile(values, 95):>7.1f} "
            f"{max(values):>7.1f}"
        )
    fix_p95 = percentile(every_fix, 95)
    print(
        f"{'all':<28} {len(every_fix):>4} {sum(fixes['worked'].values()):>10} "
        f"{percentile(every_fix, 50):>7.1f} {fix_p95:>7.1f} {max(every_fix):>7.1f}"
    )
    verdict = "met" if fix_p95 < TARGET_FIX_P95_MS else "NOT met"
    print(
        f"target p95 < {TARGET_FIX_P95_MS} ms: {verdict} ({fix_p95:.1f} ms; reported, not asserted)"
    )
    print(
        f"identity requests per fix: {fixes['identity_calls'] / len(every_fix):.2f}, of which "
        f"GET .../status {fixes['status_calls'] / len(every_fix):.2f} (the diagnosis before "
        "and after)"
    )
    if result["mismatches"]:
        print(
            f"note: {len(result['mismatches'])} scenario customer(s) had another cause at "
            f"warm-up than in the table (a block ends by itself): {result['mismatches']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("BIBID_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    results = [run("SQLite", args.rounds, None)]
    if args.postgres:
        results.append(run("PostgreSQL", args.rounds, args.postgres))
    for result in results:
        report(result, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
