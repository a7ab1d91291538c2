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
