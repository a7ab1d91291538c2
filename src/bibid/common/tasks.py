"""Upkeep of the task queue in every service: leases for running tasks, pruning of old rows.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again, so a
task whose worker died (killed, out of memory, the machine restarted) stays RUNNING for ever
and its work is never done. Here a RUNNING task gets a lease: once it has been running longer
than `BIBID_TASK_LEASE_SECONDS` (default 600; our tasks take seconds), it goes back to READY
and the next free worker runs it again.

That makes a task run *at least* once, not exactly once: a worker that was only very slow
(not dead) may finish after its task was handed to another. Exactly once *in effect* comes
from the tasks themselves, which are idempotent by design: a push carries the customer's
version and an Idempotency-Key, so identity applies it once and ignores an older or repeated
one; the mail outbox marks a message sent in the row it sends from; the drains and feeds work
from durable queues and cursors, not from the task's arguments. A lease far longer than any
task keeps the double run rare; idempotency keeps it harmless.

Finished rows (successful or failed) are deleted once older than
`BIBID_TASK_RESULTS_KEEP_DAYS` (default 1), with django-tasks-db's own
`prune_db_task_results`, so the table holds a day of history instead of growing by
thousands of rows an hour.

crontask's scheduler finds these jobs because `bibid.common` is an installed app of every
service and crontask imports each app's `tasks` module.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.conf import settings
from django.core.management import call_command
from django.tasks import task
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from bibid.common import metrics

logger = logging.getLogger("bibid.tasks")

DEFAULT_LEASE_SECONDS = 600
DEFAULT_KEEP_DAYS = 1


def _setting(name: str, default: int) -> int:
    """A number from the settings (tests override them) or else the environment."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name) or default
    return int(value)


def lease_seconds() -> int:
    return max(1, _setting("BIBID_TASK_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def keep_days() -> int:
    return max(0, _setting("BIBID_TASK_RESULTS_KEEP_DAYS", DEFAULT_KEEP_DAYS))


def requeue_expired_leases() -> list[str]:
    """Put every task RUNNING for longer than the lease back to READY; return their ids."""
    # django-tasks-db stamps started_at with Django's real clock, so the lease is measured
    # with the same clock (never bibid's movable test clock).
    cutoff = timezone.now() - timedelta(seconds=lease_seconds())
    expired = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    requeued = []
    for row in expired.values("id", "task_path", "started_at", "worker_ids"):
        # One conditional UPDATE per task (they are rare): the same claim (started_at) must
        # still be RUNNING, so a task that finished a moment ago keeps its result, and two
        # runs of this job cannot both re-queue one task.
        if not DBTaskResult.objects.filter(
            pk=row["id"], status=TaskResultStatus.RUNNING, started_at=row["started_at"]
        ).update(status=TaskResultStatus.READY):
            continue
        requeued.append(str(row["id"]))
        logger.warning(
            "task %s (%s) was running since %s on worker %s, past its lease of %d s: "
            "its worker is presumed dead; back in the queue",
            row["id"],
            row["task_path"],
            row["started_at"].isoformat(),
            (row["worker_ids"] or ["?"])[-1],
            lease_seconds(),
        )
        metrics.TASKS.labels(row["task_path"], "lease_expired").inc()
    return requeued


def _lease_check_every() -> IntervalTrigger:
    """Look a few times per lease (once a minute with the default), so a task waits at most
    a little more than its lease; a test with a lease of seconds looks every second."""
    seconds = os.environ.get("BIBID_TASK_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS
    return IntervalTrigger(seconds=min(60, max(1, int(seconds) // 4)))


@cron(_lease_check_every())
@task
def requeue_expired() -> int:
    """Give the tasks of dead workers back to the queue (see the module docstring)."""
    return len(requeue_expired_leases())


def prune_finished_results() -> int:
    """Delete finished task rows older than the kept days; return how many rows are left."""
    call_command("prune_db_task_results", queue_name="*", min_age_days=keep_days(), verbosity=1)
    return DBTaskResult.objects.count()


@cron("17 * * * *")
@task
def prune_task_results() -> int:
    """Keep the task table small: finished rows older than BIBID_TASK_RESULTS_KEEP_DAYS go."""
    return prune_finished_results()
