"""The integrator's reads in the library REST API: search customers, a customer's
subscriptions, the library's subscription types. Same operations and rules as the console."""

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from bibid.library.customers import selectors
from bibid.library.customers.models import Customer
from bibid.library.signup.services import types_for_signup
from bibid.library.staff.permissions import Actor, Perm, require
from bibid.library.subscriptions.models import Membership, SubscriptionType
from bibid.library.tenants.models import Library

from .schemas import SubscriptionOut, text

# GET /customers lives on the same router as POST /customers: django-ninja turns each
# router's path into a URL pattern of its own, and Django stops at the first pattern that
# matches, so a second router's GET /customers would be answered 405 by the first.
from .views import ERRORS, Card, _customer, _subscription_out, router

MAX_PAGE = 50
# What each read can answer besides 200 (401 and 500 are added for every operation).
SEARCH_ERRORS = {code: ERRORS[code] for code in (400, 403)}
LIST_ERRORS = {code: ERRORS[code] for code in (403,)}


# -- shapes --------------------------------------------------------------------------------


class SearchIn(Schema):
    q: text(200, 2) = Field(
        description=(
            "The whole card number, part of the name, or the e-mail address (or part of it); "
            "a login username finds only customers whose login account staff may see. "
            "At least 2 characters."
        )
    )


class SearchLoginOut(Schema):
    linked: bool
    username: str | None
    visible: bool = Field(description="False for colleagues and volunteers (privacy rule).")


class CustomerFoundOut(Schema):
    card_number: str
    name: str
    birth_date: date
    email: str
    kind: Literal["regular", "colleague", "volunteer"]
    login_account: SearchLoginOut

    @staticmethod
    def resolve_login_account(customer: Customer, context: dict) -> dict:
        visible = _account_visible(context["request"].actor, customer)
        # Hidden means hidden: no "linked" either, as in customer_get.
        return {
            "linked": customer.has_login_account if visible else False,
            "username": (customer.account_username or None) if visible else None,
            "visible": visible,
        }


class CustomerSubscriptionOut(SubscriptionOut):
    role: Literal["main", "partner", "child"] = Field(
        description="The customer's role in this subscription."
    )


class CustomerSubscriptionsOut(Schema):
    card_number: str
    results: list[CustomerSubscriptionOut] = Field(
        description="Every subscription (current, past, future), newest start first."
    )


class RightOut(Schema):
    code: str
    limits: dict[str, Any] = Field(default_factory=dict)


class SubscriptionTypeOut(Schema):
    code: str
    name: str
    price: Decimal = Field(description="Price per year in euros.")
    min_age: int | None
    max_age: int | None
    family: bool = Field(description="A family subscription (partner and children).")
    rights: dict[Literal["main", "partner", "child"], list[RightOut]] = Field(
        description="The rights each member role gets."
    )
    lends_online: bool = Field(description="Gives e-books or audiobooks to some role.")
    for_sale: bool = Field(description="Can be taken out now (false: only existing ones).")
    online_signup: bool = Field(description="Offered by the library's online sign-up.")


class SubscriptionTypesOut(Schema):
    results: list[SubscriptionTypeOut]


class SearchPage(LimitOffsetPagination):
    """limit/offset pages of at most 50, with the total and whether there is more."""

    items_attribute = "results"

    class Input(Schema):
        limit: int = Field(20, ge=1, le=MAX_PAGE)
        # Deep offsets only make the database skip rows: a search is narrowed, not browsed.
        offset: int = Field(0, ge=0, le=10_000)

    class Output(Schema):
        results: list[Any]
        count: int = Field(description="How many customers the search finds in all.")
        more: bool = Field(description="Whether a next page (offset + limit) has more.")

    def paginate_queryset(self, queryset, pagination, request, **params) -> dict:
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page["more"] = pagination.offset + pagination.limit < page["count"]
        return page


def _account_visible(actor: Actor, customer: Customer) -> bool:
    """The colleague rule of customer_get: a colleague's or volunteer's login account is
    theirs alone (or shown to themselves)."""
    return not customer.is_private or actor.staff.customer_id == customer.pk


# -- operations ----------------------------------------------------------------------------


@router.get(
    "/customers",
    operation_id="customer_search",
    tags=["customers"],
    response={200: list[CustomerFoundOut], **SEARCH_ERRORS},
    summary="Search customers",
)
@paginate(SearchPage, max_limit=MAX_PAGE)
def customer_search(request: HttpRequest, filters: Query[SearchIn]) -> QuerySet[Customer]:
    """The console's search: a whole card number finds that customer only; otherwise every
    customer whose name or e-mail address contains the text, or whose login username it is
    (not for colleagues and volunteers), by name. A fixed number of queries per page."""
    require(request.actor, Perm.SEARCH)
    require(request.actor, Perm.VIEW)
    return selectors.matching(request.actor.library, filters.q)


@router.get(
    "/customers/{card_number}/subscriptions",
    operation_id="customer_subscriptions",
    response={200: CustomerSubscriptionsOut, **ERRORS},
    tags=["subscriptions"],
    summary="A customer's subscriptions",
)
def customer_subscriptions(request: HttpRequest, card_number: str = Card):
    """Every subscription the customer is a member of, newest first, with their role."""
    customer = _customer(request, card_number)  # tenant and permission rules; prefetched
    memberships: list[Membership] = sorted(
        customer.memberships.all(),
        reverse=True,
        key=lambda m: (m.subscription.start, m.subscription.end, m.subscription.pk),
    )
    return {
        "card_number": customer.card_number,
        "results": [{**_subscription_out(m.subscription), "role": m.role} for m in memberships],
    }


@router.get(
    "/subscription-types",
    operation_id="subscription_type_list",
    response={200: SubscriptionTypesOut, **LIST_ERRORS},
    tags=["subscriptions"],
    summary="The library's subscription types",
)
def subscription_type_list(request: HttpRequest):
    """What the caller's library sells and sold, cheapest first, with the rights per role."""
    require(request.actor, Perm.VIEW)
    library: Library = request.actor.library
    on_signup = (
        {t.pk for t in types_for_signup(library)} if library.allows(Library.Flow.SIGNUP) else set()
    )
    types = SubscriptionType.objects.filter(library=library).order_by("price", "code")
    return {
        "results": [
            {
                "code": t.code,
                "name": t.name,
                "price": t.price,
                "min_age": t.min_age,
                "max_age": t.max_age,
                "family": t.family,
                "rights": {role: t.rights_for(role) for role in Membership.Role.values},
                "lends_online": t.lends_online,
                "for_sale": t.active,
                "online_signup": t.pk in on_signup,
            }
            for t in types
        ]
    }
