"""Fixtures shared by every group: an injectable clock, unit-test settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock():
    from django.utils import timezone

    from bibid.common import clock as clock_module

    frozen = FrozenClock(timezone.now().replace(microsecond=0))
    clock_module.set_clock(frozen)
    yield frozen
    clock_module.set_clock(None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a unit test whose code calls another service or a mail server inside a
    transaction (tests/transaction_guard.py), even if that code swallowed the error. The
    cross-service tests (no Django in the test process) are not watched here."""
    from django.conf import settings

    if not settings.configured:
        return (yield)
    from tests.transaction_guard import watching

    with watching() as violations:
        result = yield
    if violations and not item.get_closest_marker("external_call_in_transaction_ok"):
        pytest.fail("; ".join(violations), pytrace=False)
    return result
