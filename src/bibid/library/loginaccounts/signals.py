"""Receivers of what the contexts below login accounts report: a change to a customer's data
or rights (customers.signals.authorization_changed) queues the push of the customer's
authorization to the login service. Connected once, at app ready (apps.py)."""

from __future__ import annotations

from collections.abc import Iterable

from bibid.library.customers.signals import authorization_changed

from .pushes import request_push


def queue_push(sender, *, customer_ids: Iterable[int], **kwargs) -> None:
    """Called inside the change's own transaction (Signal.send is synchronous), so the push
    row and the customer's new authorization version commit with the change, or not at all."""
    request_push(customer_ids)


def connect() -> None:
    # dispatch_uid: connected once even if ready() runs again (tests that reload apps), so a
    # change never queues its push twice.
    authorization_changed.connect(queue_push, dispatch_uid="bibid.loginaccounts.queue_push")
