"""Reading-service tests: plain static files, Dutch, titles, and identity stood in for.

The reading service asks identity for fresh rights before each borrow, reports missing
rights to it, and (patron_required) checks that the identity session still exists: all in
bibid.common.rp.services. Unit tests replace those calls with a stand-in that records them;
the cross-service tests under tests/e2e run the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bibid.common.rp.patron import Patron, forget_patron, get_patron, set_patron


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, test in a database file, as the service runs, not in memory.

    Django's in-memory test database is shared between threads in SQLite's shared-cache
    mode, whose table locks fail at once ("database table is locked") instead of waiting
    like the file's write lock does (busy_timeout): the test of simultaneous borrows must
    see what the service sees.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        path = tmp_path_factory.mktemp("sqlite") / "reading-test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(path)


@pytest.fixture(autouse=True)
def _unit_settings(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _dutch():
    """Each test starts in Dutch (a request in English must not leak into the next test)."""
    from django.utils import translation

    translation.activate("nl")
    yield
    translation.deactivate()


@dataclass
class FakeIdentity:
    """What identity answers: the rights as they are now, the events it was told."""

    fresh: dict[str, Patron] = field(default_factory=dict)  # sub -> patron with new rights
    alive: bool = True  # what the session check (patron_required) hears
    session_over: bool = False  # what reading the rights again hears
    down: bool = False
    reporting_fails: bool = False
    refreshed: int = 0
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def refresh_rights(self, request) -> Patron | None:
        self.refreshed += 1
        if self.session_over:
            return None
        if self.down:
            raise ConnectionError("identity is away")
        current = get_patron(request)
        patron = self.fresh.get(current.sub, current)
        set_patron(request, patron)
        return patron

    def report_event(self, request, kind: str, details: dict[str, Any], **kwargs) -> None:
        if self.reporting_fails:
            raise ConnectionError("identity is away")
        self.events.append((kind, details))

    def session_alive(self, request) -> bool:
        return self.alive

    def ended(self, request, reason: str) -> None:
        forget_patron(request)
        self.events.append(("logout_detected", {"reason": reason}))


@pytest.fixture(autouse=True)
def identity(monkeypatch) -> FakeIdentity:
    from bibid.common.rp import services

    fake = FakeIdentity()
    monkeypatch.setattr(services, "refresh_rights", fake.refresh_rights)
    monkeypatch.setattr(services, "report_event", fake.report_event)
    for name in ("session_alive", "ended"):  # the session check, once the sign-in has it
        if hasattr(services, name):
            monkeypatch.setattr(services, name, getattr(fake, name))
    return fake


@pytest.fixture
def make_title(db):
    from bibid.reading.catalogue.models import Title

    counter = iter(range(1, 10_000))

    def make(**fields) -> Title:
        n = next(counter)
        values = {
            "slug": f"titel-{n}",
            "title": f"Titel {n}",
            "author": "Auteur",
            "kind": "ebook",
            **fields,
        }
        return Title.objects.create(**values)

    return make


@pytest.fixture
def catalogue(db):
    """The demo catalogue, by slug."""
    from bibid.reading.catalogue import demo
    from bibid.reading.catalogue.models import Title

    demo.load()
    return {t.slug: t for t in Title.objects.all()}
