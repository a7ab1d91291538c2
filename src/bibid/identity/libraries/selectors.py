"""Reads of links that other contexts use."""

from __future__ import annotations

from bibid.identity.accounts.models import Account

from .models import Link


def account_by_card_number(card_number: str) -> Account | None:
    """The one account linked under this card number; None when none or ambiguous.

    Card numbers are unique within a library, not across libraries: when two libraries'
    customers share a number and have different accounts, the number names no one.
    """
    ids = list(
        Link.objects.filter(card_number=card_number).values_list("account_id", flat=True)
        .distinct()[:2]
    )
    if len(ids) != 1:
        return None
    return Account.objects.filter(pk=ids[0]).first()


def flow_allowed(account: Account, flow: str) -> bool:
    """Is this self-service flow offered to this patron? Yes without links; with links,
    when at least one of the patron's libraries offers it (they are its customer too)."""
    flows = [found.library.self_service_flows for found in
             Link.objects.filter(account=account).select_related("library")]
    return not flows or any(flow in allowed for allowed in flows)
