"""The current time, injectable: code asks this module, tests replace it.

In-process tests call set_clock(). Tests that run the services as real processes move
their clock with a file: when BIBID_TEST_CLOCK_FILE is set (test runs only; the settings
refuse it outside DEBUG or demo mode), the file holds seconds to add to the real time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.utils import timezone

_override: Callable[[], datetime] | None = None
_offset_cache: tuple[float, float] = (-1.0, 0.0)  # (file mtime, offset)


def _file_offset() -> float:
    global _offset_cache
    path = os.environ.get("BIBID_TEST_CLOCK_FILE")
    if not path:
        return 0.0
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return 0.0
    if mtime != _offset_cache[0]:
        try:
            with open(path) as fh:
                _offset_cache = (mtime, float(fh.read().strip() or 0))
        except (OSError, ValueError):
            _offset_cache = (mtime, 0.0)
    return _offset_cache[1]


def now() -> datetime:
    """Return the current, timezone-aware time."""
    if _override is not None:
        return _override()
    offset = _file_offset()
    return timezone.now() + timedelta(seconds=offset) if offset else timezone.now()


def today() -> date:
    """The library's calendar day (TIME_ZONE, Europe/Amsterdam), not UTC's: between midnight
    and one or two o'clock at night UTC still says yesterday, and subscriptions, rights and
    ages go by the day people live in."""
    return timezone.localdate(now())


def set_clock(func: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the real one."""
    global _override
    _override = func
