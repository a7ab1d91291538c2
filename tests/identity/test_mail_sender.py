"""The outbox sender talks to the mail server outside any database transaction (issue 13: a
mail server that accepts connections and never answers held SQLite's write lock, and
sign-ins failed with "database is locked")."""

from __future__ import annotations

import socket
import threading

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

from bibid.identity.mail import sender
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue

SEEN: list[bool] = []


class WatchingBackend(BaseEmailBackend):
    """Records whether a transaction was open while a message was handed to it."""

    def send_messages(self, email_messages):
        SEEN.extend(connection.in_atomic_block for _ in email_messages)
        return len(email_messages)


@pytest.fixture(autouse=True)
def _no_immediate_sending(settings):
    # The sender runs when the test says so, not at each commit (as the worker would).
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def stalled_server():
    """A mail server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_a_message_is_sent(make_account, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.WatchingBackend"}}
    anna = make_account("anna.jansen", recovery_email="anna@example.org")
    SEEN.clear()
    for _ in range(3):
        enqueue(kind="password_reset", to=anna.recovery_email, account_id=anna.pk)
    assert sender.drain() == {"sent": 3, "failed": 0, "dropped": 0}
    assert SEEN == [False, False, False]
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_stalled_mail_server_costs_a_timeout_and_a_retry_not_a_lock(
    make_account, settings, stalled_server
):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": stalled_server, "timeout": 0.5},
        }
    }
    anna = make_account("anna.jansen", recovery_email="anna@example.org")
    enqueue(kind="password_reset", to=anna.recovery_email, account_id=anna.pk)
    enqueue(kind="password_reset", to=anna.recovery_email, account_id=anna.pk)

    results: dict = {}
    worker = threading.Thread(target=lambda: results.update(sender.drain()))
    worker.start()
    # While the sender waits for the silent server, the database takes other writes (a
    # sign-in, a push): nothing holds its write lock.
    from bibid.identity.accounts.models import Account

    Account.objects.filter(pk=anna.pk).update(recovery_email="anna2@example.org")
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert results == {"sent": 0, "failed": 1, "dropped": 0}  # then it stops: server down
    first, second = OutboxMessage.objects.order_by("pk")
    assert first.attempts == 1 and first.sent_at is None
    assert "timed out" in first.last_error.lower() or "Timeout" in first.last_error
    assert second.attempts == 0  # waits for the next run
