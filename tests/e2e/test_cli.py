"""The operators' command line, run as a fresh process like an operator would."""

import subprocess
import sys

from .harness import ROOT


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
