"""The current time, injectable: code asks this module, tests replace it."""

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """Return the current, timezone-aware time."""
    if _override is not None:
        return _override()
    return timezone.now()


def set_clock(func: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the real one."""
    global _override
    _override = func
