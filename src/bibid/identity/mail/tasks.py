"""Background work of the mail context."""

from crontask import cron
from django.tasks import task

from . import sender


@cron("* * * * *")
@task
def send_outbox() -> dict:
    """Send due e-mails (queued on every change; retried every minute)."""
    return sender.drain()
