"""Identity unit tests: fast hasher, plain static files, personas."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _unit_settings(settings):
    # A fast hasher in unit tests only (the brief); tests about hashing ask for the real one.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "bibid.identity.libraries.hashers.HighEntropySecretHasher",
    ]
    # Tasks run at once in unit tests (the worker's part of a request happens in-line).
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def real_hasher(settings):
    settings.PASSWORD_HASHERS = [
        "bibid.common.hashers.Argon2idHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "bibid.identity.libraries.hashers.HighEntropySecretHasher",
    ]


PASSWORD = "Een-lange-zin-vol-boeken"


@pytest.fixture
def make_account(db):
    from bibid.identity.accounts.actors import Actor
    from bibid.identity.accounts.services import create_account

    def make(
        username: str = "anna.jansen",
        *,
        password: str | None = PASSWORD,
        active: bool = True,
        recovery_email: str = "",
    ):
        return create_account(
            username=username,
            password=password,
            active=active,
            recovery_email=recovery_email,
            actor=Actor.system("test"),
        )

    return make


@pytest.fixture
def anna(make_account):
    """An active patron who can sign in."""
    return make_account("anna.jansen", recovery_email="anna@example.org")


@pytest.fixture(autouse=True)
def _dutch():
    """Each test starts in Dutch (a request in English must not leak into the next test)."""
    from django.utils import translation

    translation.activate("nl")
    yield
    translation.deactivate()
