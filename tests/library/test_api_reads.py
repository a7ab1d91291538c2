"""The integrator's reads in the library REST API: customer search (paged, private, tenant
bound, a fixed number of queries), a customer's subscriptions, the subscription types; English
problem texts when asked for; unknown body fields refused by every operation."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bibid.common import clock
from bibid.library.customers.models import Customer
from bibid.library.demo import demo_token
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.tenants.models import Library

pytestmark = pytest.mark.django_db
ANNA, JEROEN, KARIN, LOTTE, NINA, OTTO = (
    "2010000001",
    "2010000010",
    "2010000011",
    "2010000012",
    "2010000014",
    "2010000015",
)
ANNA_DUIN = "3020000001"
READS = {"customer_search", "customer_subscriptions", "subscription_type_list"}


@pytest.fixture
def offline(db):
    """The demo libraries, staff and customers; these reads never call the login service."""
    from bibid.library import demo as library_demo

    library_demo.load()


class Api:
    def __init__(self, username: str, language: str | None = None) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {demo_token(username)}"}
        if language:
            self.headers["HTTP_ACCEPT_LANGUAGE"] = language

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def send(self, method: str, path: str, body=None):
        return getattr(self.client, method)(
            f"/api/v1{path}",
            data=json.dumps(body or {}),
            content_type="application/json",
            **self.headers,
        )

    def ok(self, path: str, **params) -> dict:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.content
        return answer.json()


def problem(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == code, body
    return body


def cards(page: dict) -> list[str]:
    return [c["card_number"] for c in page["results"]]


def without_username_in_email() -> None:
    """Nina's and Otto's e-mail addresses hold their usernames: finding them by the library's
    own e-mail data is not what a username test is about."""
    Customer.objects.filter(card_number=NINA).update(email="n.groot@example.org")
    Customer.objects.filter(card_number=OTTO).update(email="o.v@example.org")


# -- the schema ----------------------------------------------------------------------------


def test_the_reads_are_in_the_schema_next_to_the_writes(offline):
    schema = Client().get("/api/v1/openapi.json").json()
    operations = {
        op["operationId"]: (path, method)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    }
    assert operations.keys() >= READS
    # The search shares its path with customer_create, and both answer.
    assert operations["customer_search"][0] == operations["customer_create"][0]
    page = schema["paths"][operations["customer_search"][0]]["get"]
    assert {p["name"] for p in page["parameters"]} == {"q", "limit", "offset"}
    assert page["responses"]["400"]["content"].keys() == {"application/problem+json"}


# -- customer_search -------------------------------------------------------------------------


def test_search_by_card_name_email_and_username(offline):
    api = Api("balie.maas")
    assert api.ok("/customers", q=ANNA) == {
        "results": [
            {
                "card_number": ANNA,
                "name": "Anna Jansen",
                "birth_date": "1984-05-06",
                "email": "anna.jansen@example.org",
                "kind": "regular",
                "login_account": {"linked": True, "username": "anna.jansen", "visible": True},
            }
        ],
        "count": 1,
        "more": False,
    }
    # A whole card number is that customer only, also with spaces around it (a scanner).
    assert cards(api.ok("/customers", q=f"  {ANNA} ")) == [ANNA]
    # Part of a name, in any case, ordered by name.
    assert cards(api.ok("/customers", q="bOs")) == [JEROEN, KARIN, LOTTE]
    # The library's e-mail address, whole or in part.
    assert cards(api.ok("/customers", q="karin.bos@example.org")) == [KARIN]
    assert cards(api.ok("/customers", q="@oud-adres")) == []  # a recovery address is not ours
    assert cards(api.ok("/customers", q="yilmaz@")) == ["2010000013"]
    # A login username, of a customer whose account staff may see.
    assert cards(api.ok("/customers", q="ANNA.JANSEN")) == [ANNA]
    assert api.ok("/customers", q="niemand-heet-zo") == {"results": [], "count": 0, "more": False}


def test_search_never_names_a_colleague_s_account(offline):
    without_username_in_email()
    desk = Api("balie.maas")
    for username in ("nina.degroot", "otto.vermeer"):
        found = desk.get("/customers", q=username)
        assert found.json() == {"results": [], "count": 0, "more": False}
    # By name a colleague is found (the library's own data), without the account.
    by_name = desk.get("/customers", q="Nina de")
    assert by_name.json()["results"][0]["login_account"] == {
        "linked": False,
        "username": None,
        "visible": False,
    }
    assert b"nina.degroot" not in by_name.content
    volunteer = desk.ok("/customers", q="Vermeer")["results"][0]
    assert volunteer["kind"] == "volunteer" and volunteer["login_account"]["visible"] is False
    # By card too; and the colleague herself sees her own account.
    assert desk.ok("/customers", q=NINA)["results"][0]["login_account"]["username"] is None
    own = Api("nina").ok("/customers", q=NINA)["results"][0]["login_account"]
    assert own == {"linked": True, "username": "nina.degroot", "visible": True}


def test_search_stays_in_the_caller_s_library(offline):
    duin = Api("balie.duin")
    assert cards(duin.ok("/customers", q="Anna Jansen")) == [ANNA_DUIN]
    assert cards(duin.ok("/customers", q=ANNA)) == []
    assert cards(duin.ok("/customers", q="bos")) == []
    assert cards(Api("balie.maas").ok("/customers", q=ANNA_DUIN)) == []


def test_search_pages_with_limit_and_offset(offline):
    library = Library.objects.get(code="aan-de-maas")
    Customer.objects.bulk_create(
        Customer(
            library=library,
            card_number=f"77{n:04d}",
            name=f"Pagina Klant {n:02d}",
            birth_date=date(1990, 1, 1),
        )
        for n in range(55)
    )
    api = Api("balie.maas")
    first = api.ok("/customers", q="pagina klant")
    assert (len(first["results"]), first["count"], first["more"]) == (20, 55, True)
    seen = []
    for offset in range(0, 60, 20):
        page = api.ok("/customers", q="pagina klant", offset=offset, limit=20)
        seen += cards(page)
        assert page["more"] is (offset + 20 < 55)
    assert seen == [f"77{n:04d}" for n in range(55)]  # every one once, by name
    biggest = api.ok("/customers", q="pagina klant", limit=50, offset=50)
    assert (len(biggest["results"]), biggest["count"], biggest["more"]) == (5, 55, False)
    beyond = api.ok("/customers", q="pagina klant", offset=100)
    assert (beyond["results"], beyond["count"], beyond["more"]) == ([], 55, False)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "a"}, "q"),
        ({"q": " b "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "Anna\u0000"}, "q"),
        ({"q": "Anna\u001b[2J"}, "q"),
        ({"q": "Anna", "limit": 51}, "limit"),
        ({"q": "Anna", "limit": 0}, "limit"),
        ({"q": "Anna", "limit": "veel"}, "limit"),
        ({"q": "Anna", "offset": -1}, "offset"),
        ({"q": "Anna", "offset": 10_001}, "offset"),
    ],
)
def test_a_bad_search_is_a_400_problem_naming_the_field(offline, params, field):
    body = problem(Api("balie.maas").get("/customers", **params), 400, "invalid_request")
    assert body["field"] == field
    assert body["messages"]["nl"] and body["messages"]["en"]


def test_search_needs_a_token(offline):
    answer = Client().get("/api/v1/customers", {"q": "Anna"})
    problem(answer, 401, "invalid_token")


def test_search_costs_the_same_queries_for_one_or_fifty_results(offline):
    library = Library.objects.get(code="aan-de-maas")
    Customer.objects.bulk_create(
        Customer(
            library=library,
            card_number=f"88{n:04d}",
            name=f"Veel Klant {n:02d}",
            birth_date=date(1990, 1, 1),
            account_username=f"veel.{n}",
            kind="colleague" if n % 2 else "regular",
        )
        for n in range(60)
    )
    api = Api("balie.maas")
    api.ok("/customers", q=ANNA)  # the token's last use is written once, not per call
    counts = {}
    for query, expected in ((ANNA, 1), ("Anna Jansen", 1), ("veel klant", 50)):
        with CaptureQueriesContext(connection) as queries:
            page = api.ok("/customers", q=query, limit=50)
        assert len(page["results"]) == expected
        counts[query] = len(queries)
    # The token, then: is it a card number, how many, the page.
    assert counts == {ANNA: 4, "Anna Jansen": 4, "veel klant": 4}, counts


# -- customer_subscriptions ------------------------------------------------------------------


def _subscription(
    card: str, type_code: str, start: date, end: date, *, status: str = "active", role: str = "main"
) -> Subscription:
    customer = Customer.objects.get(card_number=card)
    type_ = SubscriptionType.objects.get(library=customer.library, code=type_code)
    made = Subscription.objects.create(
        library=customer.library, type=type_, start=start, end=end, status=status
    )
    Membership.objects.create(subscription=made, customer=customer, role=role)
    return made


def test_a_customer_s_subscriptions_newest_first_with_the_role(offline):
    today = clock.today()
    past = _subscription(ANNA, "compact", today - timedelta(days=800), today - timedelta(days=436))
    future = _subscription(ANNA, "basis", today + timedelta(days=165), today + timedelta(days=529))
    cancelled = _subscription(
        ANNA, "basis", today - timedelta(days=430), today - timedelta(days=300), status="cancelled"
    )
    api = Api("balie.maas")
    answer = api.ok(f"/customers/{ANNA}/subscriptions")
    assert answer["card_number"] == ANNA
    found = answer["results"]
    assert [s["id"] for s in found][::2] == [future.pk, cancelled.pk]
    assert found[3]["id"] == past.pk
    assert [s["state"] for s in found] == ["future", "active", "cancelled", "ended"]
    assert [s["type"] for s in found] == ["basis", "compleet", "basis", "compact"]
    assert {s["role"] for s in found} == {"main"}
    assert found[1]["members"] == [{"card_number": ANNA, "name": "Anna Jansen", "role": "main"}]
    # The same shape as the subscription in customer_get, plus the role.
    current = api.ok(f"/customers/{ANNA}")["subscription"]
    assert {**current, "role": "main"} == found[1]


def test_a_family_member_sees_the_family_subscription_in_their_own_role(offline):
    api = Api("balie.maas")
    karin = api.ok(f"/customers/{KARIN}/subscriptions")["results"]
    assert [(s["type"], s["role"]) for s in karin] == [("gezin", "partner")]
    assert {m["card_number"]: m["role"] for m in karin[0]["members"]} == {
        JEROEN: "main",
        KARIN: "partner",
        LOTTE: "child",
    }
    lotte = api.ok(f"/customers/{LOTTE}/subscriptions")["results"]
    assert [s["role"] for s in lotte] == ["child"]
    assert api.ok("/customers/2010000006/subscriptions")["results"][0]["role"] == "main"


def test_a_customer_without_subscriptions_has_an_empty_list(offline):
    Membership.objects.filter(customer__card_number=ANNA).delete()
    assert Api("balie.maas").ok(f"/customers/{ANNA}/subscriptions")["results"] == []


def test_subscriptions_of_another_library_s_customer_are_not_found(offline):
    duin = Api("balie.duin")
    problem(duin.get(f"/customers/{ANNA}/subscriptions"), 404, "customer_not_found")
    assert duin.ok(f"/customers/{ANNA_DUIN}/subscriptions")["results"][0]["type"] == "compact"
    problem(Api("balie.maas").get("/customers/2010999999/subscriptions"), 404, "customer_not_found")
    bad = problem(Api("balie.maas").get("/customers/x!y/subscriptions"), 400, "invalid_request")
    assert bad["field"] == "card_number"


def test_subscriptions_cost_the_same_queries_for_one_or_ten(offline):
    api = Api("balie.maas")
    api.ok(f"/customers/{ANNA}")
    with CaptureQueriesContext(connection) as one:
        assert len(api.ok(f"/customers/{ANNA}/subscriptions")["results"]) == 1
    today = clock.today()
    for n in range(9):
        made = _subscription(
            ANNA,
            "compact",
            today - timedelta(days=400 * (n + 1)),
            today - timedelta(days=400 * n + 40),
        )
        Membership.objects.create(
            subscription=made, role="partner", customer=Customer.objects.get(card_number=KARIN)
        )
    with CaptureQueriesContext(connection) as ten:
        assert len(api.ok(f"/customers/{ANNA}/subscriptions")["results"]) == 10
    assert len(one) == len(ten), (len(one), len(ten))


# -- subscription_type_list ------------------------------------------------------------------


def test_the_library_s_subscription_types_with_rights_and_sign_up(offline):
    api = Api("balie.maas")
    types = api.ok("/subscription-types")["results"]
    assert [t["code"] for t in types] == ["jeugd", "basis", "compact", "compleet", "gezin"]
    by_code = {t["code"]: t for t in types}
    assert by_code["compact"] == {
        "code": "compact",
        "name": "Volwassen Compact",
        "price": "49.00",
        "min_age": 18,
        "max_age": None,
        "family": False,
        "rights": {
            "main": [
                {"code": "ebooks", "limits": {"loans": 6, "period": "year"}},
                {"code": "audiobooks", "limits": {"loans": 6, "period": "year"}},
            ],
            "partner": [],
            "child": [],
        },
        "lends_online": True,
        "for_sale": True,
        "online_signup": True,
    }
    assert (by_code["jeugd"]["min_age"], by_code["jeugd"]["max_age"]) == (0, 17)
    assert by_code["basis"]["lends_online"] is False and by_code["basis"]["rights"]["main"] == []
    gezin = by_code["gezin"]
    assert gezin["family"] is True and gezin["online_signup"] is False  # not sold online
    assert gezin["rights"]["child"][0]["limits"]["youth"] is True
    assert [r["code"] for r in gezin["rights"]["partner"]] == ["ebooks", "audiobooks"]


def test_a_type_no_longer_sold_and_a_library_without_online_sign_up(offline):
    library = Library.objects.get(code="aan-de-maas")
    SubscriptionType.objects.filter(library=library, code="basis").update(active=False)
    api = Api("balie.maas")
    basis = {t["code"]: t for t in api.ok("/subscription-types")["results"]}["basis"]
    assert (basis["for_sale"], basis["online_signup"]) == (False, False)
    library.self_service_flows = [f for f in library.self_service_flows if f != "signup"]
    library.save()
    assert not any(t["online_signup"] for t in api.ok("/subscription-types")["results"])


def test_subscription_types_are_the_caller_s_library_s_only(offline):
    duin = Library.objects.get(code="duinstreek")
    SubscriptionType.objects.create(
        library=duin, code="strand", name="Strandpas", price="5.00", rights={"main": []}
    )
    maas = [t["code"] for t in Api("balie.maas").ok("/subscription-types")["results"]]
    duinstreek = [t["code"] for t in Api("balie.duin").ok("/subscription-types")["results"]]
    assert "strand" not in maas and "strand" in duinstreek
    with CaptureQueriesContext(connection) as queries:
        Api("balie.duin").ok("/subscription-types")
    assert len(queries) <= 4, [q["sql"] for q in queries.captured_queries]


# -- English problem texts -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "en-GB,en;q=0.9,nl;q=0.5"])
def test_problems_in_english_when_english_is_asked(offline, language):
    api = Api("balie.maas", language=language)
    missing = problem(api.get("/customers/2010999999/subscriptions"), 404, "customer_not_found")
    assert missing["detail"] == "This customer does not exist." == missing["messages"]["en"]
    assert missing["messages"]["nl"] == "Deze klant bestaat niet."
    invalid = problem(api.get("/customers", q="a"), 400, "invalid_request")
    assert invalid["detail"] == "The request is not valid: q."
    taken = problem(
        api.send(
            "post",
            "/customers",
            {"name": "Dubbel", "birth_date": "1990-01-01", "card_number": ANNA},
        ),
        409,
        "card_number_taken",
    )
    assert taken["detail"] == taken["messages"]["en"] != taken["messages"]["nl"]
    assert api.get("/customers/2010999999")["Content-Language"] == "en"


@pytest.mark.parametrize("language", [None, "nl", "de", "fr-BE"])
def test_problems_in_dutch_otherwise(offline, language):
    api = Api("balie.maas", language=language)
    missing = problem(api.get("/customers/2010999999/subscriptions"), 404, "customer_not_found")
    assert missing["detail"] == "Deze klant bestaat niet."
    assert problem(api.get("/customers", q=""), 400, "invalid_request")["detail"] == (
        "Het verzoek klopt niet: q."
    )


# -- unknown fields in request bodies --------------------------------------------------------


def _operations_with_a_body() -> list[tuple[str, str, str]]:
    schema = Client().get("/api/v1/openapi.json").json()
    return [
        (op["operationId"], method, path)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
        if "requestBody" in op
    ]


def test_every_body_of_the_api_refuses_unknown_fields(offline):
    """Every operation with a request body, as the schema lists them (also ones added
    later): a misspelt field is a 400 naming it, never silently ignored."""
    operations = _operations_with_a_body()
    assert len(operations) >= 10  # also the helpdesk's diagnosis, fix and answer
    lenient = set()
    for operation_id, method, path in operations:
        # Any card is fine: the body is checked before the operation looks anything up.
        url = re.sub(
            r"\{[a-z_]+\}", "1", path.removeprefix("/api/v1").replace("{card_number}", ANNA)
        )
        answer = Api("manager.maas").send(method, url, {"zz_misspelt": 1})
        body = answer.json()
        fields = {e["field"] for e in body.get("errors", [])}
        if (answer.status_code, body.get("code")) != (
            400,
            "invalid_request",
        ) or "zz_misspelt" not in fields:
            lenient.add(operation_id)
    assert not lenient, lenient
