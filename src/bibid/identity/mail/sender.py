"""Draining the outbox: due messages are sent; a failure waits longer each time and is tried
again. With the mail server down for an hour, everything goes out afterwards, once (a message
is marked sent as soon as the server accepted it)."""

from __future__ import annotations

import logging
import smtplib
import socket
from datetime import timedelta

from django.db import transaction

from bibid.common import clock
from bibid.identity.accounts.models import Account

from .messages import as_email, compose
from .models import OutboxMessage

logger = logging.getLogger("bibid.mail")
MAX_PAUSE = timedelta(minutes=30)
GIVE_UP_AFTER = timedelta(days=3)
# The mail server cannot be reached (as opposed to refusing one message).
CONNECTION_ERRORS = (ConnectionError, TimeoutError, socket.gaierror,
                     smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)


def pause(attempts: int) -> timedelta:
    return min(MAX_PAUSE, timedelta(seconds=15 * 2 ** max(0, attempts - 1)))


def drain(*, limit: int = 100) -> dict[str, int]:
    counts = {"sent": 0, "failed": 0, "dropped": 0}
    now = clock.now()
    due = list(OutboxMessage.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now)
               .order_by("created_at")[:limit])
    for message in due:
        with transaction.atomic():
            claimed = (OutboxMessage.objects.select_for_update(skip_locked=True)
                       .filter(pk=message.pk, sent_at__isnull=True).first())
            if claimed is None:
                continue  # another worker has it
            account = Account.objects.filter(pk=claimed.account_id).first() \
                if claimed.account_id else None
            needs_account = claimed.kind != OutboxMessage.Kind.NOTICE or \
                claimed.data.get("notice") not in ("account_deleted", "email_changed",
                                                   "email_change_requested")
            if (needs_account and account is None) or now - claimed.created_at > GIVE_UP_AFTER:
                claimed.sent_at, claimed.last_error = now, "dropped: account gone or too old"
                claimed.save(update_fields=["sent_at", "last_error"])
                counts["dropped"] += 1
                continue
            try:
                as_email(claimed, compose(claimed, account)).send(using="default")
            except (smtplib.SMTPException, OSError) as error:
                claimed.attempts += 1
                claimed.next_attempt_at = now + pause(claimed.attempts)
                # The class and the server's short answer; never the message (it has links).
                claimed.last_error = f"{type(error).__name__}: {str(error)[:200]}"
                claimed.save(update_fields=["attempts", "next_attempt_at", "last_error"])
                counts["failed"] += 1
                logger.warning("mail %s not sent yet: %s", claimed.pk, claimed.last_error)
                if isinstance(error, CONNECTION_ERRORS):
                    break  # the server is down: the rest waits for the next run
                continue
            claimed.sent_at, claimed.attempts = now, claimed.attempts + 1
            claimed.save(update_fields=["sent_at", "attempts"])
            counts["sent"] += 1
    return counts
