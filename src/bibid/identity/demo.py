"""Demo data of the identity service: patrons in the states the seed talks about, and the
demo libraries as clients of the library API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from bibid.common import clock
from bibid.common.demo import LIBRARIES
from bibid.common.guard import lanes as guard
from bibid.common.guard.models import Throttle
from bibid.identity.accounts.actors import DEMO
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import create_account, inactive_cutoff
from bibid.identity.libraries.models import Library
from bibid.identity.libraries.services import register_library
from bibid.identity.signin.models import LoginEvent


@dataclass(frozen=True)
class Persona:
    username: str
    password: str | None
    state: str  # the state the persona demonstrates
    recovery_email: str = ""
    note: str = ""


PATRONS = [
    Persona(
        "anna.jansen",
        "Lezen-in-de-zon-2026",
        "active",
        "anna.jansen@example.org",
        "actief, kan inloggen",
    ),
    Persona(
        "bram.devries",
        None,
        "inactive",
        "bram.devries@example.org",
        "inactief: wacht op activering",
    ),
    Persona(
        "carla.smit",
        None,
        "inactive-expired",
        "carla.smit@example.org",
        "inactief en ouder dan 24 uur: wordt binnen 5 minuten verwijderd",
    ),
    Persona(
        "dirk.bakker",
        "Boekenkast-vol-verhalen",
        "blocked",
        "dirk.bakker@example.org",
        "geblokkeerd na 14 verkeerde wachtwoorden (15 minuten)",
    ),
    Persona(
        "eva.visser", "Fietsen-naar-de-bieb", "active", "", "actief, zonder herstel-e-mailadres"
    ),
]
OPERATORS = [Persona("beheer", "Beheer-van-Bibid-2026", "operator", "", "beheerder inlogdienst")]
BLOCKED_FAILURES = 14


def _usernames() -> list[str]:
    return [p.username for p in PATRONS + OPERATORS]


def exists() -> bool:
    return Account.objects.filter(username__in=_usernames()).exists()


@transaction.atomic
def reset() -> None:
    """Remove the demo accounts and everything about them, then create them afresh."""
    accounts = Account.objects.filter(username__in=_usernames())
    LoginEvent.objects.filter(account_id__in=accounts.values("pk")).delete()
    AccountEvent.objects.filter(username__in=_usernames()).delete()
    for name in _usernames():
        Throttle.objects.filter(key=guard.account_lane(name).key).delete()
    accounts.delete()
    load()


def _libraries() -> None:
    """Register the demo libraries, with the published demo secrets (kept as a hash)."""
    for demo in LIBRARIES:
        library = Library.objects.filter(code=demo.code).select_related("application").first()
        if library is None:
            register_library(code=demo.code, name=demo.name, client_id=demo.client_id,
                             client_secret=demo.client_secret)
        else:
            library.application.client_secret = demo.client_secret  # hashed on save
            library.application.save()


def load() -> None:
    _libraries()
    now = clock.now()
    for persona in PATRONS:
        account = create_account(
            username=persona.username,
            recovery_email=persona.recovery_email,
            password=persona.password,
            active=persona.password is not None,
            actor=DEMO,
        )
        if persona.recovery_email and persona.password:
            account.recovery_email_confirmed_at = now
            account.save(update_fields=["recovery_email_confirmed_at"])
        if persona.state == "inactive-expired":
            Account.objects.filter(pk=account.pk).update(created_at=now - timedelta(hours=26))
        if persona.state == "blocked":
            _block(account)
    for persona in OPERATORS:
        Account.objects.create_superuser(persona.username, persona.password)


def _block(account: Account) -> None:
    """Fail the account's password the way an attacker or a forgetful patron would."""
    now = clock.now()
    first = now - timedelta(minutes=BLOCKED_FAILURES)
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


def current_state(persona: Persona) -> str:
    """The state a persona is in now (the inactive-expired one disappears with the purge)."""
    account = Account.objects.filter(username=persona.username).first()
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
    def entry(p: Persona) -> dict:
        return {
            "username": p.username,
            "password": p.password,
            "state": current_state(p),
            "note": p.note,
        }

    return {
        "patrons": [entry(p) for p in PATRONS],
        "operators": [entry(p) for p in OPERATORS],
        "library_clients": [
            {"library": d.code, "name": d.name, "client_id": d.client_id,
             "client_secret": d.client_secret,
             "registered": Library.objects.filter(code=d.code).exists()}
            for d in LIBRARIES
        ],
    }
