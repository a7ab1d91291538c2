"""Queueing mail: called inside the transaction of the change that causes it."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import get_language

from .models import OutboxMessage


def enqueue(
    *,
    kind: str,
    to: str,
    account_id: int | None,
    data: dict | None = None,
    language: str | None = None,
) -> OutboxMessage:
    """Put a message in the outbox; it commits or rolls back with the caller's change."""
    message = OutboxMessage.objects.create(
        kind=kind,
        to=to,
        account_id=account_id,
        data=data or {},
        language=(language or get_language() or "nl")[:8],
    )
    transaction.on_commit(_send_soon)
    return message


def _send_soon() -> None:
    from .tasks import send_outbox

    send_outbox.enqueue()
