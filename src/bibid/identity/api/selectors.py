"""Reads behind the library API, each in a fixed number of queries."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import DateTimeField, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.guard import lanes as guard
from bibid.common.http import network_of
from bibid.identity.accounts.models import Account
from bibid.identity.libraries.models import Change, Library, Link
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
        "password_changed_at": account.password_changed_at,
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
                rights.append(
                    {
                        **right.as_json(),
                        "library": found.library.name,
                        "this_library": found.library_id == library.pk,
                    }
                )
    return rights


def history(account: Account, limit: int) -> list[dict]:
    events = LoginEvent.objects.filter(account_id=account.pk).order_by("-at", "-id")[:limit]
    return [
        {
            "at": e.at,
            "kind": e.kind,
            "outcome": e.outcome,
            "reason": e.reason,
            "address": network_of(e.ip),
            "browser": e.user_agent,
            "service": e.service,
            "details": e.details,
        }
        for e in events
    ]


REMOVALS = (Change.Kind.ACCOUNT_DELETED, Change.Kind.LINK_REMOVED)


def removals_of(library: Library, customer_ref: str):
    """This customer's links made and removed at this library, newest first."""
    return (
        Change.objects.filter(
            library=library,
            customer_ref=customer_ref,
            kind__in=[*REMOVALS, Change.Kind.LINK_CREATED],
        )
        .order_by("-id")
        .only("at", "kind", "data")
    )


def removed(library: Library, customer_ref: str) -> dict | None:
    """Why this customer has no link (any more): the newest removal of a link or deletion of
    an account in this library's feed for the customer, unless a link made later undid it.

    Said at once in the status answer, so a helpdesk does not have to wait for its feed
    reader to learn that an account was purged a minute ago. One query, on the
    (library, customer_ref, id) index: it never reads the rest of the library's feed.
    """
    last = removals_of(library, customer_ref).first()
    if last is None or last.kind not in REMOVALS:
        return None
    data = last.data if isinstance(last.data, dict) else {}
    return {
        "kind": last.kind,
        "reason": str(data.get("reason") or ""),
        "username": data.get("username") or None,
        "at": last.at,
    }


def failures_today(account: Account) -> int:
    """Failed sign-in attempts that still matter: today, and after both the last successful
    sign-in and the last time the password was set. Once the patron chose a new password
    or got in, earlier failures say nothing about a problem now, and the helpdesk must be
    able to see that its fix (a reset mail) worked.

    Only kind "login" counts: what a service reports (logout_detected, rights_missing,
    not_linked) is recorded as a failure too, but nobody was trying a password.

    One query, whatever the history: the last success is a scalar subquery over the
    (account_id, at) index.
    """
    since = timezone.make_aware(datetime.combine(clock.today(), time.min))
    logins = LoginEvent.objects.filter(
        account_id=account.pk, kind=LoginEvent.Kind.LOGIN, at__gte=since
    )
    failures = logins.filter(outcome=LoginEvent.Outcome.FAILURE)
    if account.password_changed_at is not None:
        failures = failures.filter(at__gt=account.password_changed_at)
    last_success = (
        logins.filter(outcome=LoginEvent.Outcome.SUCCESS).order_by("-at").values("at")[:1]
    )
    before_today = Value(since - timedelta(microseconds=1), output_field=DateTimeField())
    return failures.filter(at__gt=Coalesce(Subquery(last_success), before_today)).count()


# Look-ups of names that are not the asking library's own: enough for a helpdesk (a few
# hundred a day at a large library), too few to map the country's usernames.
LOOKUPS_PER_LIBRARY = guard.Policy("lookup", free=100000, max_delay=60, cap=600)


def typed_username(library: Library, link: Link | None, typed: str) -> dict:
    """What the name a customer types points at, as far as the calling library may know.

    Minimal disclosure (docs/security/library-api-rules.md, L5): the library learns whether
    the name is the account linked to this customer, or linked to another customer of its
    own; about any other name it learns nothing (not whether it exists, nor its state or
    failures). Such look-ups are limited per library and recorded for the operators.
    """
    from bibid.common.problems import Problem
    from bibid.identity.accounts.usernames import username_key
    from bibid.identity.libraries.models import LibraryEvent

    name = typed.strip()
    account = Account.objects.filter(username_key=username_key(name)).first() if name else None
    if account is None and name:
        # A card number signs in too; only this library's own card numbers are looked up.
        here_link = (
            Link.objects.filter(library=library, card_number=name).select_related("account").first()
        )
        account = here_link.account if here_link else None
    is_linked = account is not None and link is not None and link.account_id == account.pk
    here = None
    if account is not None and not is_linked:
        here = (
            Link.objects.filter(library=library, account=account)
            .values_list("customer_ref", flat=True)
            .first()
        )
    if is_linked or here:
        return {
            "username": typed,
            "exists": True,
            "is_linked_account": is_linked,
            "linked_here_to": here,
            "username_of_account": account.username,
            "state": account.state,
            "failures_today": failures_today(account),
        }
    if guard.reserve([guard.lane(LOOKUPS_PER_LIBRARY, library.code)]) is not None:
        raise Problem(
            429,
            "too_many_requests",
            _(
                "Deze bibliotheek heeft het afgelopen uur te veel gebruikersnamen "
                "opgezocht. Probeer het later opnieuw."
            ),
        )
    LibraryEvent.objects.create(
        library=library,
        operation="username_lookup",
        data={"customer": link.customer_ref if link else None, "typed": typed[:254]},
    )
    return {
        "username": typed,
        "exists": None,
        "is_linked_account": False,
        "linked_here_to": None,
        "username_of_account": None,
        "state": None,
        "failures_today": None,
    }
