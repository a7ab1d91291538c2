"""Background work of the self-service context."""

from datetime import timedelta

from crontask import cron
from django.conf import settings
from django.tasks import task

from bibid.common import clock

from . import services
from .models import SelfServiceRequest


@task
def handle_request(request_id: int) -> None:
    """Look up and mail what a forgot-password or forgot-username request asked for."""
    services.handle(request_id)


@cron("47 3 * * *")
@task
def prune_requests() -> int:
    """Forget requests past the retention (they hold what people typed and addresses)."""
    cutoff = clock.now() - timedelta(days=settings.BIBID_LOGIN_EVENT_RETENTION_DAYS)
    return SelfServiceRequest.objects.filter(at__lt=cutoff).delete()[0]
