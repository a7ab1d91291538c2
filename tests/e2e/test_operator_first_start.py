"""A first production start from an empty folder, step by step as the README says: no demo,
secrets from the environment, SQLite; then the result is checked over HTTP.

The services run on plain HTTP on 127.0.0.1 here, which production settings do not allow for
cookies: the test sets BIBID_HTTPS=0 (the README says so; behind a TLS proxy it stays on).
The Online Bibliotheek and Mijn Menu are registered at the https addresses patrons would use
(production accepts no other redirect URIs), so their sign-in is not followed here."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys

import pyotp
import pytest
import requests

from .harness import (
    ROOT,
    SERVICES,
    System,
    _drop_postgres_databases,
    _postgres_databases,
    free_port,
    stop_system,
    wait_ready,
)
from .oidc import post_form, sign_in_at_identity

TIMEOUT = 30
OPERATOR, OPERATOR_PASSWORD = "operator", "Een-beheerder-met-een-lange-zin"
READING_URL = "https://online.bibliotheek.test"
MIJNMENU_URL = "https://mijn.bibliotheek.test/mijn/aan-de-maas"


def production_env(folder) -> dict[str, str]:
    """What the README sets, and nothing of the test runner's demo or debug settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith(("_SECRET_KEY", "_DATABASE_URL", "_PUBLIC_URL", "_PORT"))
        and key
        not in (
            "BIBID_DEMO",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "EMAIL_URL",
            "BIBID_TEST_CLOCK_FILE",
        )
    }
    env.update(
        {
            "BIBID_VAR_DIR": str(folder),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "BIBID_HTTPS": "0",  # plain HTTP on 127.0.0.1 for this test only (see above)
            "PYTHONUNBUFFERED": "1",
        }
    )
    for service in SERVICES:
        env[f"{service.upper()}_SECRET_KEY"] = secrets.token_urlsafe(50)
        env[f"{service.upper()}_PORT"] = str(free_port())
    env["READING_PUBLIC_URL"] = READING_URL
    return env


def bibid(env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bibid", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"bibid {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _steps_one_to_five(env: dict[str, str]) -> tuple[dict, dict[str, str]]:
    steps = {}
    # 1. The ID-token signing key (before anything else: the system checks want it).
    steps["key"] = json.loads(bibid(env, "rotate-oidc-key"))
    # 2. The databases.
    bibid(env, "migrate")
    # 3. An operator for /beheer/ of the login service.
    bibid(
        dict(env, DJANGO_SUPERUSER_PASSWORD=OPERATOR_PASSWORD),
        "createsuperuser",
        "--service",
        "identity",
        "--noinput",
        "--username",
        OPERATOR,
    )
    # 4. A library as client of the library API, with its card range.
    steps["library"] = json.loads(
        bibid(
            env,
            "identity",
            "add_library",
            "--code",
            "aan-de-maas",
            "--name",
            "Bibliotheek aan de Maas",
            "--card-prefix",
            "2010",
        )
    )
    # 5. The sign-in clients of the Online Bibliotheek and of the library's Mijn Menu.
    reading = json.loads(
        bibid(
            env,
            "identity",
            "register_service",
            "--kind",
            "reading",
            "--name",
            "Online Bibliotheek",
            "--base-url",
            READING_URL,
        )
    )
    steps["mijnmenu"] = json.loads(
        bibid(
            env,
            "identity",
            "register_service",
            "--kind",
            "mijnmenu",
            "--library",
            "aan-de-maas",
            "--name",
            "Mijn Menu Bibliotheek aan de Maas",
            "--base-url",
            MIJNMENU_URL,
        )
    )
    env["READING_OIDC_CLIENT_ID"] = reading["client_id"]
    env["READING_OIDC_CLIENT_SECRET"] = reading["client_secret"]
    return steps, env


@pytest.fixture(scope="module")
def first_start(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bibid-production")
    env = production_env(folder)
    databases = []
    pg = os.environ.get("BIBID_TEST_POSTGRES_URL")
    if pg:  # the README's PostgreSQL variant, in CI's PostgreSQL run: empty databases
        tag = secrets.token_hex(4)
        for service, url in _postgres_databases(pg, tag).items():
            env[f"{service.upper()}_DATABASE_URL"] = url
        databases.append(tag)
    try:
        steps, env = _steps_one_to_five(env)
    except BaseException:
        if pg:
            _drop_postgres_databases(pg, databases[0])
        raise
    # 6. Start everything, without demo data.
    log_path = folder / "bibid-up.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bibid", "up", "--no-demo", "--workers", "1", "--threads", "2"],
        env=env,
        cwd=ROOT,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    urls = {s: f"http://127.0.0.1:{env[f'{s.upper()}_PORT']}" for s in SERVICES}
    system = System(env=env, urls=urls, log_path=log_path, process=process, databases=databases)
    try:
        wait_ready(system)  # 7. /readyz of every service
    except BaseException:
        stop_system(system)
        raise
    system.demo = steps
    yield system
    stop_system(system)


def test_every_service_is_ready_and_there_is_no_demo_data(first_start):
    for service in SERVICES:
        answer = requests.get(f"{first_start.urls[service]}/readyz", timeout=TIMEOUT)
        assert answer.status_code == 200, (service, answer.text)
    shown = json.loads(first_start.bibid("demo", "--show", "--json"))
    assert not [p for p in shown["patrons"] if p["state"] != "deleted"]
    assert "Demo patrons" not in first_start.log_path.read_text()
    assert first_start.demo["key"]["rotated"] is True


def test_the_sign_in_page_and_the_discovery_document(first_start):
    identity = first_start.urls["identity"]
    page = requests.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    assert page.status_code == 200 and 'name="password"' in page.text
    discovery = requests.get(f"{identity}/o/.well-known/openid-configuration", timeout=TIMEOUT)
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == f"{identity}/o"
    keys = requests.get(discovery.json()["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA"  # the key made in step 1, and no other


def test_the_operator_signs_in_to_beheer(first_start):
    identity = first_start.urls["identity"]
    with requests.Session() as browser:
        sign_in_at_identity(browser, identity, OPERATOR, OPERATOR_PASSWORD)
        # The password alone does not open the admin: the first visit sets up the second step
        # (bibid.common.mfa), with a code computed here as an authenticator app would.
        setup = browser.get(f"{identity}/beheer/", timeout=TIMEOUT)
        assert setup.url == f"{identity}/beheer/tweede-stap/instellen/", setup.url
        secret = re.search(r'data-testid="totp-secret">([^<]+)<', setup.text).group(1)
        done = post_form(
            browser,
            setup.url,
            setup.url,
            {"code": pyotp.TOTP(secret.replace(" ", "")).now()},
        )
        assert done.url == f"{identity}/beheer/tweede-stap/herstelcodes/", done.url
        assert done.text.count("<li><code>") == 10  # the recovery codes, shown once
        admin = browser.get(f"{identity}/beheer/", timeout=TIMEOUT, allow_redirects=False)
        assert admin.status_code == 200, admin.headers.get("Location")
        assert OPERATOR in admin.text


def test_the_library_client_gets_a_token(first_start):
    identity, library = first_start.urls["identity"], first_start.demo["library"]
    assert library["card_prefixes"] == ["2010"]
    answer = requests.post(
        f"{identity}/o/token/",
        data={"grant_type": "client_credentials", "scope": "accounts:read"},
        auth=(library["client_id"], library["client_secret"]),
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
