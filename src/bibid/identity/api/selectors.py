"""Reads behind the library API, each in a fixed number of queries."""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone

from bibid.common import clock
from bibid.common.guard import lanes as guard
from bibid.common.http import network_of
from bibid.identity.accounts.models import Account
from bibid.identity.libraries.models import Library, Link
from bibid.identity.libraries.rights import Right
from bibid.identity.signin.models import LoginEvent


def block_of(account: Account) -> dict:
    info = guard.account_block(account.username_key)
    return {"failures": info.failures, "blocked_until": info.blocked_until}


def account_out(link: Link, links: list[Link]) -> dict:
    """The account as a library may see it; `links` are all of the account's links."""
    account = link.account
    return {
        "customer_ref": link.customer_ref,
        "account_id": account.public_id,
        "username": account.username,
        "state": account.state,
        "has_password": account.has_usable_password(),
        "recovery_email": account.recovery_email or None,
        "recovery_email_confirmed": account.recovery_email_confirmed_at is not None,
        "recovery_email_set_by": account.recovery_email_set_by or None,
        "created_at": account.created_at,
        "activated_at": account.activated_at,
        "last_login": account.last_login,
        "linked_libraries": sorted({other.library.name for other in links}),
        "block": block_of(account),
    }


def links_of(account: Account) -> list[Link]:
    return list(Link.objects.filter(account=account).select_related("library"))


def effective_rights(links: list[Link], library: Library, on: date) -> list[dict]:
    """The union over all links of the rights valid on `on`, with where each comes from."""
    rights = []
    for found in sorted(links, key=lambda x: x.library.name):
        for data in found.rights:
            right = Right.from_json(data)
            if right.valid_on(on):
                rights.append({**right.as_json(), "library": found.library.name,
                               "this_library": found.library_id == library.pk})
    return rights


def history(account: Account, limit: int) -> list[dict]:
    events = LoginEvent.objects.filter(account_id=account.pk).order_by("-at", "-id")[:limit]
    return [
        {"at": e.at, "kind": e.kind, "outcome": e.outcome, "reason": e.reason,
         "address": network_of(e.ip), "browser": e.user_agent, "service": e.service,
         "details": e.details}
        for e in events
    ]


def failures_today(account: Account) -> int:
    start = timezone.make_aware(datetime.combine(clock.today(), time.min))
    return LoginEvent.objects.filter(
        account_id=account.pk, at__gte=start, outcome=LoginEvent.Outcome.FAILURE
    ).count()


def typed_username(library: Library, link: Link | None, typed: str) -> dict:
    """What the name a customer types points at, as the calling library may see it: which
    account (linked to this customer, to another customer of this library, or elsewhere),
    its state and today's failures. A library may already link by username, so this tells
    it nothing it could not learn; it never names customers of other libraries."""
    from bibid.identity.accounts.usernames import username_key

    account = Account.objects.filter(username_key=username_key(typed)).first()
    if account is None and typed.strip():
        # A card number signs in too, but only this library's card numbers are looked up:
        # another library's customer must not be named to this one.
        here_link = Link.objects.filter(library=library, card_number=typed.strip()) \
            .select_related("account").first()
        account = here_link.account if here_link else None
    if account is None:
        return {"username": typed, "exists": False, "is_linked_account": False,
                "linked_here_to": None, "username_of_account": None, "state": None,
                "failures_today": 0}
    here = Link.objects.filter(library=library, account=account).values_list(
        "customer_ref", flat=True).first()
    return {
        "username": typed, "exists": True,
        "is_linked_account": link is not None and link.account_id == account.pk,
        "linked_here_to": here, "username_of_account": account.username,
        "state": account.state, "failures_today": failures_today(account),
    }
