"""Authorization pushes: one request per customer against bulk authorize, in one run.

Starts the whole system the way `bibid up` does (tests/e2e/harness.py), links N customers of
a demo library to login accounts (set-up, not measured), then pushes their customer data and
rights over real HTTP with a real client-credentials token:

1. one request per customer (PUT /customers/{ref}/authorization), `--concurrency` at a time;
2. bulk authorize (POST /authorizations), 5,000 customers per call, with changed data;
3. bulk again with nothing changed (the usual nightly case).

Prints items/s for each and the ratios, for SQLite and, when a URL is given, PostgreSQL.
Nothing is asserted about time; the run fails only if a push is refused.

    .venv/bin/python bench/authorize.py [--customers 10000] [--concurrency N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e import harness  # noqa: E402

from bibid.common.demo import LIBRARIES  # noqa: E402

BATCH = 5000


def token(base: str, client_id: str, secret: str) -> str:
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    conn.request(
        "POST",
        "/o/token/",
        urlencode({"grant_type": "client_credentials", "scope": "accounts:read accounts:write"}),
        {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return body["access_token"]


def set_up(system: harness.System, library: str, count: int) -> list[str]:
    """Link `count` customers to fresh accounts, in bulk, inside the identity service.

    Their card numbers are in the library's own range (rule L6: identity refuses pushes with
    card numbers of another library's range): the prefix, an 8 and six digits."""
    prefix = next(lib.card_prefix for lib in LIBRARIES if lib.code == library)
    system.identity_shell(
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.libraries.models import Library, Link\n"
        "from bibid.identity.accounts.usernames import username_key\n"
        f"lib = Library.objects.get(code={library!r})\n"
        f"names = [f'bench{{i:06d}}' for i in range({count})]\n"
        "accounts = [Account(username=n, username_key=username_key(n), state='active',"
        " password='!') for n in names]\n"
        "Account.objects.bulk_create(accounts, batch_size=1000)\n"
        "ids = dict(Account.objects.filter(username__startswith='bench')"
        ".values_list('username', 'id'))\n"
        f"Link.objects.bulk_create([Link(library=lib, customer_ref={prefix!r} + '8' + n[5:],"
        f" card_number={prefix!r} + '8' + n[5:], account_id=ids[n]) for n in names],"
        " batch_size=1000)\n"
    )
    return [f"{prefix}8{i:06d}" for i in range(count)]


def authorization(ref: str, version: int) -> dict:
    return {
        "customer": {
            "name": f"Klant {ref}",
            "birth_date": "1984-05-06",
            "card_number": ref,
            "subscription_type": "Volwassen Compleet",
            "subscription_end": f"{2027 + version}-03-01",
        },
        "rights": [
            {
                "code": "ebooks",
                "valid_until": f"{2027 + version}-03-01",
                "limits": {"loans": 10, "period": "concurrent"},
            },
            {
                "code": "audiobooks",
                "valid_until": f"{2027 + version}-03-01",
                "limits": {"loans": 10, "period": "concurrent"},
            },
        ],
    }


class Api:
    def __init__(self, base: str, access_token: str) -> None:
        host = urlsplit(base)
        self.conn = http.client.HTTPConnection(host.hostname, host.port, timeout=300)
        self.headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
        }

    def call(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        self.conn.request(method, f"/api/v1{path}", json.dumps(body), self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def one_by_one(base: str, access_token: str, refs: list[str], concurrency: int) -> float:
    def worker(part: list[str]) -> int:
        api = Api(base, access_token)
        for ref in part:
            status, body = api.call("PUT", f"/customers/{ref}/authorization", authorization(ref, 1))
            if status != 200:
                raise SystemExit(f"push refused: {status} {body}")
        return len(part)

    parts = [refs[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(worker, parts))
    return done / (time.perf_counter() - started)


def bulk(base: str, access_token: str, refs: list[str], version: int) -> tuple[float, dict]:
    api = Api(base, access_token)
    counts = {"updated": 0, "unchanged": 0, "not_linked": 0}
    started = time.perf_counter()
    for start in range(0, len(refs), BATCH):
        items = [
            {"customer_ref": ref, **authorization(ref, version)}
            for ref in refs[start : start + BATCH]
        ]
        status, body = api.call("POST", "/authorizations", {"items": items})
        if status != 200:
            raise SystemExit(f"bulk push refused: {status} {body}")
        for key, value in body["counts"].items():
            counts[key] += value
    return len(refs) / (time.perf_counter() - started), counts


def run(label: str, customers: int, concurrency: int, postgres: str | None) -> dict:
    old = os.environ.get("BIBID_TEST_POSTGRES_URL")
    if postgres:
        os.environ["BIBID_TEST_POSTGRES_URL"] = postgres
    else:
        os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
    try:
        with tempfile.TemporaryDirectory(prefix="bibid-bench-") as var:
            print(f"== {label}: starting bibid up", flush=True)
            system = harness.start_system(Path(var), workers=os.cpu_count() or 2, threads=4)
            try:
                client = system.demo["library_clients"][0]
                base = system.urls["identity"]
                print(f"== {label}: linking {customers} customers (set-up)", flush=True)
                refs = set_up(system, client["library"], customers)
                access = token(base, client["client_id"], client["client_secret"])
                print(f"== {label}: one request per customer", flush=True)
                single = one_by_one(base, access, refs, concurrency)
                print(f"== {label}: bulk, changed", flush=True)
                changed, counts = bulk(base, access, refs, 2)
                assert counts["updated"] == customers, counts
                print(f"== {label}: bulk, unchanged", flush=True)
                same, counts = bulk(base, access, refs, 2)
                assert counts["unchanged"] == customers, counts
            finally:
                harness.stop_system(system)
    finally:
        if old is None:
            os.environ.pop("BIBID_TEST_POSTGRES_URL", None)
        else:
            os.environ["BIBID_TEST_POSTGRES_URL"] = old
    return {"label": label, "single": single, "bulk": changed, "same": same}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 2,
        help="parallel requests on the one-by-one path (default: cores)",
    )
    parser.add_argument("--postgres", default=os.environ.get("BIBID_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    rows = [run("SQLite", args.customers, args.concurrency, None)]
    if args.postgres:
        rows.append(run("PostgreSQL", args.customers, args.concurrency, args.postgres))
    print(
        f"\nAuthorization pushes: {args.customers} customers, one-by-one with "
        f"{args.concurrency} parallel requests, bulk in calls of {BATCH}"
    )
    print(
        f"{'database':<11} {'one-by-one/s':>13} {'bulk/s':>9} {'unchanged/s':>12} "
        f"{'bulk ÷ single':>14} {'unchanged ÷ single':>19}"
    )
    for r in rows:
        print(
            f"{r['label']:<11} {r['single']:>13.0f} {r['bulk']:>9.0f} {r['same']:>12.0f} "
            f"{r['bulk'] / r['single']:>14.1f} {r['same'] / r['single']:>19.1f}"
        )
    print("targets: bulk >= 2,000 items/s and >= 20x one-by-one; unchanged faster still")
    return 0


if __name__ == "__main__":
    sys.exit(main())
