"""Inactive accounts are deleted 24 hours after creation, in batches, each leaving a tombstone."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command

from bibid.identity.accounts import tasks
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import activate_account, purge_inactive_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def population(make_account, clock):
    """Five old inactive accounts, one young inactive, one old active."""
    old = [make_account(f"old.inactive{i}", password=None, active=False) for i in range(5)]
    old_active = make_account("old.active")
    clock.advance(hours=23)
    young = make_account("young.inactive", password=None, active=False)
    clock.advance(hours=1, seconds=1)  # the old ones are now 24 h + 1 s old
    return old, young, old_active


def test_only_inactive_accounts_older_than_a_day_are_deleted(population):
    old, _young, _old_active = population
    report = purge_inactive_accounts(actor=Actor.system("test"), batch_size=2)
    assert (report.found, report.deleted) == (5, 5)
    assert set(Account.objects.values_list("username", flat=True)) == {
        "young.inactive",
        "old.active",
    }
    tombstones = AccountEvent.objects.filter(kind=AccountEvent.Kind.PURGED)
    assert sorted(tombstones.values_list("username", flat=True)) == sorted(a.username for a in old)
    assert {e.account_public_id for e in tombstones} == {a.public_id for a in old}


def test_dry_run_changes_nothing(population):
    report = purge_inactive_accounts(actor=Actor.system("test"), dry_run=True)
    assert (report.found, report.deleted, report.dry_run) == (5, 0, True)
    assert Account.objects.count() == 7


def test_an_activated_account_is_not_purged(population, clock):
    old, _, _ = population
    activate_account(account=old[0], actor=Actor.system("desk"))
    purge_inactive_accounts(actor=Actor.system("test"))
    assert Account.objects.filter(pk=old[0].pk).exists()


def test_batches_report_progress(population):
    seen: list[int] = []
    purge_inactive_accounts(actor=Actor.system("test"), batch_size=2, progress=seen.append)
    assert seen == [2, 2, 1]


def test_batches_take_the_oldest_first_whatever_the_order_of_creation(population):
    """Batches follow the (state, created_at) index, not the primary key (ordered by key,
    PostgreSQL walked every active account for each batch; bench/scale.py)."""
    old, _young, _old_active = population
    for age, account in enumerate(old):  # the last one made is the oldest
        Account.objects.filter(pk=account.pk).update(
            created_at=account.created_at - timedelta(minutes=age)
        )
    left: list[set[str]] = []

    def after_batch(_count: int) -> None:
        left.append(
            set(Account.objects.filter(state="inactive").values_list("username", flat=True))
        )

    purge_inactive_accounts(actor=Actor.system("test"), batch_size=2, progress=after_batch)
    names = [a.username for a in old]
    assert left[0] == {*names[:3], "young.inactive"}
    assert left[1] == {names[0], "young.inactive"}


def test_command_dry_run_and_real_run(population):
    out = io.StringIO()
    call_command("purge_inactive", "--dry-run", stdout=out)
    assert "5 inactive account(s)" in out.getvalue() and "dry run" in out.getvalue()
    assert Account.objects.count() == 7
    out = io.StringIO()
    call_command("purge_inactive", "--batch-size", "3", "--no-progress", stdout=out)
    assert "5 inactive account(s)" in out.getvalue() and "deleted" in out.getvalue()
    assert Account.objects.count() == 2


def test_command_with_its_progress_bar(population):
    """The operator's default run (no --no-progress): a bar without a total, and it ends."""
    out, err = io.StringIO(), io.StringIO()
    call_command("purge_inactive", "--batch-size", "2", stdout=out, stderr=err)
    assert "5 inactive account(s)" in out.getvalue()
    assert "purging: 5account" in err.getvalue()
    assert Account.objects.filter(state=Account.State.INACTIVE).count() == 1


def test_command_refuses_a_nonsense_batch_size(population):
    with pytest.raises(SystemExit):
        call_command("purge_inactive", "--batch-size", "0", stderr=io.StringIO())
    assert Account.objects.count() == 7


def test_the_periodic_task_purges(population):
    assert tasks.purge_inactive.call() == 5


def test_the_periodic_task_is_scheduled_every_five_minutes():
    from crontask import scheduler

    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert "purge_inactive" in jobs
    trigger = str(jobs["purge_inactive"].trigger)
    assert "minute='*/5'" in trigger


def test_purge_after_exactly_24_hours_not_before(make_account, clock):
    account = make_account("edge.case", password=None, active=False)
    clock.advance(hours=24, seconds=-1)
    purge_inactive_accounts(actor=Actor.system("test"))
    assert Account.objects.filter(pk=account.pk).exists()
    clock.advance(seconds=2)
    purge_inactive_accounts(actor=Actor.system("test"))
    assert not Account.objects.filter(pk=account.pk).exists()
