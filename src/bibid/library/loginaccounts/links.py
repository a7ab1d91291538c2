"""The one owner of a customer's link to a login account (Customer.account_id,
account_username, account_linked_at).

Every path that learns something about the link (the Inlogaccount menu, the push queue, the
changes feed, the nightly sync, the online sign-up) writes it here, so that what "linked"
means, and what is cleared when a link ends, is decided in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from bibid.common import clock
from bibid.library.customers.models import Customer

# What a customer without a login account holds: no id, no name, no date. All three are
# cleared together: a username left behind would let a search still find the customer by
# an account that is no longer theirs.
UNLINKED = {"account_id": None, "account_username": "", "account_linked_at": None}


def remember_link(customer: Customer, account: dict) -> None:
    """The login service linked `account` ({"account_id", "username", ...}) to the
    customer: store it, and update the instance the caller holds."""
    account_id = UUID(str(account["account_id"]))
    linked_at = clock.now()
    Customer.objects.filter(pk=customer.pk).update(
        account_id=account_id, account_username=account["username"], account_linked_at=linked_at
    )
    customer.account_id, customer.account_username = account_id, account["username"]
    customer.account_linked_at = linked_at


def forget_link(customer: Customer) -> None:
    """The login service has no link (any more) for this customer."""
    Customer.objects.filter(pk=customer.pk).update(**UNLINKED)
    customer.account_id, customer.account_username, customer.account_linked_at = None, "", None


def forget_links(library, card_numbers: Iterable[str]) -> int:
    """The same for many customers of one library at once (the nightly sync's answer)."""
    return Customer.objects.filter(library=library, card_number__in=list(card_numbers)).update(
        **UNLINKED
    )


def rename_link(customer: Customer, username: str) -> None:
    """The patron changed the username of the linked account (or we read a newer one)."""
    Customer.objects.filter(pk=customer.pk).update(account_username=username)
    customer.account_username = username


__all__ = ["UNLINKED", "forget_link", "forget_links", "remember_link", "rename_link"]
