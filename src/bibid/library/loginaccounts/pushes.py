"""Rights follow the subscription: queue a push when something changes, drain the queue.

If the login service is down for an hour, the rows wait with a growing pause between tries
(10 s doubling to 10 min) and every change arrives afterwards.

Ordered and exactly once in effect, whatever the timing:
- every change counts the customer's `authorization_version` up, in the change's own
  transaction, and every push carries the version it was read with (the version is read
  before the state, so a push never carries an older state than its version says);
- identity applies a push only if its version is not lower than the one it holds, and
  answers "stale" otherwise: a push that timed out here but was still carried out there can
  never overwrite a newer one that arrived first;
- a retry of the same state sends the same request with the same Idempotency-Key (made of
  the customer, the version and a digest of the body), so identity replays its first answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from bibid.common import clock, metrics
from bibid.library.customers.models import Customer, version_now
from bibid.library.subscriptions.rights import authorization_for

from .identity import IdentityClient, IdentityProblem, IdentityUnavailable
from .links import forget_link
from .models import PendingPush

logger = logging.getLogger("bibid.pushes")
MAX_PAUSE = 600


def request_push(customer_ids: Iterable[int]) -> None:
    """Queue a push for these customers, inside the caller's transaction."""
    now = clock.now()
    ids = set(customer_ids)
    # Higher than before, and at least the clock's (see customers.models.version_now); the
    # row lock of the UPDATE orders concurrent changes of one customer.
    Customer.objects.filter(pk__in=ids).update(
        authorization_version=Greatest(F("authorization_version") + 1, Value(version_now()))
    )
    for customer_id in ids:
        updated = PendingPush.objects.filter(customer_id=customer_id).update(
            version=F("version") + 1,
            requested_at=now,
            next_attempt_at=now,
            attempts=0,
        )
        if not updated:
            PendingPush.objects.create(
                customer_id=customer_id, requested_at=now, next_attempt_at=now
            )
    transaction.on_commit(_kick)


def _kick() -> None:
    from .tasks import drain_pushes

    drain_pushes.enqueue()


def _pause(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_PAUSE, 10 * 2 ** max(0, attempts - 1)))


def payload_for(customer: Customer) -> dict:
    """What is pushed for a customer: data, rights and the version they were read at. The
    caller reads the customer (with its version) before its memberships."""
    return {**authorization_for(customer), "version": max(1, customer.authorization_version)}


def idempotency_key(customer: Customer, payload: dict) -> str:
    """The same for the same state: a retry after a lost answer is replayed, not re-run."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return f"push-{customer.pk}-v{payload['version']}-{digest.hexdigest()[:16]}"


def drain(*, limit: int = 200) -> dict[str, int]:
    """Push what is due, oldest request first; stop at the first sign that the login
    service is down (the rest stays due for the next run)."""
    counts = {"pushed": 0, "dropped": 0, "waiting": 0}
    due = list(
        PendingPush.objects.filter(next_attempt_at__lte=clock.now())
        .select_related("customer__library")
        .order_by("requested_at")[:limit]
    )
    clients: dict[int, IdentityClient] = {}
    for row in due:
        if not _push_one(row, clients, counts):
            break
    return counts


def _push_one(row: PendingPush, clients: dict[int, IdentityClient], counts: dict[str, int]) -> bool:
    """Push one queued row (outside any transaction); False: the login service is down,
    busy or slow, so the caller should stop for now."""
    customer = (
        Customer.objects.filter(pk=row.customer_id)
        .prefetch_related("memberships__subscription__type")
        .first()
    )
    if customer is None or not customer.has_login_account:
        PendingPush.objects.filter(pk=row.pk, version=row.version).delete()
        counts["dropped"] += 1
        return True
    library = row.customer.library
    client = clients.setdefault(library.pk, IdentityClient.for_library(library))
    payload = payload_for(customer)
    try:
        answer = client.account_authorize(
            customer.card_number, payload, idempotency_key=idempotency_key(customer, payload)
        )
    except IdentityUnavailable as error:
        # Down, busy or slow: this one and the rest wait. After a timeout the same state
        # goes again under the same key (see the module's docstring).
        _retry_later(row, str(error), at_least=error.retry_after)
        counts["waiting"] += 1
        return False
    except IdentityProblem as problem:
        if problem.code == "not_linked":
            # The login service has no link for this customer (any more): nothing to push.
            forget_link(customer)
            PendingPush.objects.filter(pk=row.pk, version=row.version).delete()
            counts["dropped"] += 1
        else:
            if problem.code == "request_in_progress":
                # The same push (same key) is on its way from another sender: the queue's
                # worker and the helpdesk's push_now can meet. Its answer settles the row.
                counts["in_progress"] = counts.get("in_progress", 0) + 1
            else:
                logger.warning("push for %s refused: %s", customer.card_number, problem)
            _retry_later(row, f"{problem.status} {problem.code}")
            counts["waiting"] += 1
        return True
    if answer.get("result") == "stale":
        # identity holds a newer version than this read (a manual push overtook us):
        # nothing to send; the row goes unless another change came meanwhile.
        counts["stale"] = counts.get("stale", 0) + 1
    # Done, unless the customer changed again while we pushed (a newer version).
    PendingPush.objects.filter(pk=row.pk, version=row.version).delete()
    counts["pushed"] += 1
    return True


def push_now(customer: Customer) -> bool:
    """Deliver this customer's queued push at once, not at the queue's next run (the helpdesk
    calls a fix a success only once the rights it changed have reached identity). Same
    request, same key as the queue would send, so the queue's own try of it is a replay.
    Returns whether nothing is left waiting. Never inside a transaction: it calls identity."""
    row = (
        PendingPush.objects.filter(customer_id=customer.pk)
        .select_related("customer__library")
        .first()
    )
    if row is None:
        return True
    counts = {"pushed": 0, "dropped": 0, "waiting": 0}
    _push_one(row, {}, counts)
    waiting = PendingPush.objects.filter(customer_id=customer.pk)
    if counts.get("in_progress"):
        # identity is carrying out this very push for the queue's worker (409: same key,
        # still running). That request ends within its own timeout, and the worker removes
        # the row when it is answered: wait that long rather than tell the helpdesk that a
        # push which is arriving is still waiting. Bounded: a few seconds, polled.
        deadline = time.monotonic() + settings.BIBID_IDENTITY_TIMEOUT + 1
        while waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    return not waiting.exists()


def _retry_later(row: PendingPush, error: str, *, at_least: int | None = None) -> None:
    attempts = row.attempts + 1
    pause = max(_pause(attempts), timedelta(seconds=at_least or 0))
    metrics.PUSH_RETRIES.inc()
    PendingPush.objects.filter(pk=row.pk, version=row.version).update(
        attempts=attempts,
        next_attempt_at=clock.now() + pause,
        last_error=error[:300],
    )
