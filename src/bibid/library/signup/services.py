"""Self-service lid worden: customer, pending subscription and login account.

No oracle: the form asks no username, so the page and the activation e-mail read the same for
everyone (the account starts with the card number as its username; the patron may choose
another on the activation page, after the link has proved the address). Nothing on the page
tells whether a name or an address exists.

No call to the login service inside a database transaction (a slow login service would hold
the transaction, and its locks, for the length of the timeout; and a rollback cannot take back
what the other service did). Three steps instead:

1. one transaction: the customer, a pending subscription and the membership; committed;
2. no transaction: the login service generates the account, with an Idempotency-Key derived
   from the customer, so the one retry after a lost answer gets the same account back
   instead of a second one;
3. one transaction: the link is remembered (loginaccounts.links), and the audit record.

When the login service cannot be reached or refuses, the half-made customer is deleted again
in a compensating transaction (nothing was sent to the visitor, no card was handed out, and a
customer nobody knows about would only confuse the desk); the visitor gets "try again later".

When the answer was lost twice (identity was slow: the account may have been made and the
activation mail sent), the library does not guess either way: the customer stays, the request
is recorded as unconfirmed (loginaccounts.unconfirmed) and sent again with the same key until
identity answers; then the link is remembered (it was made) or the customer is taken back
(it was not). The visitor is told exactly that: an activation mail follows if it worked.

The subscription waits ("pending") until the patron activates the account; if that does not
happen within 24 hours, the login service deletes the account and the changes feed turns the
subscription into "lapsed" (not activated).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.guard import lanes as guard
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.customers.services import next_card_number
from bibid.library.loginaccounts import unconfirmed
from bibid.library.loginaccounts.identity import (
    IdentityClient,
    IdentityError,
    IdentityProblem,
    IdentityUnavailable,
)
from bibid.library.loginaccounts.links import remember_link
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.subscriptions.services import default_end
from bibid.library.tenants.models import Library

log = logging.getLogger(__name__)
SIGNUPS_PER_NETWORK = guard.Policy("signup", free=1000, max_delay=60, cap=10)
SYSTEM = Actor.system("signup")


@dataclass(frozen=True)
class Application:
    name: str
    birth_date: date
    email: str
    type: SubscriptionType
    language: str = "nl"


UNAVAILABLE = _("Aanmelden lukt nu even niet. Probeer het over een paar minuten opnieuw.")
UNCONFIRMED = _(
    "Je aanmelding is nog niet bevestigd: het duurt even. Lukt het, dan krijg je "
    "binnen een paar minuten een e-mail om je inlogaccount te activeren. Krijg je "
    "binnen een uur geen e-mail, meld je dan opnieuw aan of kom langs in de "
    "bibliotheek."
)


def types_for_signup(library: Library) -> list[SubscriptionType]:
    return list(library.subscription_types.filter(active=True, family=False).order_by("price"))


def sign_up(*, library: Library, application: Application, ip: str) -> Customer:
    if not library.allows(Library.Flow.SIGNUP):
        raise Problem(404, "signup_off", _("Deze bibliotheek heeft geen online aanmelding."))
    lane = guard.network_lane(SIGNUPS_PER_NETWORK, ip)
    if guard.reserve([lane]) is not None:
        raise Problem(
            429,
            "too_many_signups",
            _(
                "Er zijn vanaf dit netwerk te veel aanmeldingen "
                "gedaan. Probeer het later opnieuw of kom langs "
                "in de bibliotheek."
            ),
        )
    today = clock.today()
    age = (
        today.year
        - application.birth_date.year
        - ((today.month, today.day) < (application.birth_date.month, application.birth_date.day))
    )
    type_ = application.type
    if (type_.min_age is not None and age < type_.min_age) or (
        type_.max_age is not None and age > type_.max_age
    ):
        raise Problem(
            400,
            "age_does_not_fit",
            _("Dit abonnement past niet bij je leeftijd."),
            field="subscription_type",
        )
    customer = _pending_customer(library, application, today)
    try:
        account = _generate_account(library, customer, application)
    except IdentityUnavailable as error:
        if not error.uncertain:
            _forget_customer(customer)
            log.warning("self-service sign-up at %s: login service %s", library.code, error)
            raise Problem(503, "identity_unavailable", UNAVAILABLE) from error
        unconfirmed.record(customer, "signup_generate", error, None)
        audit.record(
            actor=SYSTEM,
            action="self_service_signup",
            customer=customer,
            result="unconfirmed",
            detail={"type": type_.code, "identity": error.kind},
        )
        raise Problem(504, "signup_unconfirmed", UNCONFIRMED) from error
    except IdentityError as error:
        _forget_customer(customer)
        # The visitor is told little; the operators get the cause (a refusal such as
        # card_number_not_in_range would otherwise hide behind "try again later" forever).
        log.warning(
            "self-service sign-up at %s failed at the login service: %s", library.code, error
        )
        # The same words whatever went wrong: the visitor chose nothing the login service
        # could refuse (no username), and a refusal's code would only tell an outsider more.
        raise Problem(503, "identity_unavailable", UNAVAILABLE) from error
    with transaction.atomic():
        remember_link(customer, account)
        audit.record(
            actor=SYSTEM,
            action="self_service_signup",
            customer=customer,
            result="ok",
            detail={"type": type_.code},
        )
    return customer


@transaction.atomic
def _pending_customer(library: Library, application: Application, today) -> Customer:
    customer = Customer.objects.create(
        library=library,
        card_number=next_card_number(library),
        name=application.name,
        birth_date=application.birth_date,
        email=application.email,
    )
    subscription = Subscription.objects.create(
        library=library,
        type=application.type,
        start=today,
        end=default_end(today),
        status=Subscription.Status.PENDING,
    )
    Membership.objects.create(
        subscription=subscription, customer=customer, role=Membership.Role.MAIN
    )
    return customer


def _generate_account(library: Library, customer: Customer, application: Application) -> dict:
    """Ask the login service for the account (outside any transaction). The key is the same
    for the retry: when the first answer was lost, the retry replays it rather than making a
    second account."""
    client = IdentityClient.for_library(library)
    key = f"signup:{library.code}:{customer.card_number}:{customer.pk}"
    lost: IdentityUnavailable | None = None
    for attempt in (1, 2):
        try:
            answer = client.account_generate(
                customer.card_number,
                username=None,
                recovery_email=application.email,
                language=application.language,
                idempotency_key=key,
            )
        except IdentityUnavailable as error:
            lost = error if error.uncertain else lost
            if attempt == 2:
                raise lost or error from error
        except IdentityProblem as problem:
            if problem.code != "request_in_progress":
                raise
            if attempt == 2:
                # The first request still runs at the login service: its outcome is unknown.
                raise lost or IdentityUnavailable("request_in_progress", kind="slow") from problem
        else:
            return answer["account"]
    raise AssertionError("unreachable")  # pragma: no cover


def account_confirmed(customer: Customer, account: dict) -> None:
    """An unconfirmed sign-up was carried out after all (called by loginaccounts.unconfirmed,
    inside its transaction)."""
    remember_link(customer, account)


def account_refused(customer: Customer) -> None:
    """An unconfirmed sign-up was not carried out: take the customer back, as when the
    login service answered no at once."""
    _forget_customer(customer)


@transaction.atomic
def _forget_customer(customer: Customer) -> None:
    """The compensating transaction: take back step 1 (see the module's docstring)."""
    subscriptions = Subscription.objects.filter(memberships__customer=customer)
    subscription_ids = list(subscriptions.values_list("pk", flat=True))
    Membership.objects.filter(customer=customer).delete()
    Subscription.objects.filter(pk__in=subscription_ids).delete()
    Customer.objects.filter(pk=customer.pk).delete()
