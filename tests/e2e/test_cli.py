"""The operators' command line, run as a fresh process like an operator would."""

import json
import os
import subprocess
import sys

import pyotp
import pytest
import requests

from .harness import ROOT, eventually, start_system, stop_system
from .oidc import post_form
from .rogue import sign_in


def bibid(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bibid", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_usage_lists_the_commands():
    done = bibid("--help")
    assert done.returncode == 0
    for command in ("bibid up", "bibid demo", "purge-inactive", "createsuperuser"):
        assert command in done.stdout


def test_unknown_command_exits_2():
    done = bibid("frobnicate")
    assert done.returncode == 2 and "unknown command" in done.stderr


def test_createsuperuser_needs_a_service():
    done = bibid("createsuperuser")
    assert done.returncode != 0 and "--service identity" in done.stderr


def test_unknown_service_is_refused():
    done = bibid("migrate", "--service", "bank")
    assert done.returncode != 0 and "unknown service" in done.stderr


def test_purge_inactive_dry_run_then_real(system):
    system.create_patron("purge.me.later", None, active=False)
    dry = system.bibid("purge-inactive", "--dry-run")
    assert "dry run" in dry
    real = system.bibid("purge-inactive", "--no-progress")
    assert "deleted" in real


def test_createsuperuser_for_identity(system):
    env = dict(system.env, DJANGO_SUPERUSER_PASSWORD="Een-beheerder-met-een-zin")
    done = bibid(
        "createsuperuser",
        "--service",
        "identity",
        "--noinput",
        "--username",
        "operator.two",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = system.identity_shell(
        "from bibid.identity.accounts.models import Account\n"
        "a = Account.objects.get(username='operator.two')\n"
        "print(a.is_staff, a.is_superuser, a.state, a.password.startswith('argon2id$'))\n"
    )
    assert out.split() == ["True", "True", "active", "True"]


def test_check_runs_for_every_service(system):
    out = system.bibid("check")
    assert out.count("System check identified no issues") == 3


# -- the embedded default, as on a fresh clone: no BIBID_DEMO, DEBUG or secret keys set ------


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    if os.environ.get("BIBID_TEST_POSTGRES_URL"):
        # The embedded default is SQLite by definition: CI's SQLite run covers it.
        pytest.skip("the embedded default runs on SQLite only")
    running = start_system(tmp_path_factory.mktemp("bibid-fresh-clone"), workers=1, embedded=True)
    yield running
    stop_system(running)


def test_a_fresh_clone_sets_nothing(fresh_clone):
    for key in fresh_clone.env:
        assert not key.endswith(("_SECRET_KEY", "_DATABASE_URL")), key
        assert key not in ("BIBID_DEMO", "DEBUG")


def test_demo_twice_in_a_row_then_the_demo_sign_ins_work(fresh_clone):
    identity = fresh_clone.urls["identity"]
    first = json.loads(fresh_clone.bibid("demo", "--json"))
    second = json.loads(fresh_clone.bibid("demo", "--json"))  # failed every second time
    assert first["patrons"] == second["patrons"]
    patrons = {p["username"]: p for p in second["patrons"]}
    assert patrons["anna.jansen"]["state"] == "active"
    assert sign_in(identity, "anna.jansen", patrons["anna.jansen"]["password"]) == 302
    operator = second["operators"][0]
    assert sign_in(identity, operator["username"], operator["password"]) == 302
    staff = second["staff"][0]
    with requests.Session() as browser:
        console = f"{fresh_clone.urls['library']}/console/"
        answer = post_form(
            browser,
            f"{console}inloggen/",
            f"{console}inloggen/",
            {"username": staff["username"], "password": staff["password"]},
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[:300]
        # Demo staff pass the second step with a code of the demo's published secret.
        code = pyotp.TOTP(staff["totp_secret"]).now()
        step = post_form(
            browser,
            f"{console}tweede-stap/",
            f"{console}tweede-stap/",
            {"code": code},
            allow_redirects=False,
        )
        assert step.status_code == 302 and step.headers["Location"] == "/console/", step.text[:300]
    # The three services agree after the resets: the library's pushes reach identity.
    eventually(
        lambda: (
            fresh_clone.bibid(
                "library",
                "shell",
                "-v",
                "0",
                "-c",
                "from bibid.library.loginaccounts.models import PendingPush\n"
                "print(PendingPush.objects.count())",
            ).strip()
            == "0"
        ),
        "the library's pushes after the reset reached identity",
        timeout=90,
    )


def test_diagnose_and_purge_work_on_the_embedded_default(fresh_clone):
    out = fresh_clone.bibid(
        "diagnose",
        "--library",
        "aan-de-maas",
        "--card",
        "2010000007",
        "--problem",
        "cannot-login",
        "--json",
    )
    found = json.loads(out)
    assert found, out
    dry = fresh_clone.bibid("purge-inactive", "--dry-run")
    assert "dry run" in dry
