"""Library-service tests: plain static files, a real identity service over HTTP, personas."""

from __future__ import annotations

import pytest

from .identity_server import IdentityServer


@pytest.fixture(autouse=True)
def _unit_settings(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def identity(tmp_path_factory):
    """The identity service, really running (not a mock of our own service)."""
    server = IdentityServer(tmp_path_factory.mktemp("identity"))
    server.prepare()
    server.start()
    yield server
    server.close()


@pytest.fixture
def live_identity(identity, settings):
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": identity.url}
    if identity.process is None:
        identity.start()
    return identity


@pytest.fixture
def demo(db, live_identity):
    """The demo libraries, staff and customers (matching identity's demo accounts)."""
    import random

    from bibid.library import demo as library_demo
    from bibid.library.tenants.models import Library

    library_demo.load()
    # The identity service outlives each test's library database: hand out card numbers
    # it has not seen yet.
    Library.objects.update(next_card_number=random.randrange(100_000, 990_000))
    return library_demo


@pytest.fixture
def staff(demo):
    from bibid.library.staff.models import Staff
    from bibid.library.staff.permissions import Actor

    def actor(username: str, via: str = "console") -> Actor:
        return Actor(
            Staff.objects.select_related("library", "customer").get(username=username), via=via
        )

    return actor


@pytest.fixture
def restores_identity(live_identity):
    """For a test that changes the demo accounts at identity: put them back afterwards."""
    yield live_identity
    live_identity.bibid("identity", "load_demo")


@pytest.fixture(autouse=True)
def _dutch():
    """Each test starts in Dutch (a request in English must not leak into the next test)."""
    from django.utils import translation

    translation.activate("nl")
    yield
    translation.deactivate()
