"""Following the login service's changes feed: deleted, renamed, linked and unlinked accounts.

The feed is the login service's word on this library's links, in order. Besides telling the
library what patrons did (deleted an account, changed a username), it repairs what the
library missed: a link made or removed by a request whose answer never arrived
(`link_created`, `link_removed`). Each repair is counted (`follow` returns the changes seen;
the audit trail and the metrics say which ones repaired a difference).
"""

from __future__ import annotations

from uuid import UUID

from django.db import transaction

from bibid.common import metrics
from bibid.library.customers.models import Customer
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor
from bibid.library.subscriptions.models import Membership, Subscription
from bibid.library.tenants.models import Library

from .identity import IdentityClient
from .links import forget_link, remember_link, rename_link
from .pushes import request_push

SYSTEM = Actor.system("feed")


def apply_change(library: Library, change: dict) -> None:
    """Bring the local link in line with one change (idempotent: a change seen twice is
    harmless)."""
    account_id = UUID(str(change["account_id"]))
    if change["kind"] == "link_created":
        _linked(library, change, account_id)
        return
    customers = Customer.objects.filter(
        library=library, card_number=change["customer_ref"], account_id=account_id
    )
    customer = customers.first()
    if customer is None:
        return
    pending = Subscription.objects.filter(
        memberships__customer=customer, status=Subscription.Status.PENDING
    )
    if change["kind"] in ("account_deleted", "link_removed"):
        if (
            change["kind"] == "link_removed"
            and change["data"].get("reason") == "unlinked_by_library"
        ):
            metrics.REPAIRS.labels(via="feed", kind="link_removed").inc()
        forget_link(customer)
        if change["data"].get("reason") == "purged":
            # A self-service sign-up whose account was never activated: the membership
            # says so (the seed's "Inactief inlogaccount").
            pending.update(status=Subscription.Status.LAPSED)
    elif change["kind"] == "username_changed":
        rename_link(customer, change["data"].get("username", ""))
    elif change["kind"] == "account_activated":
        ids = list(pending.values_list("pk", flat=True))
        if ids:
            Subscription.objects.filter(pk__in=ids).update(status=Subscription.Status.ACTIVE)
            request_push(
                Membership.objects.filter(subscription_id__in=ids).values_list(
                    "customer_id", flat=True
                )
            )
    detail = {"change": change["id"], **change.get("data", {})}
    if customer.is_private:
        # The audit trail is read by every role: a colleague's (new) username stays out.
        detail = {k: v for k, v in detail.items() if k not in ("username", "customer")}
    audit.record(
        actor=SYSTEM, action=f"feed_{change['kind']}", customer=customer, result="ok", detail=detail
    )


def _linked(library: Library, change: dict, account_id: UUID) -> None:
    """identity linked this account to the customer. Usually the library knows already (it
    asked); if not, the answer was lost (a timeout) and the link is repaired here. Later
    changes in the feed (an unlink, another link) come after this one, so applying each in
    order ends in identity's state."""
    customer = Customer.objects.filter(library=library, card_number=change["customer_ref"]).first()
    if customer is None or customer.account_id == account_id:
        return
    remember_link(
        customer, {"account_id": account_id, "username": change["data"].get("username", "")}
    )
    request_push([customer.pk])
    metrics.REPAIRS.labels(via="feed", kind="link_created").inc()
    detail = {"change": change["id"], "repaired": True}
    if not customer.is_private:
        detail["username"] = change["data"].get("username", "")
    audit.record(
        actor=SYSTEM, action="feed_link_created", customer=customer, result="ok", detail=detail
    )


def follow(library: Library, *, client: IdentityClient | None = None) -> int:
    """Read everything after the stored cursor, page by page; the cursor moves with each
    page's changes in one transaction, so a crash in between repeats at most a page."""
    client = client or IdentityClient.for_library(library)
    seen = 0
    while True:
        page = client.changes_list(after=library.changes_cursor)
        with transaction.atomic():
            for change in page["changes"]:
                apply_change(library, change)
            Library.objects.filter(pk=library.pk).update(changes_cursor=page["next_after"])
        library.changes_cursor = page["next_after"]
        seen += len(page["changes"])
        if not page["more"]:
            return seen
