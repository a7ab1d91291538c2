"""What Mijn Menu reads: the library, the customer behind a login account, their membership.

Everything a page shows comes from one customer row and two prefetches, whatever the size of
the family. Family members reach the page only as a name and a role: a partner or a child
signed in to Mijn Menu must not see the others' card numbers, birth dates or addresses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from bibid.common import clock
from bibid.common.rp.patron import Patron
from bibid.library.customers.models import Customer
from bibid.library.customers.selectors import with_details
from bibid.library.subscriptions.models import Membership
from bibid.library.subscriptions.rights import authorization_for, current_membership
from bibid.library.tenants.models import Library

from . import texts

ROLE_ORDER = {Membership.Role.MAIN: 0, Membership.Role.PARTNER: 1, Membership.Role.CHILD: 2}


@dataclass(frozen=True)
class FamilyMember:
    """Another person on the same subscription: a name and a role, nothing else."""

    name: str
    role: str


@dataclass(frozen=True)
class SubscriptionLine:
    type_name: str
    start: date
    end: date
    state: str  # Subscription.state: active | ended | cancelled | future | pending | lapsed
    state_text: str
    role: str
    lends_online: bool
    family: tuple[FamilyMember, ...]


@dataclass(frozen=True)
class RightLine:
    code: str
    valid_until: date | None
    text: str  # "E-books: 10 per jaar, geldig tot 31-12-2026"


@dataclass(frozen=True)
class Overview:
    customer: Customer
    subscriptions: tuple[SubscriptionLine, ...]  # the newest first
    current: SubscriptionLine | None  # the one that counts today, if any
    rights: tuple[RightLine, ...]  # what the library pushes to the login service


def library_by_code(code: str) -> Library | None:
    return Library.objects.filter(code=code).first()


def customer_of_account(*, library: Library, account_id: str) -> Customer | None:
    """The customer of this library whose linked login account is `account_id`, or None."""
    try:
        account = uuid.UUID(str(account_id))
    except ValueError:
        return None
    # One actor per library has a given account; should the data ever say otherwise, the
    # oldest customer wins, the same one every time.
    return (
        with_details(Customer.objects.filter(library=library, account_id=account))
        .order_by("pk")
        .first()
    )


def _line(membership: Membership) -> SubscriptionLine:
    subscription = membership.subscription
    others = sorted(
        (m for m in subscription.memberships.all() if m.customer_id != membership.customer_id),
        key=lambda m: (ROLE_ORDER.get(m.role, 9), m.customer.name),
    )
    return SubscriptionLine(
        type_name=subscription.type.name,
        start=subscription.start,
        end=subscription.end,
        state=subscription.state,
        state_text=texts.state_text(subscription.state),
        role=str(membership.get_role_display()),
        lends_online=subscription.type.lends_online,
        family=tuple(
            FamilyMember(name=m.customer.name, role=str(m.get_role_display())) for m in others
        ),
    )


def overview(customer: Customer, *, on: date | None = None) -> Overview:
    """The patron's membership as the library has it (customer loaded by
    customer_of_account: no further queries)."""
    today = on or clock.today()
    memberships = sorted(
        customer.memberships.all(),
        key=lambda m: (m.subscription.end, m.subscription.start, m.pk),
        reverse=True,
    )
    lines = {m.pk: _line(m) for m in memberships}
    current = current_membership(customer, today)
    rights = tuple(
        RightLine(
            code=r["code"],
            valid_until=date.fromisoformat(r["valid_until"]) if r.get("valid_until") else None,
            text=texts.describe_right(r),
        )
        for r in authorization_for(customer, today)["rights"]
    )
    return Overview(
        customer=customer,
        subscriptions=tuple(lines[m.pk] for m in memberships),
        current=lines[current.pk] if current else None,
        rights=rights,
    )


def missing_at_identity(
    rights: tuple[RightLine, ...], patron: Patron, *, on: date | None = None
) -> list[RightLine]:
    """The rights this library grants that the login service does not (yet) vouch for.

    The login service holds the union over all of the account's links, so a right counts as
    known when any valid right of the same kind lasts at least as long as ours.
    """
    known = patron.rights_on(on)
    return [
        right
        for right in rights
        if not any(
            k.code == right.code
            and (
                k.valid_until is None
                or right.valid_until is None
                or k.valid_until >= right.valid_until
            )
            for k in known
        )
    ]
