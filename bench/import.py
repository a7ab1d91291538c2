"""Bulk import: rows/s of `bibid library import` and `bibid identity import`, in one run.

Generates a country in miniature: `--accounts` login accounts (each linked to one customer)
and as many customers with a subscription, spread over `--libraries` libraries; the password
hashes cycle through the imported formats (bcrypt, PBKDF2 in three notations, Argon2id,
{SSHA256}, Kratos's salted SHA-512). Then, on fresh databases, it runs the real commands as
an operator would, each in its own process (start-up included in the time):

1. `bibid library import customers.jsonl` (first, as docs/import.md says),
2. `bibid identity import accounts.jsonl` (accounts, links and the libraries' feed rows),
3. the same identity import again (every row "skipped": the cost of an idempotent re-run),
4. `bibid identity import --dry-run` on the same file (validation only).

Prints seconds and rows/s for SQLite (the embedded default) and, when a URL is given (or
BIBID_TEST_POSTGRES_URL is set), PostgreSQL. Nothing is asserted about time; the run fails
only when a command fails or does not create every row.

    .venv/bin/python bench/import.py [--accounts 100000] [--libraries 10] [--postgres URL]
    .venv/bin/python bench/import.py --accounts 1000000   # the national figure
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import bcrypt
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parents[1]
BIBID = [sys.executable, "-m", "bibid"]
PASSWORD = "Lezen-in-de-zon-2026"  # noqa: S105 - a benchmark patron


def hashes() -> list[str]:
    """One hash per format (made once: the import parses them, it does not verify them)."""
    salt = b"zout-van-de-zee16"

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    def pbkdf2(digest: str, rounds: int, size: int) -> bytes:
        return hashlib.pbkdf2_hmac(digest, PASSWORD.encode(), salt, rounds, size)

    raw = b64(salt).rstrip("=")
    sha = hashlib.sha512(PASSWORD.encode() + b"zout1234").digest()
    return [
        bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode(),
        f"pbkdf2_sha256$600000${salt.decode()}${b64(pbkdf2('sha256', 600000, 32))}",
        f"$pbkdf2-sha256$29000${raw.replace('+', '.')}$"
        + b64(pbkdf2("sha256", 29000, 32)).rstrip("=").replace("+", "."),
        f"$pbkdf2-sha512$i=25000,l=64${raw}${b64(pbkdf2('sha512', 25000, 64)).rstrip('=')}",
        PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD),
        "{SSHA256}" + b64(hashlib.sha256(PASSWORD.encode() + salt).digest() + salt),
        f"$sha512$pf={b64(b'{PASSWORD}{SALT}')}${b64(b'zout1234')}${b64(sha)}",
    ]


def generate(folder: Path, accounts: int, libraries: int) -> tuple[Path, Path]:
    """customers.jsonl and accounts.jsonl; a third of the usernames are card numbers."""
    formats = hashes()
    customers_path, accounts_path = folder / "customers.jsonl", folder / "accounts.jsonl"
    with customers_path.open("w") as customers, accounts_path.open("w") as out:
        for i in range(accounts):
            library = i % libraries
            card = f"4{library:02d}{i // libraries:07d}"
            row = {
                "library": f"bib{library:02d}",
                "card_number": card,
                "name": f"Lezer {i}",
                "birth_date": f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "email": f"lezer{i}@example.org",
                "subscription_type": "basis",
                "subscription_start": "2025-09-01",
            }
            customers.write(json.dumps(row) + "\n")
            account = {
                "username": card if i % 3 == 0 else f"lezer.{i:07d}",
                "recovery_email": f"lezer{i}@example.org",
                "recovery_email_confirmed_at": "2024-03-01T10:00:00+01:00",
                "state": "active",
                "password_hash": formats[i % len(formats)],
                "created_at": "2019-05-01T09:00:00+02:00",
                "last_login_at": "2026-01-02T08:00:00+01:00",
                "links": [{"library": f"bib{library:02d}", "card_number": card}],
            }
            out.write(json.dumps(account) + "\n")
    return customers_path, accounts_path


def bibid(env: dict, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [*BIBID, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bibid {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return took, done.stdout


LIBRARY_SETUP = """
from decimal import Decimal
from bibid.library.subscriptions.models import SubscriptionType
from bibid.library.tenants.models import Library
for i in range({n}):
    lib = Library(code=f"bib{{i:02d}}", name=f"Bibliotheek {{i}}", card_prefix=f"4{{i:02d}}",
                  identity_client_id=f"bench-{{i}}")
    lib.identity_client_secret = "bench"
    lib.save()
    SubscriptionType.objects.create(library=lib, code="basis", name="Basis",
                                    price=Decimal("45.00"), min_age=18)
