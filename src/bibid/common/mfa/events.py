"""Recording the second step: the app's own table, and a signal a service listens to (the
library also writes each event to its staff audit trail)."""

from __future__ import annotations

from django.dispatch import Signal

from .models import MfaEvent

# Sent after each event is written: sender=MfaEvent, event=<MfaEvent>, user=<user or None>.
recorded = Signal()


def record(*, user, action: str, result: str, actor: str = "", detail: dict | None = None):
    """Write one event (who, by whom, what, how it went) and tell the listeners."""
    who = user.get_username() if user is not None else ""
    event = MfaEvent.objects.create(
        user=user,
        who=who[:200],
        actor=(actor or who)[:200],
        action=action,
        result=result,
        detail=detail or {},
    )
    recorded.send(sender=MfaEvent, event=event, user=user)
    return event
