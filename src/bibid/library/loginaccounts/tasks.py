"""Background work: drain the push queue, follow the changes feed, sync every night."""

import logging
import os

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.tasks import task

from bibid.library.tenants.models import Library

from . import feed, pushes, sync, unconfirmed
from .identity import IdentityError

logger = logging.getLogger("bibid.tasks")


def _every() -> IntervalTrigger:
    """How often the queues and the feed are looked at besides the kick a change gives
    (BIBID_LIBRARY_POLL_SECONDS, default a minute). Tests set a few seconds, so that they
    wait for what the system does by itself, not for the clock."""
    seconds = int(os.environ.get("BIBID_LIBRARY_POLL_SECONDS") or 60)
    return IntervalTrigger(seconds=max(1, seconds))


@cron(_every())
@task
def drain_pushes() -> dict:
    """Push due authorizations (queued on every change; retried every minute)."""
    return pushes.drain()


@cron(_every())
@task
def settle_unconfirmed() -> dict:
    """Settle changes the login service did not confirm in time (queued at once; every
    minute for what is still open)."""
    return unconfirmed.settle_due()


@cron(_every())
@task
def follow_changes() -> int:
    """Learn from the login service which linked accounts were deleted or renamed."""
    seen = 0
    for library in Library.objects.all():
        try:
            seen += feed.follow(library)
        except IdentityError as error:  # down: the cursor stays, the next minute catches up
            logger.warning("changes feed of %s: %s", library.code, error)
    return seen


@cron("30 2 * * *")
@task
def nightly_sync() -> dict:
    """Push every linked customer of every library (bulk), so nothing can drift for long."""
    result = {}
    for library in Library.objects.all():
        try:
            result[library.code] = sync.sync(library)
        except IdentityError as error:
            logger.warning("nightly sync of %s: %s", library.code, error)
            result[library.code] = {"error": str(error)}
    return result