"""


def one_engine(label: str, files: tuple[Path, Path], rows: int, libraries: int, pg: str | None):
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="bibid-bench-import-") as var:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.pop("DEBUG", None)
        for service in ("identity", "library", "reading"):
            env[f"{service.upper()}_SECRET_KEY"] = f"bench-only-{service}-" + "x" * 40
            Path(var, "static", service).mkdir(parents=True)
        # Demo mode only so that the OIDC signing key is made under var/ (no demo data is
        # loaded by these commands); the databases are fresh.
        env.update(BIBID_VAR_DIR=var, BIBID_DEMO="1", PYTHONUNBUFFERED="1")
        if pg:
            import psycopg

            with psycopg.connect(pg, autocommit=True) as conn:
                for service in ("identity", "library", "reading"):
                    conn.execute(f'CREATE DATABASE "bibid_bench_{service}_{tag}"')
                    path = f"/bibid_bench_{service}_{tag}"
                    env[f"{service.upper()}_DATABASE_URL"] = urlunsplit(
                        urlsplit(pg)._replace(path=path)
                    )
        try:
            bibid(env, "migrate")
            for i in range(libraries):
                bibid(
                    env,
                    *("identity", "add_library", "--code", f"bib{i:02d}"),
                    *("--name", f"Bibliotheek {i}", "--card-prefix", f"4{i:02d}"),
                )
            bibid(env, "library", "shell", "-c", LIBRARY_SETUP.format(n=libraries))
            customers, accounts = files
            report = Path(var) / "report.csv"
            common = ("--no-progress", "--report", str(report))
            # What a command costs before its first row (Python, Django, system checks):
            # measured on an empty file, and taken off for the "net" rate.
            empty = Path(var) / "empty.jsonl"
            empty.write_text("")
            startup, _out = bibid(env, "identity", "import", str(empty), *common)
            print(f"   {label:<10} {'start-up (empty file)':<26} {startup:7.1f} s")
            results = {}
            for name, args in [
                ("library import", ("library", "import", str(customers), *common)),
                ("identity dry run", ("identity", "import", str(accounts), "--dry-run", *common)),
                ("identity import", ("identity", "import", str(accounts), *common)),
                ("identity re-run (skipped)", ("identity", "import", str(accounts), *common)),
            ]:
                took, out = bibid(env, *args)
                results[name] = took
                net = rows / max(took - startup, 1e-9)
                print(
                    f"   {label:<10} {name:<26} {took:7.1f} s  {rows / took:9,.0f} rows/s"
                    f"  (net of start-up {net:9,.0f} rows/s)"
                )
                expected = "skipped" if "re-run" in name else "created"
                if f"{expected}: {rows}" not in out:
                    raise SystemExit(f"{name}: not every row {expected}:\n{out}")
            return results
        finally:
            if pg:
                import psycopg

                with psycopg.connect(pg, autocommit=True) as conn:
                    for service in ("identity", "library", "reading"):
                        conn.execute(
                            f'DROP DATABASE IF EXISTS "bibid_bench_{service}_{tag}" WITH (FORCE)'
                        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--libraries", type=int, default=10)
    parser.add_argument("--postgres", default=os.environ.get("BIBID_TEST_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bibid-bench-files-") as folder:
        started = time.perf_counter()
        files = generate(Path(folder), options.accounts, options.libraries)
        size = sum(f.stat().st_size for f in files) / 1e6
        print(
            f"generated {options.accounts:,} accounts and customers over {options.libraries} "
            f"libraries ({size:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        engines = [] if options.no_sqlite else [("SQLite", None)]
        if options.postgres:
            engines.append(("PostgreSQL", options.postgres))
        for label, pg in engines:
            one_engine(label, files, options.accounts, options.libraries, pg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
