"""Rights follow the subscription: queue a push when something changes, drain the queue.

If the login service is down for an hour, the rows wait with a growing pause between tries
(10 s doubling to 10 min) and every change arrives afterwards; each push sends the current
state with an Idempotency-Key per (customer, version), so none is applied twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import F

from bibid.common import clock
from bibid.library.customers.models import Customer
from bibid.library.subscriptions.rights import authorization_for

from .identity import IdentityClient, IdentityProblem, IdentityUnavailable
from .links import forget_link
from .models import PendingPush

logger = logging.getLogger("bibid.pushes")
MAX_PAUSE = 600


def request_push(customer_ids: Iterable[int]) -> None:
    """Queue a push for these customers, inside the caller's transaction."""
    now = clock.now()
    for customer_id in set(customer_ids):
        updated = PendingPush.objects.filter(customer_id=customer_id).update(
            version=F("version") + 1, requested_at=now, next_attempt_at=now, attempts=0,
        )
        if not updated:
            PendingPush.objects.create(customer_id=customer_id, requested_at=now,
                                       next_attempt_at=now)
    transaction.on_commit(_kick)


def _kick() -> None:
    from .tasks import drain_pushes

    drain_pushes.enqueue()


def _pause(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_PAUSE, 10 * 2 ** max(0, attempts - 1)))


def drain(*, limit: int = 200) -> dict[str, int]:
    """Push what is due, oldest request first; stop at the first sign that the login
    service is down (the rest stays due for the next run)."""
    counts = {"pushed": 0, "dropped": 0, "waiting": 0}
    due = list(
        PendingPush.objects.filter(next_attempt_at__lte=clock.now())
        .select_related("customer__library").order_by("requested_at")[:limit]
    )
    clients: dict[int, IdentityClient] = {}
    for row in due:
        customer = (
            Customer.objects.filter(pk=row.customer_id)
            .prefetch_related("memberships__subscription__type").first()
        )
        if customer is None or not customer.has_login_account:
            PendingPush.objects.filter(pk=row.pk, version=row.version).delete()
            counts["dropped"] += 1
            continue
        library = row.customer.library
        client = clients.setdefault(library.pk, IdentityClient.for_library(library))
        try:
            client.account_authorize(
                customer.card_number, authorization_for(customer),
                idempotency_key=f"push-{customer.pk}-{row.requested_at.timestamp():.6f}",
            )
        except IdentityUnavailable as error:
            _retry_later(row, str(error))
            counts["waiting"] += 1
            break
        except IdentityProblem as problem:
            if problem.code == "not_linked":
                # The login service has no link for this customer (any more): nothing to push.
                forget_link(customer)
                PendingPush.objects.filter(pk=row.pk, version=row.version).delete()
                counts["dropped"] += 1
            else:
                logger.warning("push for %s refused: %s", customer.card_number, problem)
                _retry_later(row, f"{problem.status} {problem.code}")
                counts["waiting"] += 1
            continue
        # Done, unless the customer changed again while we pushed (a newer version).
        PendingPush.objects.filter(pk=row.pk, version=row.version).delete()
        counts["pushed"] += 1
    return counts


def _retry_later(row: PendingPush, error: str) -> None:
    attempts = row.attempts + 1
    PendingPush.objects.filter(pk=row.pk, version=row.version).update(
        attempts=attempts, next_attempt_at=clock.now() + _pause(attempts), last_error=error[:300],
    )
