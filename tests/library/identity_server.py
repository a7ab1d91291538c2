"""A real identity service for the library service's tests: its own database, its demo
libraries and accounts, served by gunicorn over HTTP, stoppable and restartable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.harness import ROOT, free_port


class IdentityServer:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_DATABASE_URL") and k != "DJANGO_SETTINGS_MODULE"
        }
        self.env.update(
            BIBID_VAR_DIR=str(var_dir),
            BIBID_DEMO="1",
            IDENTITY_PORT=str(self.port),
            BIBID_TRUSTED_PROXIES="1",
            PYTHONUNBUFFERED="1",
        )
        self.env.pop("IDENTITY_SECRET_KEY", None)
        pg = os.environ.get("BIBID_TEST_POSTGRES_URL")
        if pg:
            from tests.e2e.harness import _postgres_databases

            self.tag = f"lib{os.getpid()}"
            self.env["IDENTITY_DATABASE_URL"] = _postgres_databases(pg, self.tag)["identity"]

    def bibid(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bibid", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bibid {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def prepare(self) -> None:
        self.bibid("identity", "prepare", "--demo=reset", "--static")

    def start(self) -> None:
        log = (self.var_dir / "identity.log").open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bibid.identity.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--no-control-socket",
                "--timeout",
                "30",
            ],
            env={**self.env, "DJANGO_SETTINGS_MODULE": "bibid.identity.settings"},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("identity did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def shell(self, code: str) -> str:
        return self.bibid("identity", "shell", "-v", "0", "-c", code)

    def close(self) -> None:
        self.stop()
        pg = os.environ.get("BIBID_TEST_POSTGRES_URL")
        if pg:
            from tests.e2e.harness import _drop_postgres_databases

            _drop_postgres_databases(pg, self.tag)


def patron_confirms(server: IdentityServer, request_id: str) -> None:
    """The patron signed in on the handover page and agreed (rule L2), without a browser:
    the link request is marked confirmed as the handover page does."""
    import uuid

    request_id = str(uuid.UUID(request_id))  # only ever a UUID into the shell's code
    server.shell(
        "from bibid.identity.libraries.models import LinkRequest as R; "
        f"R.objects.filter(pk='{request_id}', state='pending').update("
        "state='confirmed', confirmed_via='sign-in')"
    )
