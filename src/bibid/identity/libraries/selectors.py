"""Reads of links that other contexts use."""

from __future__ import annotations

from bibid.identity.accounts.models import Account

from .models import Library, Link


def account_by_card_number(card_number: str) -> Account | None:
    """The account linked under this card number at the library whose range holds it.

    Card numbers belong to a library (its registered prefixes, which never overlap): a link
    another library made with this number, before ranges were enforced or by mistake, does
    not count, so no library can break another's patrons' sign-in by card number. One query.
    """
    links = [
        found
        for found in Link.objects.filter(card_number=card_number).select_related(
            "library", "account"
        )[:20]
        if found.library.owns_card_number(card_number)
    ]
    accounts = {found.account_id: found.account for found in links}
    if len(accounts) != 1:
        return None
    return next(iter(accounts.values()))


def account_by_name(typed: str) -> Account | None:
    """The account a patron means by what they type: a card number in a library's range with
    a link there names that patron (whatever account has it as a username); otherwise the
    username. The same rule as the sign-in journey."""
    from bibid.identity.accounts.usernames import username_key

    name = typed.strip()
    by_card = account_by_card_number(name) if name.isalnum() else None
    return by_card or Account.objects.filter(username_key=username_key(name)).first()


def links_for_patron(account: Account) -> list[Link]:
    """The account's links with their libraries, oldest first (Mijn inlogaccount)."""
    return list(
        Link.objects.filter(account=account).select_related("library").order_by("linked_at", "pk")
    )


def library_actions(account: Account, limit: int = 50) -> list[dict]:
    """What libraries did to the account, newest first: which library, which role, what,
    when (Mijn inlogaccount). Two queries."""
    from bibid.identity.accounts.models import AccountEvent

    events = list(
        AccountEvent.objects.filter(
            account_public_id=account.public_id, actor__startswith="library:"
        ).order_by("-at", "-id")[:limit]
    )
    codes = {event.actor.split(":", 1)[1] for event in events}
    names = dict(Library.objects.filter(code__in=codes).values_list("code", "name"))
    return [
        {
            "at": event.at,
            "library": names.get(code, code),
            "library_code": code,
            "role": (event.data or {}).get("by", {}).get("role", ""),
            "kind": event.kind,
            "data": event.data,
        }
        for event in events
        for code in [event.actor.split(":", 1)[1]]
    ]


def flow_allowed(account: Account, flow: str) -> bool:
    """Is this self-service flow offered to this patron? Yes without links; with links,
    when at least one of the patron's libraries offers it (they are its customer too)."""
    flows = [
        found.library.self_service_flows
        for found in Link.objects.filter(account=account).select_related("library")
    ]
    return not flows or any(flow in allowed for allowed in flows)
