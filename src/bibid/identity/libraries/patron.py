"""What the patron can do about libraries: withdraw a link, undo a library's change of the
recovery address ("Dit was ik niet"), and allow library changes again after that.

The principle (docs/security/library-api-rules.md): a library acts only on accounts the patron
gave it, and the patron sees and can undo what a library did.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import record_event
from bibid.identity.accounts.tokens import TokenError, undo_event

from .models import Change, Link

# A library's new recovery address gets no reset link until the patron confirms it or this
# long has passed without a "Dit was ik niet" from the previous address.
UNCONFIRMED_GRACE = timedelta(hours=24)


@transaction.atomic
def withdraw_link(*, account: Account, link_id: int) -> Link:
    """The patron takes a library's link away: the library hears it on its feed, and the
    rights it pushed stop counting at once (they lived on the link)."""
    link = (
        Link.objects.select_for_update()
        .select_related("library")
        .filter(pk=link_id, account=account)
        .first()
    )
    if link is None:
        raise Problem(404, "not_linked", _("Deze koppeling bestaat niet."))
    Change.objects.create(
        library_id=link.library_id,
        kind=Change.Kind.LINK_REMOVED,
        customer_ref=link.customer_ref,
        account_public_id=account.public_id,
        data={"by": "patron", "reason": "unlinked_by_patron"},
    )
    record_event(
        account=account,
        kind=AccountEvent.Kind.UNLINKED,
        actor=Actor.patron(account),
        data={
            "library": link.library.code,
            "customer": link.customer_ref,
            "via": "withdrawn by patron",
        },
    )
    link.delete()
    return link


@transaction.atomic
def lift_freeze(*, account: Account) -> bool:
    """Allow libraries to change the account again (after "Dit was ik niet")."""
    if account.library_changes_frozen_at is None:
        return False
    Account.objects.filter(pk=account.pk).update(library_changes_frozen_at=None)
    account.library_changes_frozen_at = None
    record_event(account=account, kind=AccountEvent.Kind.FREEZE_LIFTED, actor=Actor.patron(account))
    return True


def refuse_if_frozen(account: Account) -> None:
    if account.library_changes_frozen_at is not None:
        raise Problem(
            423,
            "frozen_by_patron",
            _(
                "De klant heeft wijzigingen door bibliotheken aan dit inlogaccount "
                "geblokkeerd. De klant kan dat zelf weer toestaan in Mijn "
                "inlogaccount."
            ),
        )


def pending_library_address(account: Account) -> bool:
    """Is the recovery address one a library set recently, not yet confirmed by the patron?"""
    return (
        account.recovery_email_confirmed_at is None
        and account.recovery_email_set_at is not None
        and clock.now() - account.recovery_email_set_at < UNCONFIRMED_GRACE
    )


def reset_address(account: Account) -> str:
    """Where a password reset link may go: never to an address a library set less than 24
    hours ago that the patron has not confirmed (then the previous, confirmed one, or none).
    """
    if pending_library_address(account):
        return account.previous_recovery_email
    return account.recovery_email


# -- "Dit was ik niet" ---------------------------------------------------------------------


def check_undo(token: str) -> tuple[Account, dict]:
    """What the link would undo (for the page's GET, which changes nothing)."""
    account, event = undo_event(token)
    return account, {
        "at": event.at,
        "library": event.data.get("library_name") or event.data.get("library", ""),
        "previous": event.data["previous"],
    }


@transaction.atomic
def undo_library_change(*, token: str) -> Account:
    """Put the previous recovery address back and freeze library changes to the account."""
    account, event = undo_event(token)
    account = Account.objects.select_for_update().get(pk=account.pk)
    event = AccountEvent.objects.select_for_update().get(pk=event.pk)
    if event.data.get("undone"):
        raise TokenError("used")
    now = clock.now()
    replaced = account.recovery_email
    account.recovery_email = event.data["previous"]
    account.recovery_email_confirmed_at = now  # it was confirmed, and the link reached it
    account.recovery_email_set_by = "patron"
    account.recovery_email_set_at = None
    account.previous_recovery_email = ""
    account.library_changes_frozen_at = now
    account.save(
        update_fields=[
            "recovery_email",
            "recovery_email_confirmed_at",
            "recovery_email_set_by",
            "recovery_email_set_at",
            "previous_recovery_email",
            "library_changes_frozen_at",
        ]
    )
    event.data = {**event.data, "undone": now.isoformat()}
    event.save(update_fields=["data"])
    record_event(
        account=account,
        kind=AccountEvent.Kind.CHANGE_UNDONE,
        actor=Actor.patron(account),
        data={
            "library": event.data.get("library", ""),
            "event": event.pk,
            "removed": replaced,
            "frozen": True,
        },
    )
    return account
