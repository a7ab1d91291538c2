"""Balie: lid worden. A new customer (and family) with a subscription at the desk, and, with
"Gebruik inlogaccount" ticked, a login account generated at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction

from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.customers.services import CustomerData, create_customer
from bibid.library.loginaccounts import services as login
from bibid.library.staff.permissions import Actor, Perm, require
from bibid.library.subscriptions.models import SubscriptionType
from bibid.library.subscriptions.services import create_subscription


@dataclass(frozen=True)
class NewMember:
    data: CustomerData
    role: str  # "partner" | "child"
    login_account: bool = False


@dataclass(frozen=True)
class NewRegistration:
    main: CustomerData
    type: SubscriptionType
    start: date | None = None
    members: tuple[NewMember, ...] = ()
    login_account: bool = True
    username: str | None = None
    recovery_email: str | None = None
    activate_now: bool = False
    language: str = "nl"


@dataclass
class Registered:
    customers: list[Customer]
    login: list[tuple[Customer, str, bool]] = field(default_factory=list)  # (who, text, ok)


def register(*, actor: Actor, registration: NewRegistration) -> Registered:
    """Inscribe, sell the subscription, then generate (and maybe activate) login accounts.

    The membership is the library's own and is kept even when the login service cannot be
    reached: the answer then says so, and the account can be generated later from the menu.
    """
    require(actor, Perm.REGISTER)
    with transaction.atomic():
        main = create_customer(actor=actor, data=registration.main)
        members = [(create_customer(actor=actor, data=m.data), m) for m in registration.members]
        create_subscription(
            actor=actor,
            type_=registration.type,
            main=main,
            members=[(c, m.role) for c, m in members],
            start=registration.start,
        )
    done = Registered(customers=[main, *(c for c, _m in members)])
    wanted = []
    if registration.login_account:
        wanted.append((main, registration.username, registration.recovery_email))
    wanted += [(c, None, None) for c, m in members if m.login_account]
    for customer, username, email in wanted:
        try:
            outcome = login.generate(
                actor=actor,
                customer=customer,
                username=username,
                recovery_email=email,
                language=registration.language,
            )
            done.login.append((customer, outcome.summary, True))
            if registration.activate_now and customer is main:
                activated = login.activate(actor=actor, customer=customer)
                done.login.append((customer, activated.summary, True))
        except Problem as problem:
            done.login.append((customer, problem.text(registration.language), False))
    return done
