"""The typed context every check reads: the library's own data about the customer, loaded
in a fixed number of queries, and identity's answer from its one status call, parsed into
typed objects at the edge (loginaccounts.status)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from bibid.common import clock
from bibid.library.customers.models import Customer
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.loginaccounts.status import Account, Status, Typed
from bibid.library.staff.models import AuditEvent
from bibid.library.subscriptions.models import Membership
from bibid.library.subscriptions.rights import (
    authorization_for,
    current_membership,
    latest_membership,
)


@dataclass(frozen=True)
class FamilyMember:
    customer_id: int
    name: str
    card_number: str
    role: str


@dataclass(frozen=True)
class Context:
    customer: Customer
    problem: str
    now: datetime
    typed_username: str | None
    allowed: bool  # False: a colleague or volunteer (the seed's LET OP); nothing else read
    status: Status | None  # identity's account_status answer (None when not allowed)
    membership: Membership | None  # the running subscription, if any
    latest: Membership | None  # the latest subscription, running or not
    family: tuple[FamilyMember, ...]  # the others on the customer's subscriptions
    purged_at: datetime | None  # identity deleted the customer's unactivated account then
    purged_username: str
    expected: dict[str, Any]  # what the library would push now (authorization_for)
    # A push of this customer's rights waits in the queue (since then, after that many tries).
    push_pending: PendingPush | None = None
    # The typed username is the account of another customer here who is a colleague or
    # volunteer (or was one today): the checks then treat it as any name not linked to this
    # customer, and never name that customer or their account.
    typed_private: bool = False

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)  # the library's day (Europe/Amsterdam)

    @property
    def linked(self) -> bool:
        return self.status is not None and self.status.linked

    @property
    def account(self) -> Account | None:
        return self.status.account if self.status is not None else None

    @property
    def typed(self) -> Typed | None:
        return self.status.typed if self.status is not None else None

    @property
    def typed_linked_here_to(self) -> str | None:
        """The other customer of this library the typed account is linked to, unless that
        is a colleague or volunteer (whose account is theirs alone to name)."""
        if self.typed_private:
            return None
        return (self.typed.linked_here_to if self.typed else None) or None

    def family_member(self, card_number: str | None) -> FamilyMember | None:
        return next((m for m in self.family if m.card_number == card_number), None)


def load(
    customer: Customer,
    *,
    problem: str,
    typed_username: str | None,
    allowed: bool,
    status: Status | None,
) -> Context:
    """Five queries whatever the customer's history: memberships with subscriptions and
    types, the other members of those subscriptions, the last purge of their account, a
    waiting push, and whether the typed account belongs to a colleague or volunteer here."""
    customer = (
        Customer.objects.filter(pk=customer.pk)
        .select_related("library")
        .prefetch_related(
            Prefetch(
                "memberships", queryset=Membership.objects.select_related("subscription__type")
            )
        )
        .get()
    )
    now = clock.now()
    subscription_ids = [m.subscription_id for m in customer.memberships.all()]
    family = (
        tuple(
            FamilyMember(m.customer_id, m.customer.name, m.customer.card_number, m.role)
            for m in Membership.objects.filter(subscription_id__in=subscription_ids)
            .exclude(customer_id=customer.pk)
            .select_related("customer")
            .order_by("customer_id")
        )
        if subscription_ids
        else ()
    )
    purge = (
        AuditEvent.objects.filter(
            customer=customer, action="feed_account_deleted", detail__reason="purged"
        )
        .order_by("-at")
        .values_list("at", "detail")
        .first()
    )
    other_ref = (status.typed.linked_here_to if status and status.typed else None) or ""
    typed_private = (
        bool(other_ref)
        and other_ref != customer.card_number
        and (
            Customer.objects.filter(library_id=customer.library_id, card_number=other_ref)
            .filter(Customer.private_q(timezone.localdate(now)))
            .exists()
        )
    )
    return Context(
        customer=customer,
        problem=problem,
        now=now,
        typed_username=typed_username,
        typed_private=typed_private,
        allowed=allowed,
        status=status,
        membership=current_membership(customer, timezone.localdate(now)),
        latest=latest_membership(customer),
        family=family,
        purged_at=purge[0] if purge else None,
        purged_username=(purge[1] or {}).get("username", "") if purge else "",
        expected=authorization_for(customer, timezone.localdate(now)),
        push_pending=PendingPush.objects.filter(customer_id=customer.pk).first(),
    )
