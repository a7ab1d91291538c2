"""Subscriptions: sell, change, end. Every change queues a push of the members' rights
(customers.signals.authorization_changed, in the change's transaction)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.customers.signals import authorization_changed
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor, Perm, require

from .models import Membership, Subscription, SubscriptionType


def _same_library(actor: Actor, *objects) -> None:
    if actor.staff is None:
        return
    for obj in objects:
        if obj.library_id != actor.staff.library_id:
            raise Problem(404, "not_found", _("Niet gevonden."))


def _check_age(type_: SubscriptionType, customer: Customer, role: str, on: date) -> None:
    if role == Membership.Role.CHILD:
        return  # children on a family subscription follow the family's terms
    age = customer.age_on(on)
    if type_.min_age is not None and age < type_.min_age:
        raise Problem(
            400,
            "too_young",
            _("%(name)s is te jong voor %(type)s."),
            field="subscription_type",
            extra={"name": customer.name, "type": type_.name},
        )
    if type_.max_age is not None and age > type_.max_age:
        raise Problem(
            400,
            "too_old",
            _("%(name)s is te oud voor %(type)s."),
            field="subscription_type",
            extra={"name": customer.name, "type": type_.name},
        )


def default_end(start: date) -> date:
    """A subscription sold without an end date runs 365 days, the start day included: the
    same at the desk and online, and on 29 February too."""
    return start + timedelta(days=364)


@transaction.atomic
def create_subscription(
    *,
    actor: Actor,
    type_: SubscriptionType,
    main: Customer,
    members: list[tuple[Customer, str]] = (),
    start: date | None = None,
    end: date | None = None,
) -> Subscription:
    """Sell a subscription to `main`, with family members (partner, children) if it allows."""
    require(actor, Perm.EDIT_SUBSCRIPTION)
    _same_library(actor, type_, main, *(c for c, _role in members))
    if not type_.active:
        raise Problem(400, "type_not_for_sale", _("Dit abonnement wordt niet meer verkocht."))
    if members and not type_.family:
        raise Problem(
            400,
            "not_a_family_subscription",
            _("Bij dit abonnement horen geen gezinsleden."),
            field="subscription_type",
        )
    start = start or clock.today()
    end = end or default_end(start)
    if end < start:
        raise Problem(400, "end_before_start", _("De einddatum ligt voor de ingangsdatum."))
    _check_age(type_, main, Membership.Role.MAIN, start)
    for customer, role in members:
        _check_age(type_, customer, role, start)
    subscription = Subscription.objects.create(
        library=main.library, type=type_, start=start, end=end
    )
    Membership.objects.create(subscription=subscription, customer=main, role=Membership.Role.MAIN)
    for customer, role in members:
        Membership.objects.create(subscription=subscription, customer=customer, role=role)
    authorization_changed.send(
        sender=Subscription, customer_ids=[main.pk, *(c.pk for c, _role in members)]
    )
    audit.record(
        actor=actor,
        action="subscription_create",
        customer=main,
        result="ok",
        detail={
            "type": type_.code,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "members": [c.card_number for c, _role in members],
        },
    )
    return subscription


@transaction.atomic
def update_subscription(
    *,
    actor: Actor,
    subscription: Subscription,
    type_: SubscriptionType | None = None,
    end: date | None = None,
    status: str | None = None,
) -> Subscription:
    """Change the type, end date or status; every member's rights are pushed again."""
    require(actor, Perm.EDIT_SUBSCRIPTION)
    _same_library(actor, subscription, *([type_] if type_ else []))
    changed = {}
    if type_ is not None and type_.pk != subscription.type_id:
        if (
            subscription.memberships.exclude(role=Membership.Role.MAIN).exists()
            and not type_.family
        ):
            raise Problem(
                400,
                "not_a_family_subscription",
                _("Dit abonnement heeft gezinsleden; kies een gezinsabonnement."),
            )
        changed["type"] = type_.code
        subscription.type = type_
    if end is not None and end != subscription.end:
        if end < subscription.start:
            raise Problem(400, "end_before_start", _("De einddatum ligt voor de ingangsdatum."))
        changed["end"] = end.isoformat()
        subscription.end = end
    if status is not None and status != subscription.status:
        if status not in Subscription.Status.values:
            raise Problem(400, "unknown_status", _("Onbekende status."), field="status")
        changed["status"] = status
        subscription.status = status
    if changed:
        subscription.updated_at = clock.now()
        subscription.save()
        authorization_changed.send(
            sender=Subscription,
            customer_ids=list(subscription.memberships.values_list("customer_id", flat=True)),
        )
    main = subscription.memberships.filter(role=Membership.Role.MAIN).first()
    audit.record(
        actor=actor,
        action="subscription_update",
        customer=main.customer if main else None,
        library=subscription.library,
        result="ok",
        detail={"subscription": subscription.pk, **changed},
    )
    return subscription
