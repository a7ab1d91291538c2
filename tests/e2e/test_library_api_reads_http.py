"""The library REST API read as an integrator (a library's own system) reads it, over real
HTTP against a running Bibid: search customers page by page, read a customer's
subscriptions, list the subscription types, get problems in English; and the reads conform
to the served OpenAPI schema (schemathesis)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import requests

from .harness import ROOT
from .library_api import LIBRARY_A, READ, assert_problem, demo_client, new_ref, request_token

TIMEOUT = 30
NINA = "2010000014"
READS = ("customer_search", "customer_subscriptions", "subscription_type_list")


class Integrator:
    """A library system with a staff member's personal token for the library REST API."""

    def __init__(self, system, username: str, language: str | None = None) -> None:
        self.base = system.urls["library"] + "/api/v1"
        self.http = requests.Session()
        token = next(s for s in system.demo["staff"] if s["username"] == username)["api_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        if language:
            self.http.headers["Accept-Language"] = language

    def call(self, method: str, path: str, **options) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=TIMEOUT, **options)

    def ok(self, method: str, path: str, status: int = 200, **options) -> dict:
        answer = self.call(method, path, **options)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text[:800])
        assert answer.headers["Content-Type"].split(";")[0] == "application/json"
        return answer.json()

    def search_all(self, q: str, limit: int) -> list[dict]:
        """Every page of a search, as an integrator pages: until `more` is false."""
        found, offset = [], 0
        while True:
            page = self.ok("GET", "/customers", params={"q": q, "limit": limit, "offset": offset})
            found += page["results"]
            assert len(page["results"]) <= limit
            if not page["more"]:
                assert len(found) == page["count"]
                return found
            offset += limit


@pytest.fixture(scope="module")
def desk(system) -> Integrator:
    return Integrator(system, "balie.maas")


def test_an_integrator_finds_customers_and_reads_their_subscriptions(system, desk):
    family = f"Integratie{uuid.uuid4().hex[:6]}"
    made = [
        desk.ok(
            "POST",
            "/customers",
            201,
            json={"name": f"{first} {family}", "birth_date": "1980-03-0" + str(n + 1)},
        )["card_number"]
        for n, first in enumerate(("Ada", "Bob", "Cor", "Dee", "Eef", "Fay", "Gus"))
    ]
    main, partner = made[0], made[1]
    subscription = desk.ok(
        "POST",
        "/subscriptions",
        201,
        json={
            "card_number": main,
            "type": "gezin",
            "members": [{"card_number": partner, "role": "partner"}],
        },
    )

    # Search: part of the name in another case, three per page, every customer once.
    found = desk.search_all(family.upper(), limit=3)
    assert [c["card_number"] for c in found] == made
    assert {c["login_account"]["visible"] for c in found} == {True}
    # A whole card number is that customer alone.
    assert [c["name"] for c in desk.ok("GET", "/customers", params={"q": partner})["results"]] == [
        f"Bob {family}"
    ]

    # The partner's subscriptions: the family subscription, in the partner's role.
    read = desk.ok("GET", f"/customers/{partner}/subscriptions")
    assert read["card_number"] == partner
    assert [(s["id"], s["type"], s["role"], s["state"]) for s in read["results"]] == [
        (subscription["id"], "gezin", "partner", "active")
    ]
    assert {m["card_number"] for m in read["results"][0]["members"]} == {main, partner}

    # The types: the one taken out is there, with its rights per role.
    types = {t["code"]: t for t in desk.ok("GET", "/subscription-types")["results"]}
    assert types["gezin"]["name"] == subscription["type_name"]
    assert types["gezin"]["family"] is True and types["gezin"]["online_signup"] is False
    assert {r["code"] for r in types["gezin"]["rights"]["child"]} == {"ebooks", "audiobooks"}
    assert types["compact"]["online_signup"] is True and types["compact"]["price"] == "49.00"


