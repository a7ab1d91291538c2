"""Health checks and production-safe settings."""

import os
import subprocess
import sys

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_liveness_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_readiness_fails_when_the_database_does_not_answer(client, monkeypatch):
    from django.db import connection

    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "error"}


def test_production_defaults(settings):
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY
    assert settings.SECURE_HSTS_SECONDS >= 31_536_000
    assert settings.SESSION_COOKIE_NAME == "bibid_identity_session"
    assert settings.CSRF_COOKIE_NAME == "bibid_identity_csrftoken"
    assert "127.0.0.1" not in settings.ALLOWED_HOSTS  # demo/development only
    assert "'unsafe-inline'" not in str(settings.SECURE_CSP)


def test_headers_on_every_page(client):
    response = client.get("/inloggen/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_without_a_secret_key_production_refuses_to_start(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"IDENTITY_SECRET_KEY", "BIBID_DEMO", "DEBUG"}
    }
    env["BIBID_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import bibid.identity.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "IDENTITY_SECRET_KEY must be set" in done.stderr
    assert not (tmp_path / "secrets").exists()


def test_demo_mode_makes_and_keeps_a_local_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "IDENTITY_SECRET_KEY"}
    env.update(BIBID_VAR_DIR=str(tmp_path), BIBID_DEMO="1")
    code = "import bibid.identity.settings as s; print(s.SECRET_KEY)"
    keys = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert keys[0] == keys[1] and len(keys[0]) >= 50
    assert oct((tmp_path / "secrets" / "identity.key").stat().st_mode)[-3:] == "600"


def test_runs_on_the_database_the_run_asked_for():
    from django.db import connection

    expected = "postgresql" if os.environ.get("BIBID_TEST_POSTGRES_URL") else "sqlite"
    assert connection.vendor == expected
