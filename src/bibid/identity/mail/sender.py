"""Draining the outbox: due messages are sent; a failure waits longer each time and is tried
again. With the mail server down for an hour, everything goes out afterwards, once (a message
is marked sent as soon as the server accepted it)."""

from __future__ import annotations

import logging
import smtplib
import socket
from datetime import timedelta

from django.db import transaction

from bibid.common import clock, metrics
from bibid.identity.accounts.models import Account

from .messages import as_email, compose
from .models import OutboxMessage

logger = logging.getLogger("bibid.mail")
MAX_PAUSE = timedelta(minutes=30)
GIVE_UP_AFTER = timedelta(days=3)
# The mail server cannot be reached (as opposed to refusing one message).
CONNECTION_ERRORS = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
)


def pause(attempts: int) -> timedelta:
    return min(MAX_PAUSE, timedelta(seconds=15 * 2 ** max(0, attempts - 1)))


# While one worker sends a message, others leave it alone this long. A worker that dies
# mid-send leaves the lease to run out, and the message is sent again: at least once, with
# the same Message-ID, so that a receiver that has it already can drop the second.
LEASE = timedelta(minutes=2)


def drain(*, limit: int = 100) -> dict[str, int]:
    """Send what is due. No transaction is open while the mail server is talked to: a mail
    server that accepts connections and never answers must not hold the database's write
    lock (on SQLite, every sign-in and push would wait for it and fail after 20 s)."""
    counts = {"sent": 0, "failed": 0, "dropped": 0}
    now = clock.now()
    due = list(
        OutboxMessage.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        claimed = _claim(pk, now)
        if claimed is None:
            continue  # another worker has it, or it was sent meanwhile
        account = (
            Account.objects.filter(pk=claimed.account_id).first() if claimed.account_id else None
        )
        needs_account = claimed.kind != OutboxMessage.Kind.NOTICE or claimed.data.get(
            "notice"
        ) not in ("account_deleted", "email_changed", "email_change_requested")
        if (needs_account and account is None) or now - claimed.created_at > GIVE_UP_AFTER:
            OutboxMessage.objects.filter(pk=pk).update(
                sent_at=now, last_error="dropped: account gone or too old"
            )
            counts["dropped"] += 1
            metrics.MAILS.labels("dropped").inc()
            continue
        try:
            email = as_email(claimed, compose(claimed, account))
            email.send(using="default")  # the mailer's timeout bounds this (settings)
        except (smtplib.SMTPException, OSError) as error:
            attempts = claimed.attempts + 1
            # The class and the server's short answer; never the message (it has links).
            last_error = f"{type(error).__name__}: {str(error)[:200]}"
            OutboxMessage.objects.filter(pk=pk, sent_at__isnull=True).update(
                attempts=attempts,
                next_attempt_at=clock.now() + pause(attempts),
                last_error=last_error,
            )
            counts["failed"] += 1
            metrics.MAILS.labels("failed").inc()
            logger.warning("mail %s not sent yet: %s", pk, last_error)
            if isinstance(error, CONNECTION_ERRORS):
                break  # the server is down: the rest waits for the next run
            continue
        OutboxMessage.objects.filter(pk=pk).update(
            sent_at=clock.now(), attempts=claimed.attempts + 1
        )
        counts["sent"] += 1
        metrics.MAILS.labels("sent").inc()
    return counts


def _claim(pk: int, now) -> OutboxMessage | None:
    """Take the message for LEASE in one short transaction (others skip it meanwhile)."""
    with transaction.atomic():
        claimed = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, sent_at__isnull=True, next_attempt_at__lte=now)
            .first()
        )
        if claimed is not None:
            OutboxMessage.objects.filter(pk=pk).update(next_attempt_at=now + LEASE)
        return claimed