def test_colleagues_are_found_but_not_their_accounts(system, desk):
    # (Other modules share this running system: look at the demo's Nina only.)
    by_name = desk.ok("GET", "/customers", params={"q": "Nina de Groot"})["results"]
    assert [(c["kind"], c["login_account"]) for c in by_name if c["card_number"] == NINA] == [
        ("colleague", {"linked": False, "username": None, "visible": False})
    ]
    # Her e-mail address holds her username: found by the library's own data, account hidden.
    by_mail = desk.ok("GET", "/customers", params={"q": "nina.degroot"})["results"]
    assert [c["login_account"]["username"] for c in by_mail if c["card_number"] == NINA] == [None]
    # The colleague herself sees her own account.
    herself = Integrator(system, "nina").ok("GET", "/customers", params={"q": NINA})
    assert herself["results"][0]["login_account"]["username"] == "nina.degroot"


def test_another_library_s_customers_do_not_exist_for_the_integrator(system, desk):
    duin = Integrator(system, "balie.duin")
    assert duin.ok("GET", "/customers", params={"q": "2010000001"})["count"] == 0
    annas = [
        c["card_number"]
        for c in duin.ok("GET", "/customers", params={"q": "Anna Jansen"})["results"]
    ]
    assert "3020000001" in annas and all(card.startswith("3020") for card in annas), annas
    assert_problem(
        duin.call("GET", "/customers/2010000001/subscriptions"), 404, "customer_not_found"
    )
    own = {t["code"] for t in duin.ok("GET", "/subscription-types")["results"]}
    assert own == {t["code"] for t in desk.ok("GET", "/subscription-types")["results"]}


def test_problems_come_in_english_when_english_is_asked(system):
    english = Integrator(system, "balie.maas", language="en-GB,en;q=0.8")
    dutch = Integrator(system, "balie.maas")
    asks = [
        (
            400,
            "invalid_request",
            "GET",
            "/customers",
            {"params": {"q": "x"}},
            "The request is not valid: q.",
        ),
        (
            404,
            "customer_not_found",
            "GET",
            "/customers/2010999999/subscriptions",
            {},
            "This customer does not exist.",
        ),
        (
            409,
            "card_number_taken",
            "POST",
            "/customers",
            {"json": {"name": "Dubbel", "birth_date": "1990-01-01", "card_number": "2010000001"}},
            None,
        ),
    ]
    for status, code, method, path, options, text in asks:
        in_english = assert_problem(english.call(method, path, **options), status, code)
        in_dutch = assert_problem(dutch.call(method, path, **options), status, code)
        assert in_english["detail"] == in_english["messages"]["en"], in_english
        assert in_dutch["detail"] == in_dutch["messages"]["nl"], in_dutch
        assert in_english["detail"] != in_dutch["detail"]
        assert text is None or in_english["detail"] == text
    assert english.call("GET", "/customers", params={"q": "x"}).headers["Content-Language"] == "en"

    # Identity's library API, on the same shared ProblemApi, answers in English too.
    client = demo_client(system, LIBRARY_A)
    token = request_token(system.urls["identity"], client, READ).json()["access_token"]
    missing = requests.get(
        f"{system.urls['identity']}/api/v1/customers/{new_ref()}/account",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        timeout=TIMEOUT,
    )
    body = assert_problem(missing, 404)
    assert body["detail"] == body["messages"]["en"] != body["messages"]["nl"]


def test_the_reads_conform_to_the_served_schema(system):
    """Schemathesis generates valid and invalid requests for the three reads from the served
    OpenAPI schema and checks every answer (no 5xx, documented statuses, content types and
    bodies). Reads only: nothing it sends changes anything."""
    token = next(s for s in system.demo["staff"] if s["username"] == "balie.maas")["api_token"]
    examples = os.environ.get("BIBID_SCHEMATHESIS_EXAMPLES", "60")
    selected = [arg for operation in READS for arg in ("--include-operation-id", operation)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{system.urls['library']}/api/v1/openapi.json",
            *selected,
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            examples,
            "--workers",
            "2",
            "--seed",
            "20261206",
            "--no-color",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert f"{len(READS)} selected / " in done.stdout, summary
