"""Changes to login accounts. Each one: in a transaction, validate, write, record an event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from bibid.common import clock

from .actors import Actor
from .models import Account, AccountEvent
from .signals import accounts_deleting


def record_event(
    *, account: Account, kind: str, actor: Actor, data: dict | None = None
) -> AccountEvent:
    """Append one event to the account's audit trail."""
    return AccountEvent.objects.create(
        at=clock.now(),
        account_id=account.pk,
        account_public_id=account.public_id,
        username=account.username,
        kind=kind,
        actor=str(actor),
        data={**(data or {}), **({"by": actor.by} if actor.by else {})},
    )


@transaction.atomic
def create_account(
    *,
    username: str,
    actor: Actor,
    recovery_email: str = "",
    password: str | None = None,
    active: bool = False,
) -> Account:
    """Create a login account; inactive (awaiting activation) unless `active` is given."""
    now = clock.now()
    account = Account(
        username=username,
        recovery_email=recovery_email,
        created_at=now,
        state=Account.State.ACTIVE if active else Account.State.INACTIVE,
        activated_at=now if active else None,
    )
    if password:
        account.set_password(password)
    else:
        account.set_unusable_password()
    account.full_clean(exclude=["password"])
    account.save()
    record_event(
        account=account, kind=AccountEvent.Kind.CREATED, actor=actor, data={"state": account.state}
    )
    return account


@transaction.atomic
def activate_account(*, account: Account, actor: Actor) -> bool:
    """Make an inactive account active; returns False when it already was."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if locked.state == Account.State.ACTIVE:
        return False
    locked.state = Account.State.ACTIVE
    locked.activated_at = clock.now()
    locked.save(update_fields=["state", "activated_at"])
    record_event(account=locked, kind=AccountEvent.Kind.ACTIVATED, actor=actor)
    account.state, account.activated_at = locked.state, locked.activated_at
    return True


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    found: int
    deleted: int
    dry_run: bool


def inactive_cutoff(now: datetime | None = None) -> datetime:
    hours = settings.BIBID_INACTIVE_ACCOUNT_TTL_HOURS
    return (now or clock.now()) - timedelta(hours=hours)


def purge_inactive_accounts(
    *,
    actor: Actor,
    batch_size: int = 500,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Delete inactive accounts older than the activation window, in small batches.

    Each batch is its own short transaction, so sign-ins (which write to the same database)
    wait at most one batch. An account activated between the scan and the delete is left
    alone: the delete re-checks state and age on the locked rows. Every deletion leaves a
    tombstone event that libraries will read from the change feed.
    """
    cutoff = inactive_cutoff()
    candidates = Account.objects.filter(state=Account.State.INACTIVE, created_at__lt=cutoff)
    found = candidates.count()
    if dry_run:
        return PurgeReport(cutoff=cutoff, found=found, deleted=0, dry_run=True)
    deleted = 0
    while True:
        with transaction.atomic():
            # Oldest first, in the order of the (state, created_at) index: a batch reads its
            # 500 index entries. Ordered by primary key, PostgreSQL walked the key through
            # every active account for each batch (1.4 ms against 135 ms with a million).
            batch = list(
                candidates.select_for_update(skip_locked=True)
                .order_by("created_at", "pk")
                .values("pk", "public_id", "username", "created_at")[:batch_size]
            )
            if not batch:
                break
            now = clock.now()
            AccountEvent.objects.bulk_create(
                AccountEvent(
                    at=now,
                    account_id=row["pk"],
                    account_public_id=row["public_id"],
                    username=row["username"],
                    kind=AccountEvent.Kind.PURGED,
                    actor=str(actor),
                    data={"created_at": row["created_at"].isoformat()},
                )
                for row in batch
            )
            doomed = list(Account.objects.filter(pk__in=[row["pk"] for row in batch]))
            accounts_deleting.send(sender=Account, accounts=doomed, reason="purged")
            Account.objects.filter(pk__in=[row["pk"] for row in batch]).delete()
        deleted += len(batch)
        if progress:
            progress(len(batch))
    return PurgeReport(cutoff=cutoff, found=found, deleted=deleted, dry_run=False)


@transaction.atomic
def update_account(*, account: Account, actor: Actor, changed: list[str]) -> None:
    """Save an operator's edit of an account and record what changed (never the password)."""
    if not changed:
        return
    before = Account.objects.filter(pk=account.pk).values(*changed).first() or {}
    account.save()
    record_event(
        account=account,
        kind=AccountEvent.Kind.UPDATED,
        actor=actor,
        data={
            "changed": {
                field: [str(before.get(field, "")), str(getattr(account, field))]
                for field in changed
            }
        },
    )


@transaction.atomic
def delete_account(*, account: Account, actor: Actor, reason: str) -> None:
    """Delete an account for good; the tombstone event stays for the libraries' feed."""
    record_event(
        account=account, kind=AccountEvent.Kind.DELETED, actor=actor, data={"reason": reason}
    )
    accounts_deleting.send(sender=Account, accounts=[account], reason="deleted")
    account.delete()
