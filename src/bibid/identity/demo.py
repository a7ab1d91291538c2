"""Demo data of the identity service: the demo libraries as API clients, the login accounts
of the demo customers (in the states the seed talks about) and their links.

The personas are shared with the library service (bibid.common.demo); both sides agree on
account ids without talking to each other, so `bibid up` can load them before either runs.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from uuid import UUID

from django.db import transaction

from bibid.common import clock
from bibid.common import demo as spec
from bibid.common.guard import lanes as guard
from bibid.common.guard.models import Throttle
from bibid.common.mfa import services as mfa
from bibid.identity.accounts.actors import DEMO
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import create_account, inactive_cutoff
from bibid.identity.libraries.models import Change, Library, Link
from bibid.identity.libraries.rights import Authorization
from bibid.identity.libraries.services import _apply, register_library
from bibid.identity.signin.models import LoginEvent

OPERATORS = [("beheer", "Beheer-van-Bibid-2026")]
BLOCKED_FAILURES = 14
# What the library pushed for Gerrit Mulder before his subscription changed (the seed's
# "authorization out of date").
OUTDATED = Authorization(
    customer={
        "name": "Gerrit Mulder",
        "card_number": "2010000007",
        "subscription_type": "Basis (alleen lenen in de bibliotheek)",
        "subscription_end": "2026-01-31",
        "birth_date": "1958-11-23",
    },
    rights=(),
)


def demo_totp_secret(username: str) -> str:
    """A published one-time-code secret per demo operator (demo data only: load_demo refuses
    outside demo mode), so a tester can pass the admin's second step; real operators enrol
    their own. Not the library's secret for a namesake: each service has its own."""
    digest = hashlib.sha256(f"bibid-demo-totp-identity-{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def _usernames() -> list[str]:
    return [a.username for a in spec.demo_accounts()] + [name for name, _ in OPERATORS]


def exists() -> bool:
    return Account.objects.filter(username__in=_usernames()).exists()


@transaction.atomic
def reset() -> None:
    """Remove the demo accounts and everything about them, then create them afresh."""
    accounts = Account.objects.filter(username__in=_usernames())
    LoginEvent.objects.filter(account_id__in=accounts.values("pk")).delete()
    AccountEvent.objects.filter(username__in=_usernames()).delete()
    Change.objects.filter(library__code__in=[lib.code for lib in spec.LIBRARIES]).delete()
    Throttle.objects.filter(
        key__in=[guard.account_lane(name).key for name in _usernames()]
    ).delete()
    accounts.delete()
    load()


def _libraries() -> dict[str, Library]:
    """Register the demo libraries, with the published demo secrets (kept as a hash)."""
    found = {}
    for demo in spec.LIBRARIES:
        library = Library.objects.filter(code=demo.code).select_related("application").first()
        if library is None:
            library = register_library(
                code=demo.code,
                name=demo.name,
                card_prefixes=[demo.card_prefix],
                client_id=demo.client_id,
                client_secret=demo.client_secret,
            ).library
        else:
            library.application.client_secret = demo.client_secret  # hashed on save
            library.application.save()
            if library.card_prefixes != [demo.card_prefix]:
                Library.objects.filter(pk=library.pk).update(card_prefixes=[demo.card_prefix])
                library.card_prefixes = [demo.card_prefix]
        found[demo.code] = library
    return found


def register_services() -> None:
    """The demo's Mijn Menu per library and the Online Bibliotheek, at the public URLs the
    services run on. Idempotent, and run by every `bibid up`: when the ports or public URLs
    change, the registered redirect URIs follow."""
    from django.conf import settings

    from bibid.identity.oidc.services import register_service

    for service in spec.services():
        register_service(
            kind=service.kind,
            name=service.name,
            library_code=service.library,
            base_url=settings.BIBID_PUBLIC_URLS[service.service] + service.path,
            client_id=service.client_id,
            client_secret=service.client_secret,
        )


def load() -> None:
    libraries = _libraries()
    now = clock.now()
    for persona in spec.demo_accounts():
        account = create_account(
            username=persona.username,
            recovery_email=persona.recovery_email,
            password=persona.password,
            active=persona.state == "active",
            actor=DEMO,
        )
        Account.objects.filter(pk=account.pk).update(
            public_id=UUID(spec.account_public_id(persona.username)),
            recovery_email_confirmed_at=now
            if persona.recovery_email and persona.password
            else None,
            recovery_email_set_by="patron" if persona.recovery_email else "",
            created_at=now - timedelta(hours=26) if persona.state == "inactive-expired" else now,
        )
        if persona.blocked:
            _block(account)
    for code, card_number, username, authorization in spec.links():
        link = Link.objects.create(
            library=libraries[code],
            customer_ref=card_number,
            card_number=card_number,
            account=Account.objects.get(username=username),
        )
        if authorization == "outdated":
            # Pushed ten days ago; the library's subscription changed since.
            _apply(link, OUTDATED, now - timedelta(days=10))
            link.save()
    for username, password in OPERATORS:
        operator = Account.objects.create_superuser(username, password)
        mfa.enrol_totp(
            user=operator, secret=demo_totp_secret(username), step=0, name="demo", actor="demo"
        )
    register_services()


def _block(account: Account) -> None:
    """Fail the account's password the way an attacker or a forgetful patron would."""
    now = clock.now()
    first = now - timedelta(minutes=BLOCKED_FAILURES)
    # The password was chosen long before it was forgotten: failures before the last change
    # of password are history (the helpdesk counts from there), these are today's.
    Account.objects.filter(pk=account.pk).update(password_changed_at=now - timedelta(days=30))
    LoginEvent.objects.bulk_create(
        LoginEvent(
            at=first + timedelta(minutes=i),
            account_id=account.pk,
            username=account.username,
            outcome=LoginEvent.Outcome.FAILURE,
            reason=LoginEvent.Reason.WRONG_PASSWORD,
            ip="192.0.2.44",
            user_agent="Mozilla/5.0 (demo)",
        )
        for i in range(BLOCKED_FAILURES)
    )
    Throttle.objects.update_or_create(
        key=guard.account_lane(account.username_key).key,
        defaults={
            "failures": BLOCKED_FAILURES,
            "window_start": first.timestamp(),
            "blocked_until": now.timestamp() + guard.ACCOUNT.delay(BLOCKED_FAILURES),
        },
    )


def current_state(username: str) -> str:
    """The state an account is in now (the inactive-expired one disappears with the purge)."""
    account = Account.objects.filter(username=username).first()
    if account is None:
        return "deleted"
    if account.is_staff:
        return "operator"
    if guard.account_block(account.username_key).blocked_until:
        return "blocked"
    if account.state == Account.State.INACTIVE and account.created_at < inactive_cutoff():
        return "inactive-expired"
    return account.state


def summary() -> dict:
    notes = {c.account.username: c.note for c in spec.CUSTOMERS if c.account}
    return {
        "patrons": [
            {
                "username": a.username,
                "password": a.password,
                "state": current_state(a.username),
                "note": notes.get(a.username, ""),
            }
            for a in spec.demo_accounts()
        ],
        "operators": [
            {
                "username": name,
                "password": password,
                "state": current_state(name),
                "note": "beheerder inlogdienst",
                "totp_secret": demo_totp_secret(name),
            }
            for name, password in OPERATORS
        ],
        "library_clients": [
            {
                "library": d.code,
                "name": d.name,
                "client_id": d.client_id,
                "client_secret": d.client_secret,
                "registered": Library.objects.filter(code=d.code).exists(),
            }
            for d in spec.LIBRARIES
        ],
        "service_clients": [
            {"service": s.name, "client_id": s.client_id, "client_secret": s.client_secret}
            for s in spec.services()
        ],
    }
