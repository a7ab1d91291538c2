"""Delivering back-channel logout tokens, with retries (a service may be down for a while).

Each delivery is queued at once; one that fails is retried by the minutely sweep with a
growing pause, up to MAX_ATTEMPTS. A service that never hears still notices at its next
session check (its tokens were revoked when the session ended).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from crontask import cron
from django.db import transaction
from django.tasks import task

from bibid.common import clock, metrics, requestid

from . import logout_tokens
from .models import LogoutDelivery

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 5


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 1800))


def attempt(delivery_id: int) -> str:
    with transaction.atomic():
        delivery = (
            LogoutDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                pk=delivery_id,
                delivered_at__isnull=True,
                attempts__lt=MAX_ATTEMPTS,
                next_attempt_at__lte=clock.now(),
            )
            .first()
        )
        if delivery is None:
            return "nothing to do"
        # Claimed for this attempt: the sweep will not pick it up again meanwhile.
        delivery.attempts += 1
        delivery.next_attempt_at = clock.now() + _backoff(delivery.attempts)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    token = logout_tokens.make(sub=delivery.sub, sid=delivery.sid, client_id=delivery.client_id)
    try:
        response = requests.post(
            delivery.uri,
            data={"logout_token": token},
            timeout=TIMEOUT_SECONDS,
            headers=requestid.outgoing_headers(),
            allow_redirects=False,  # a redirect counts as failure and is never followed
        )
        error = "" if response.status_code == 200 else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    if not error:
        LogoutDelivery.objects.filter(pk=delivery.pk).update(delivered_at=clock.now())
        metrics.BACKCHANNEL_LOGOUTS.labels("delivered").inc()
        return "delivered"
    metrics.BACKCHANNEL_LOGOUTS.labels("failed").inc()
    LogoutDelivery.objects.filter(pk=delivery.pk).update(last_error=error[:300])
    if delivery.attempts >= MAX_ATTEMPTS:
        log.warning(
            "back-channel logout to %s failed %d times: %s", delivery.uri, delivery.attempts, error
        )
        metrics.BACKCHANNEL_LOGOUTS.labels("gave_up").inc()
        return f"gave up: {error}"
    return f"will retry: {error}"


@task
def deliver_logout(delivery_id: int) -> str:
    return attempt(delivery_id)


@cron("* * * * *")
@task
def retry_logout_deliveries() -> int:
    due = LogoutDelivery.objects.filter(
        delivered_at__isnull=True, attempts__lt=MAX_ATTEMPTS, next_attempt_at__lte=clock.now()
    ).values_list("pk", flat=True)[:500]
    for pk in list(due):
        attempt(pk)
    return len(due)
