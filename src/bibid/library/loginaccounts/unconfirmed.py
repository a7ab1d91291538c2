"""Calls to the login service whose outcome is unknown, and how they are settled.

A changing call that was sent but got no answer in time (identity was hung or slow, or failed
while answering) may have been carried out. Saying "er is niets gewijzigd" would be a guess,
and it was wrong 10 times out of 10 when the testers paused identity: the accounts were made,
the activation mails sent, and the library showed no link.

So the library does not guess:
1. the exact request (method, path, body, Idempotency-Key, who acted) is recorded here and
   staff are told the truth: "nog niet bevestigd door de inlogdienst; wordt gecontroleerd";
2. a task sends that same request again until identity answers (a short pause, doubling).
   identity keeps the answer of every changing request under its key, committed together
   with the change itself, so the answer is exact: the first answer replayed (it was carried
   out), or the request carried out now (it never ran), or a refusal (it never ran, and may
   not now). There is no third possibility, so nothing is done twice or lost;
3. the library then does its own half in one transaction with marking the row settled
   (remember the link and push the rights, or forget it, or take back a self-service
   sign-up), and the audit trail records the outcome.
Until then every other change to that customer's login account waits (409), because what the
account looks like at identity is not known. The changes feed (link_created, link_removed)
repairs the link as well, should a row ever be given up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from bibid.common import clock, metrics
from bibid.library.customers.models import Customer
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor

from .identity import IdentityClient, IdentityProblem, IdentityUnavailable
from .links import forget_link, remember_link
from .models import UnconfirmedCall
from .pushes import request_push

logger = logging.getLogger("bibid.unconfirmed")
SYSTEM = Actor.system("settle")
MAX_PAUSE = 300
# identity keeps answers 24 hours; after this long the request can no longer be told apart
# from a new one, so the row is given up (the changes feed and the nightly sync still repair
# the link and the rights).
GIVE_UP_AFTER = timedelta(hours=20)

TEXT = gettext_lazy(
    "Nog niet bevestigd door de inlogdienst; wordt gecontroleerd. Je hoeft "
    "niets opnieuw te doen: zodra de inlogdienst antwoordt, staat de uitkomst "
    "bij de laatste handelingen van deze klant."
)
PENDING_TEXT = gettext_lazy(
    "Een eerdere wijziging van dit inlogaccount is nog niet bevestigd "
    "door de inlogdienst; die wordt eerst gecontroleerd. Probeer het "
    "over een minuut opnieuw."
)


def _linked(customer: Customer, answer: dict) -> None:
    remember_link(customer, answer["account"])
    request_push([customer.pk])


def _unlinked(customer: Customer, answer: dict) -> None:
    forget_link(customer)


# The library's own half of each action, once identity's outcome is known. A module above
# this one (the online sign-up) registers its own halves at app ready (`register`), so this
# module never imports upwards.
ON_DONE: dict[str, Callable[[Customer, dict], None]] = {
    "login_generate": _linked,
    "login_link_confirm": _linked,
    "login_unlink": _unlinked,
}
ON_NOT_DONE: dict[str, Callable[[Customer], None]] = {}


def register(
    action: str,
    *,
    done: Callable[[Customer, dict], None],
    not_done: Callable[[Customer], None] | None = None,
) -> None:
    """What the library does for `action` once identity said it was carried out (`done`)
    or not (`not_done`). Called once per action at app ready."""
    ON_DONE[action] = done
    if not_done is not None:
        ON_NOT_DONE[action] = not_done


def record(
    customer: Customer, action: str, error: IdentityUnavailable, acting: tuple[str, str] | None
) -> UnconfirmedCall:
    """Keep the request that got no answer, and have it checked soon."""
    sent = error.sent or {}
    call = UnconfirmedCall.objects.create(
        customer=customer,
        action=action,
        method=sent["method"],
        path=sent["path"],
        body=sent.get("body"),
        idempotency_key=sent["key"],
        acting=list(acting or ()),
        next_attempt_at=clock.now() + timedelta(seconds=2),
        last_error=str(error)[:300],
    )
    logger.warning("%s for customer %s unconfirmed (%s); checking", action, customer.pk, error)
    transaction.on_commit(_kick)
    return call


def _kick() -> None:
    from .tasks import settle_unconfirmed

    # Real time (the worker's), a moment later: the first request may still be running.
    settle_unconfirmed.using(run_after=timezone.now() + timedelta(seconds=2)).enqueue()


def open_calls(customer: Customer):
    return UnconfirmedCall.objects.filter(customer=customer, settled_at__isnull=True)


def _pause(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_PAUSE, 5 * 2 ** max(0, attempts - 1)))


def settle(call: UnconfirmedCall) -> str | None:
    """Send the request again and settle the row; None while the outcome is still unknown."""
    customer = call.customer
    client = IdentityClient.for_library(
        customer.library, acting=tuple(call.acting) if call.acting else None
    )
    sent = {
        "method": call.method,
        "path": call.path,
        "body": call.body,
        "key": call.idempotency_key,
    }
    try:
        answer = client.replay(sent)
    except IdentityUnavailable as error:
        return _later(call, str(error), error.retry_after)
    except IdentityProblem as problem:
        if problem.code == "request_in_progress":  # the first one still runs over there
            return _later(call, str(problem), (problem.body.get("data") or {}).get("retry_after"))
        if problem.code == "idempotency_key_reused":
            # identity does not recognise the request as the same one: its answer says
            # nothing about what happened, so neither may we (the feed and the sync repair).
            logger.error(
                "replay of %s for customer %s not recognised by identity",
                call.action,
                call.customer_id,
            )
            return _settle(
                call,
                UnconfirmedCall.Outcome.GAVE_UP,
                {"identity": problem.code, "status": problem.status},
            )
        return _settle(
            call,
            UnconfirmedCall.Outcome.NOT_DONE,
            {"identity": problem.code, "status": problem.status},
        )
    return _settle(call, UnconfirmedCall.Outcome.DONE, {}, answer)


def _later(call: UnconfirmedCall, error: str, at_least: int | None) -> str | None:
    now = clock.now()
    if now - call.created_at > GIVE_UP_AFTER:
        return _settle(call, UnconfirmedCall.Outcome.GAVE_UP, {"last_error": error[:200]})
    attempts = call.attempts + 1
    pause = max(_pause(attempts), timedelta(seconds=int(at_least or 0)))
    UnconfirmedCall.objects.filter(pk=call.pk, settled_at__isnull=True).update(
        attempts=attempts, next_attempt_at=now + pause, last_error=error[:300]
    )
    return None


def _settle(call: UnconfirmedCall, outcome: str, detail: dict, answer: dict | None = None) -> str:
    with transaction.atomic():
        # Only one settler does the library's half (two workers may race for a row).
        won = UnconfirmedCall.objects.filter(pk=call.pk, settled_at__isnull=True).update(
            settled_at=clock.now(), outcome=outcome
        )
        if not won:  # another settler was first (or the customer and its calls are gone)
            earlier = UnconfirmedCall.objects.filter(pk=call.pk).first()
            return earlier.outcome if earlier else UnconfirmedCall.Outcome.GAVE_UP
        customer = Customer.objects.select_related("library").get(pk=call.customer_id)
        result = {"done": "ok", "not_done": "refused", "gave_up": "failed"}[outcome]
        # Recorded before the library's half: taking back a sign-up deletes the customer
        # (the event then keeps the card number, its customer link set to null).
        audit.record(
            actor=SYSTEM,
            action=call.action,
            customer=customer,
            result=result,
            detail={
                "settled": outcome,
                "unconfirmed": call.pk,
                "since": call.created_at.isoformat(),
                **detail,
            },
        )
        if outcome == UnconfirmedCall.Outcome.DONE and call.action in ON_DONE:
            ON_DONE[call.action](customer, answer or {})
        elif outcome == UnconfirmedCall.Outcome.NOT_DONE and call.action in ON_NOT_DONE:
            ON_NOT_DONE[call.action](customer)
    metrics.UNCERTAIN_OPERATIONS.labels(outcome=outcome).inc()
    if outcome == UnconfirmedCall.Outcome.DONE and call.action in ON_DONE:
        metrics.REPAIRS.labels(via="settle", kind=call.action).inc()
    logger.info("%s for customer %s settled: %s", call.action, call.customer_id, outcome)
    return outcome


def settle_due(*, limit: int = 100) -> dict[str, int]:
    """The task: settle what is due, oldest first; stop when identity is still unreachable."""
    counts = {"done": 0, "not_done": 0, "gave_up": 0, "waiting": 0}
    due = list(
        UnconfirmedCall.objects.filter(settled_at__isnull=True, next_attempt_at__lte=clock.now())
        .select_related("customer__library")
        .order_by("created_at")[:limit]
    )
    for call in due:
        outcome = settle(call)
        if outcome is None:
            counts["waiting"] += 1
            break
        counts[outcome] += 1
    return counts


def settle_for(customer: Customer) -> bool:
    """Before another change to this customer's account: try to settle what is open now.
    True when nothing is open any more."""
    return all(settle(call) is not None for call in open_calls(customer).order_by("created_at"))
