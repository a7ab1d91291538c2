"""The task-queue upkeep (leases, pruning) is scheduled in this service too; its behaviour is
tested once, in tests/identity/test_tasks_lease.py (bibid.common.tasks is shared)."""

import pytest


@pytest.mark.django_db
def test_the_scheduler_of_this_service_loads_the_upkeep():
    import io

    from crontask import scheduler
    from crontask.management.commands.crontask import Command

    out = io.StringIO()
    Command(stdout=out).load_tasks({})
    assert "bibid.common." in out.getvalue()
    names = {job.name for job in scheduler.get_jobs()}
    assert {"requeue_expired", "prune_task_results"} <= names
