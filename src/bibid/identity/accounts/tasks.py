"""Background work of the accounts context, run by the task worker."""

from crontask import cron
from django.tasks import task

from .actors import Actor
from .services import purge_inactive_accounts


@cron("*/5 * * * *")
@task
def purge_inactive() -> int:
    """Delete inactive accounts past the activation window (every five minutes)."""
    return purge_inactive_accounts(actor=Actor.system("purge")).deleted
