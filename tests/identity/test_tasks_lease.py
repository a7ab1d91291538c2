"""Task leases and pruning (bibid.common.tasks), on the real database queue of django-tasks-db."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.tasks import task
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from bibid.common import tasks as upkeep

pytestmark = pytest.mark.django_db(transaction=True)

RUNS: list[str] = []


@task
def count_a_run(label: str) -> str:
    RUNS.append(label)
    return label


@pytest.fixture(autouse=True)
def _database_queue(settings):
    # The conftest runs tasks in-line; these tests are about the database queue itself.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.BIBID_TASK_LEASE_SECONDS = 60
    settings.BIBID_TASK_RESULTS_KEEP_DAYS = 1
    RUNS.clear()


def _claimed(label: str, *, running_for: timedelta) -> DBTaskResult:
    """A task a worker claimed `running_for` ago and never finished (its worker died)."""
    result = count_a_run.enqueue(label)
    row = DBTaskResult.objects.get(pk=result.id)
    row.claim("worker-that-died")
    DBTaskResult.objects.filter(pk=row.pk).update(started_at=timezone.now() - running_for)
    return row


def _drain() -> None:
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


def test_a_task_past_its_lease_goes_back_to_the_queue_and_runs_once(caplog):
    stale = _claimed("stale", running_for=timedelta(seconds=61))
    fresh = _claimed("fresh", running_for=timedelta(seconds=30))

    requeued = upkeep.requeue_expired_leases()

    assert requeued == [str(stale.pk)]
    assert DBTaskResult.objects.get(pk=stale.pk).status == TaskResultStatus.READY
    assert DBTaskResult.objects.get(pk=fresh.pk).status == TaskResultStatus.RUNNING
    assert "past its lease of 60 s" in caplog.text and str(stale.pk) in caplog.text

    _drain()

    assert RUNS == ["stale"]  # the requeued task ran, once; the fresh one is still "running"
    done = DBTaskResult.objects.get(pk=stale.pk)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == "stale"
    assert done.worker_ids == ["worker-that-died", "test-worker"]
    assert upkeep.requeue_expired_leases() == []  # nothing is requeued twice


def test_the_lease_comes_from_the_setting(settings):
    settings.BIBID_TASK_LEASE_SECONDS = 3600
    _claimed("long", running_for=timedelta(minutes=30))
    assert upkeep.requeue_expired_leases() == []
    settings.BIBID_TASK_LEASE_SECONDS = 600
    assert len(upkeep.requeue_expired_leases()) == 1


def test_the_scheduled_job_counts_what_it_requeued():
    _claimed("a", running_for=timedelta(minutes=5))
    _claimed("b", running_for=timedelta(minutes=5))
    assert upkeep.requeue_expired.call() == 2
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 2


def test_old_finished_rows_go_recent_and_unfinished_ones_stay():
    old = timezone.now() - timedelta(days=1, hours=1)
    recent = timezone.now() - timedelta(hours=23)
    rows = {}
    for name, status, finished in [
        ("old-ok", TaskResultStatus.SUCCESSFUL, old),
        ("old-failed", TaskResultStatus.FAILED, old),
        ("recent-ok", TaskResultStatus.SUCCESSFUL, recent),
        ("waiting", TaskResultStatus.READY, None),
        ("running", TaskResultStatus.RUNNING, None),
    ]:
        result = count_a_run.enqueue(name)
        DBTaskResult.objects.filter(pk=result.id).update(
            status=status, finished_at=finished, enqueued_at=old
        )
        rows[name] = result.id

    left = upkeep.prune_task_results.call()

    kept = set(DBTaskResult.objects.values_list("args_kwargs__args__0", flat=True))
    assert kept == {"recent-ok", "waiting", "running"}
    assert left == 3


def test_the_scheduler_of_this_service_loads_the_upkeep():
    assert_scheduled()


def assert_scheduled() -> None:
    """crontask's scheduler imports the `tasks` module of every installed app; bibid.common
    must be one of them in each service, or the lease and pruning jobs never run there."""
    import io

    from crontask import scheduler
    from crontask.management.commands.crontask import Command

    out = io.StringIO()
    Command(stdout=out).load_tasks({})
    assert "bibid.common." in out.getvalue()
    names = {job.name for job in scheduler.get_jobs()}
    assert {"requeue_expired", "prune_task_results"} <= names
