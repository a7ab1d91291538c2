"""Background work of the sign-in context."""

from datetime import timedelta

from crontask import cron
from django.conf import settings
from django.tasks import task

from bibid.common import clock

from .models import LoginEvent

BATCH = 5000


@cron("17 3 * * *")
@task
def prune_login_events() -> int:
    """Delete sign-in attempts past their retention (they hold addresses and browsers).

    In batches, so the nightly run never holds the table long.
    """
    cutoff = clock.now() - timedelta(days=settings.BIBID_LOGIN_EVENT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(LoginEvent.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        deleted += LoginEvent.objects.filter(pk__in=ids).delete()[0]
