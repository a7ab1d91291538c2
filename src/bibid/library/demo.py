"""Demo data of the library service: two libraries, staff of every role, subscription types,
and customers in every state the seed's procedures talk about (bibid.common.demo)."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import transaction

from bibid.common import clock
from bibid.common import demo as spec
from bibid.common.mfa import services as mfa
from bibid.library.customers.models import Customer
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.staff.models import ApiToken, AuditEvent, Staff
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.tenants.models import Library

PREFIXES = {"aan-de-maas": "2010", "duinstreek": "3020"}
OPERATOR = ("beheer", "Beheer-bibliotheeksysteem-2026")


def demo_token(username: str) -> str:
    """A published token per demo staff member, so `bibid demo --show` can print it."""
    return "bibid_demo_" + hashlib.sha256(f"bibid-demo-{username}".encode()).hexdigest()[:32]


def demo_totp_secret(username: str) -> str:
    """A published one-time-code secret per demo staff member (demo data only), so a tester
    can add it to an authenticator app or compute the codes; real staff enrol their own."""
    digest = hashlib.sha256(f"bibid-demo-totp-{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def _demo_second_factor(staff: Staff) -> None:
    mfa.enrol_totp(
        user=staff, secret=demo_totp_secret(staff.username), step=0, name="demo", actor="demo"
    )


def exists() -> bool:
    return Library.objects.filter(code__in=[lib.code for lib in spec.LIBRARIES]).exists()


@transaction.atomic
def reset() -> None:
    codes = [lib.code for lib in spec.LIBRARIES]
    Staff.objects.filter(library__code__in=codes).delete()
    # The demo's operator belongs to no library; without this a second reset failed on
    # "a staff member with this username exists" after the other services had reset.
    Staff.objects.filter(username=OPERATOR[0], library__isnull=True).delete()
    AuditEvent.objects.filter(library__code__in=codes).delete()
    Membership.objects.filter(subscription__library__code__in=codes).delete()
    Subscription.objects.filter(library__code__in=codes).delete()
    Customer.objects.filter(library__code__in=codes).delete()
    SubscriptionType.objects.filter(library__code__in=codes).delete()
    Library.objects.filter(code__in=codes).delete()
    load()


def ensure_mijnmenu_clients() -> None:
    """Demo data from before Mijn Menu signed in through the login gets its client too."""
    for demo in spec.LIBRARIES:
        library = Library.objects.filter(code=demo.code).first()
        if library is not None and not library.mijnmenu_client_id:
            mijnmenu = spec.mijnmenu_service(demo)
            library.mijnmenu_client_id = mijnmenu.client_id
            library.mijnmenu_client_secret = mijnmenu.client_secret
            library.save(update_fields=["mijnmenu_client_id", "mijnmenu_client_secret_sealed"])


def load() -> None:
    today = clock.today()
    libraries = {}
    for demo in spec.LIBRARIES:
        library = Library(
            code=demo.code,
            name=demo.name,
            card_prefix=PREFIXES[demo.code],
            email=f"info@{demo.code}.example",
            identity_client_id=demo.client_id,
            self_service_flows=[f.value for f in Library.Flow],
        )
        library.identity_client_secret = demo.client_secret
        mijnmenu = spec.mijnmenu_service(demo)
        library.mijnmenu_client_id = mijnmenu.client_id
        library.mijnmenu_client_secret = mijnmenu.client_secret
        library.next_card_number = 1000  # the demo customers use the low numbers
        library.save()
        libraries[demo.code] = library
        for t in spec.SUBSCRIPTION_TYPES:
            SubscriptionType.objects.create(
                library=library,
                code=t.code,
                name=t.name,
                price=Decimal(t.price),
                min_age=t.min_age,
                max_age=t.max_age,
                family=t.family,
                rights=t.rights,
            )
    customers: dict[tuple[str, str], Customer] = {}
    for c in spec.CUSTOMERS:
        linked = c.linked_account or (c.account.username if c.account else None)
        has_link = linked not in (None, "-")
        customers[(c.library, c.card_number)] = Customer.objects.create(
            library=libraries[c.library],
            card_number=c.card_number,
            name=c.name,
            birth_date=date.fromisoformat(c.birth_date),
            email=c.email,
            kind=c.kind,
            account_id=UUID(spec.account_public_id(linked)) if has_link else None,
            account_username=linked if has_link else "",
            account_linked_at=clock.now() if has_link else None,
        )
    _subscriptions(libraries, customers, today)
    for s in spec.STAFF:
        staff = Staff.objects.create_user(
            s.username,
            s.password,
            name=s.name,
            library=libraries[s.library],
            role=s.role,
            customer=customers[(s.library, s.customer)] if s.customer else None,
        )
        raw = demo_token(s.username)
        ApiToken.objects.create(
            staff=staff,
            name="demo",
            prefix=raw[:12],
            digest=hashlib.sha256(raw.encode()).hexdigest(),
            role=staff.role,
            expires_at=clock.now() + timedelta(days=365),
        )
        _demo_second_factor(staff)
    operator = Staff.objects.create_superuser(*OPERATOR, name="Beheerder bibliotheeksysteem")
    _demo_second_factor(operator)
    # Every linked customer's rights go to the login service once the services run, as
    # after any change; Gerrit Mulder's stay out of date on purpose (the seed's step 4).
    outdated = {card for code, card, _u, auth in spec.links() if auth == "outdated"}
    PendingPush.objects.bulk_create(
        PendingPush(customer=customer)
        for (code, card), customer in customers.items()
        if customer.account_id and card not in outdated
    )
    transaction.on_commit(_drain_soon)


def _drain_soon() -> None:
    from bibid.library.loginaccounts.tasks import drain_pushes

    drain_pushes.enqueue()


def _subscriptions(libraries, customers, today: date) -> None:
    types = {(t.library.code, t.code): t for t in SubscriptionType.objects.all()}
    for c in spec.CUSTOMERS:
        if not c.subscription or c.family_of:
            continue
        start = today - timedelta(days=200)
        end = start + timedelta(days=364)
        if c.subscription_ended:
            start, end = today - timedelta(days=400), today - timedelta(days=35)
        if c.authorization == "outdated":
            start = today - timedelta(days=3)  # changed three days ago
            end = start + timedelta(days=364)
        subscription = Subscription.objects.create(
            library=libraries[c.library],
            type=types[(c.library, c.subscription)],
            start=start,
            end=end,
        )
        Membership.objects.create(
            subscription=subscription, customer=customers[(c.library, c.card_number)], role="main"
        )
        for member in spec.CUSTOMERS:
            if member.family_of == c.card_number and member.library == c.library:
                Membership.objects.create(
                    subscription=subscription,
                    role=member.subscription_role,
                    customer=customers[(member.library, member.card_number)],
                )


def summary() -> dict:
    accounts = {a.username: a for a in spec.demo_accounts()}
    present = {
        (c.library.code, c.card_number): c for c in Customer.objects.select_related("library")
    }
    customers = []
    for c in spec.CUSTOMERS:
        found = present.get((c.library, c.card_number))
        username = (found.account_username if found else "") or None
        account = accounts.get(username) if username else None
        customers.append(
            {
                "library": c.library,
                "card_number": c.card_number,
                "name": c.name,
                "state": c.state,
                "kind": c.kind,
                "note": c.note,
                "login_account": username,
                "password": account.password if account else None,
                "own_account": c.account.username if c.account else None,
            }
        )
    return {
        "staff": [
            {
                "username": s.username,
                "password": s.password,
                "library": s.library,
                "role": s.role,
                "api_token": demo_token(s.username),
                "totp_secret": demo_totp_secret(s.username),
            }
            for s in spec.STAFF
        ],
        "library_operators": [
            {
                "username": OPERATOR[0],
                "password": OPERATOR[1],
                "totp_secret": demo_totp_secret(OPERATOR[0]),
            }
        ],
        "customers": customers,
    }
