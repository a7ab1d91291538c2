"""Finding customers: by card number, name, e-mail or login username, within one library."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from bibid.library.subscriptions.models import Membership

from .models import Customer

SEARCH_LIMIT = 50


def with_details(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """Everything the customer page shows, in a fixed number of queries."""
    return queryset.select_related("library").prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("subscription__type")),
        Prefetch(
            "memberships__subscription__memberships",
            queryset=Membership.objects.select_related("customer"),
        ),
    )


def search(library, query: str) -> list[Customer]:
    """Exact card number first; otherwise name, e-mail or username containing the text."""
    return list(matching(library, query)[:SEARCH_LIMIT])


def matching(library, query: str) -> QuerySet[Customer]:
    """Everything `search` finds, unlimited and in its order (the REST API pages through it):
    the console and the API share one rule for what a search may reveal."""
    text = query.strip()
    if not text:
        return Customer.objects.none()
    exact = Customer.objects.filter(library=library, card_number=text)
    if exact.exists():
        return exact
    # A username finds only customers whose login account staff may see: searching for a
    # colleague's (or volunteer's) username must not answer "that is colleague X, card Y".
    by_username = Q(account_username__iexact=text) & ~Customer.private_q()
    return (
        Customer.objects.filter(library=library)
        .filter(
            Q(name__icontains=text) | Q(email__iexact=text) | Q(email__icontains=text) | by_username
        )
        .order_by("name", "card_number")
    )


def by_card(library, card_number: str) -> Customer | None:
    return with_details(Customer.objects.filter(library=library, card_number=card_number)).first()
