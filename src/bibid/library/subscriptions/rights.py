"""What the library pushes to the login service for a customer: data and rights."""

from __future__ import annotations

from datetime import date

from bibid.common import clock
from bibid.library.customers.models import Customer

from .models import Membership, Subscription


def current_membership(customer: Customer, on: date | None = None) -> Membership | None:
    """The membership that counts today: a running subscription; the latest if several."""
    day = on or clock.today()
    memberships = [
        m
        for m in customer.memberships.all()
        if m.subscription.status == Subscription.Status.ACTIVE
        and m.subscription.start <= day <= m.subscription.end
    ]
    return max(memberships, key=lambda m: m.subscription.end, default=None)


def latest_membership(customer: Customer) -> Membership | None:
    return max(customer.memberships.all(), key=lambda m: m.subscription.end, default=None)


def authorization_for(customer: Customer, on: date | None = None) -> dict:
    """The push for one customer: customer data and the rights of their current subscription,
    each right valid until the subscription ends. A customer without a running subscription
    has no rights (the identity service then has nothing valid to give)."""
    membership = current_membership(customer, on) or latest_membership(customer)
    data = {
        "name": customer.name,
        "birth_date": customer.birth_date.isoformat(),
        "card_number": customer.card_number,
    }
    rights: list[dict] = []
    if membership is not None:
        subscription = membership.subscription
        data["subscription_type"] = subscription.type.name
        data["subscription_end"] = subscription.end.isoformat()
        if subscription.is_current(on):
            for right in subscription.type.rights_for(membership.role):
                rights.append(
                    {
                        "code": right["code"],
                        "valid_from": subscription.start.isoformat(),
                        "valid_until": subscription.end.isoformat(),
                        "limits": dict(right.get("limits") or {}),
                    }
                )
    return {"customer": data, "rights": rights}
