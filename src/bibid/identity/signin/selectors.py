"""Reads of sign-in attempts."""

from .models import LoginEvent


def recent_events(account_id: int, *, limit: int = 10) -> list[LoginEvent]:
    """The account's latest attempts and session events, newest first (one indexed query)."""
    return list(LoginEvent.objects.filter(account_id=account_id).order_by("-at", "-id")[:limit])
