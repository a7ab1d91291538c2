"""Self-service lid worden: customer, pending subscription and login account in one go.

The visitor always gets the same answer ("check your e-mail"): when the chosen username is
taken, the login service uses the card number instead and the activation e-mail says which
name to use; nothing on the page tells whether a name or an address exists. The
subscription waits ("pending") until the patron activates the account; if that does not
happen within 24 hours, the login service deletes the account and the changes feed turns
the subscription into "lapsed" (not activated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.guard import lanes as guard
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.customers.services import next_card_number
from bibid.library.loginaccounts.identity import (
    IdentityClient,
    IdentityProblem,
    IdentityUnavailable,
)
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.subscriptions.services import default_end
from bibid.library.tenants.models import Library

SIGNUPS_PER_NETWORK = guard.Policy("signup", free=1000, max_delay=60, cap=10)
SYSTEM = Actor.system("signup")


@dataclass(frozen=True)
class Application:
    name: str
    birth_date: date
    email: str
    type: SubscriptionType
    username: str | None
    language: str = "nl"


def types_for_signup(library: Library) -> list[SubscriptionType]:
    return list(library.subscription_types.filter(active=True, family=False).order_by("price"))


def sign_up(*, library: Library, application: Application, ip: str) -> Customer:
    if not library.allows(Library.Flow.SIGNUP):
        raise Problem(404, "signup_off", _("Deze bibliotheek heeft geen online aanmelding."))
    lane = guard.network_lane(SIGNUPS_PER_NETWORK, ip)
    if guard.reserve([lane]) is not None:
        raise Problem(429, "too_many_signups", _("Er zijn vanaf dit netwerk te veel aanmeldingen "
                                                  "gedaan. Probeer het later opnieuw of kom langs "
                                                  "in de bibliotheek."))
    today = clock.today()
    age = today.year - application.birth_date.year - (
        (today.month, today.day) < (application.birth_date.month, application.birth_date.day))
    type_ = application.type
    if (type_.min_age is not None and age < type_.min_age) or \
            (type_.max_age is not None and age > type_.max_age):
        raise Problem(400, "age_does_not_fit", _("Dit abonnement past niet bij je leeftijd."),
                      field="subscription_type")
    with transaction.atomic():
        customer = Customer.objects.create(
            library=library, card_number=next_card_number(library), name=application.name,
            birth_date=application.birth_date, email=application.email)
        subscription = Subscription.objects.create(
            library=library, type=type_, start=today, end=default_end(today),
            status=Subscription.Status.PENDING)
        Membership.objects.create(subscription=subscription, customer=customer,
                                  role=Membership.Role.MAIN)
        try:
            answer = IdentityClient.for_library(library).account_generate(
                customer.card_number, username=application.username,
                recovery_email=application.email, language=application.language,
                if_username_taken="use_reference")
        except IdentityUnavailable as error:
            transaction.set_rollback(True)
            raise Problem(503, "identity_unavailable", _(
                "Aanmelden lukt nu even niet. Probeer het over een paar minuten opnieuw.")
            ) from error
        except IdentityProblem as problem:
            transaction.set_rollback(True)
            raise Problem(400, problem.code, problem.message(), messages=problem.messages,
                          field="username" if "username" in problem.code else None) from problem
        account = answer["account"]
        Customer.objects.filter(pk=customer.pk).update(
            account_id=account["account_id"], account_username=account["username"],
            account_linked_at=clock.now())
        audit.record(actor=SYSTEM, action="self_service_signup", customer=customer,
                     result="ok", detail={"type": type_.code,
                                          "username_was_taken": answer["username_was_taken"]})
    return customer
