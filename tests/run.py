"""Run the whole test suite: each service in its own pytest process, then the cross-service tests.

pytest-django binds one settings module per process, so the three services cannot share one
run. Usage: python tests/run.py [group ...] [-- pytest args], groups: identity library reading e2e.

Environment:
  BIBID_TEST_POSTGRES_URL  run against PostgreSQL (a URL to any database on the server;
                           test databases are created next to it), else SQLite.
  BIBID_REQUIRE_BROWSER=1  fail instead of skip when Debian's Chromium is missing (CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {
    "identity": "bibid.identity.settings",
    "library": "bibid.library.settings",
    "reading": "bibid.reading.settings",
    "e2e": None,
}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def group_env(group: str, var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env["BIBID_VAR_DIR"] = var_dir
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # Unit tests run with production defaults (no DEBUG, no demo mode, secure cookies) and
    # throwaway keys.
    for service in ("identity", "library", "reading"):
        env.setdefault(f"{service.upper()}_SECRET_KEY", f"test-only-{service}-" + "x" * 40)
    env.pop("BIBID_DEMO", None)
    env.pop("DEBUG", None)
    pg = os.environ.get("BIBID_TEST_POSTGRES_URL")
    if pg and group != "e2e":
        env[f"{group.upper()}_DATABASE_URL"] = with_database(pg, f"bibid_{group}")
    settings_module = GROUPS[group]
    if settings_module:
        env["DJANGO_SETTINGS_MODULE"] = settings_module
    return env


def main(argv: list[str]) -> int:
    if "--" in argv:
        split = argv.index("--")
        names, extra = argv[:split], argv[split + 1 :]
    else:
        names, extra = [a for a in argv if a in GROUPS], [a for a in argv if a not in GROUPS]
    names = names or list(GROUPS)
    results: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="bibid-test-") as var_dir:
        for service in ("identity", "library", "reading"):
            Path(var_dir, "static", service).mkdir(parents=True)  # whitenoise wants it there
        for name in names:
            args = [sys.executable, "-m", "pytest", f"tests/{name}", *extra]
            if GROUPS[name] is None:
                # The cross-service tests are most of CI's time: list the slowest, so that a
                # run shows where its minutes went.
                args += ["-p", "no:django", "--durations=15"]
            engine = "PostgreSQL" if os.environ.get("BIBID_TEST_POSTGRES_URL") else "SQLite"
            print(f"\n==== {name} ({engine})", flush=True)
            started = time.monotonic()
            code = subprocess.call(args, cwd=ROOT, env=group_env(name, var_dir))
            results.append((name, code, time.monotonic() - started))
    print("\n==== summary")
    for name, code, seconds in results:
        print(f"  {name:<9} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:6.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
