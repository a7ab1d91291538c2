"""Linking an existing account takes two steps (rule L2): the console's code/handover step,
the REST API's 202 then 201, and the operations underneath; identity's link requests faked
(tests/library/fake_identity.py) so that the patron's code is known."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from bibid.common import demo as spec
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.loginaccounts import services as login
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.staff.models import AuditEvent, Staff
from bibid.library.staff.permissions import Actor
from tests.mfa_support import pass_second_step

from .fake_identity import BASE, CODE, FakeLinks

pytestmark = pytest.mark.django_db
FATIMA, NINA = "2010000006", "2010000014"  # no login account; a colleague
PASSWORDS = {s.username: s.password for s in spec.STAFF}


@pytest.fixture
def offline(db):
    """The demo library data only: no identity service is needed for these tests."""
    from bibid.library import demo as library_demo

    library_demo.load()


@pytest.fixture
def links(offline, monkeypatch, settings):
    return FakeLinks().install(monkeypatch, settings)


def actor(username: str) -> Actor:
    return Actor(Staff.objects.select_related("library", "customer").get(username=username))


def customer(card: str) -> Customer:
    return Customer.objects.select_related("library").get(
        card_number=card, library__code="aan-de-maas"
    )


def signed_in(username: str) -> Client:
    client = Client()
    assert (
        client.post(
            "/console/inloggen/", {"username": username, "password": PASSWORDS[username]}
        ).status_code
        == 302
    )
    # The password opens the second step only (bibid.common.mfa); demo staff have an app.
    done = pass_second_step(client, Staff.objects.get(username=username), "/console/tweede-stap/")
    assert done.status_code == 302, done.content[:500]
    return client


def section(html: str, testid: str) -> str:
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no {testid} on the page"
    return found.group(2)


def test_link_opens_a_request_and_links_nothing_until_confirmed(links):
    desk, fatima = actor("balie.maas"), customer(FATIMA)
    opened = login.link(actor=desk, customer=fatima, username="fatima.e")
    assert opened.summary == (
        "Vraag de klant om de code uit de e-mail, of laat de klant zelf inloggen op het scherm."
    )
    assert opened.data["handover_url"] == f"{BASE}/koppelen/{opened.data['request_id']}/"
    assert customer(FATIMA).account_id is None
    assert not PendingPush.objects.filter(customer=fatima).exists()
    with pytest.raises(Problem) as wrong:
        login.confirm_link(
            actor=desk, customer=fatima, request_id=opened.data["request_id"], code="000000"
        )
    assert (wrong.value.code, wrong.value.extra) == ("wrong_code", {"attempts_left": 4})
    assert customer(FATIMA).account_id is None
    done = login.confirm_link(
        actor=desk, customer=fatima, request_id=opened.data["request_id"], code=CODE
    )
    assert "fatima.e is gekoppeld" in done.summary
    assert customer(FATIMA).account_username == "fatima.e"
    assert PendingPush.objects.filter(customer=fatima).exists()  # rights follow at once
    assert list(
        AuditEvent.objects.filter(card_number=FATIMA, action__startswith="login_link")
        .order_by("at", "pk")
        .values_list("action", "result")
    ) == [("login_link", "ok"), ("login_link_confirm", "refused"), ("login_link_confirm", "ok")]


def test_a_handover_address_of_another_site_is_never_passed_on(links, monkeypatch):
    from bibid.library.loginaccounts.identity import IdentityClient

    real = IdentityClient.account_link

    def elsewhere(client, ref, username=None):
        return {**real(client, ref, username), "handover_url": "https://evil.example/x"}

    monkeypatch.setattr(IdentityClient, "account_link", elsewhere)
    opened = login.link(actor=actor("balie.maas"), customer=customer(FATIMA))
    assert opened.data["handover_url"] == ""


def test_a_refusal_does_not_name_a_colleague(links):
    desk, fatima = actor("balie.maas"), customer(FATIMA)
    opened = login.link(actor=desk, customer=fatima, username="nina.degroot")
    links.linked_to_other = NINA
    with pytest.raises(Problem) as refused:
        login.confirm_link(
            actor=desk, customer=fatima, request_id=opened.data["request_id"], code=CODE
        )
    assert refused.value.code == "account_linked_to_other_customer"
    for language in ("nl", "en"):
        assert NINA not in refused.value.text(language)
        assert NINA not in json.dumps(refused.value.as_json(language=language))
    assert "andere klant van deze bibliotheek" in refused.value.text("nl")
    # Another customer who is no colleague is named, as identity says it.
    links.linked_to_other = "2010000010"
    with pytest.raises(Problem) as named:
        login.confirm_link(
            actor=desk, customer=fatima, request_id=opened.data["request_id"], code=CODE
        )
    assert "2010000010" in named.value.text("nl")


def test_the_console_link_step_code_wrong_code_and_handover(links):
    client = signed_in("balie.maas")
    started = client.post(
        f"/console/klanten/{FATIMA}/inlogaccount/koppelen/", {"koppel-username": "fatima.e"}
    )
    assert started.status_code == 302 and started["Location"].endswith("#koppelen")
    page = client.get(started["Location"]).text
    step = section(page, "link-step")
    request_id = re.search(r'name="request_id" value="([^"]+)"', step).group(1)
    assert "Vraag de klant om de code uit de e-mail" in step
    assert re.search(r'<input id="link-code" name="code"[^>]*autofocus', step)
    handover = re.search(r'<a [^>]*data-testid="handover"[^>]*>', step).group(0)
    assert f'href="{BASE}/koppelen/{request_id}/"' in handover
    assert 'target="_blank"' in handover and "noopener" in handover
    assert "De klant heeft bevestigd" in step and ">Koppel</button>" in step
    confirm = f"/console/klanten/{FATIMA}/inlogaccount/koppelen-bevestigen/"
    wrong = client.get(
        client.post(confirm, {"request_id": request_id, "code": "111111"})["Location"]
    ).text
    error = section(wrong, "link-error")
    assert "Deze code klopt niet. Nog 4 pogingen." in error
    assert error.count("Nog 4 pogingen") == 1  # said once
    assert customer(FATIMA).account_id is None
    waiting = client.get(
        client.post(confirm, {"request_id": request_id, "without_code": "on"})["Location"]
    ).text
    assert "nog niet bevestigd" in section(waiting, "link-error")
    links.patron_confirms(request_id)
    done = client.get(
        client.post(confirm, {"request_id": request_id, "without_code": "on"})["Location"]
    ).text
    assert "fatima.e is gekoppeld" in section(done, "result-summary")
    assert 'data-testid="link-step"' not in done
    assert customer(FATIMA).account_username == "fatima.e"
    # The audit list says it in the table's words.
    assert "inlogaccount gekoppeld" in done and "koppelen aangevraagd" in done


def test_the_console_link_step_with_the_code(links):
    client = signed_in("balie.maas")
    client.post(f"/console/klanten/{FATIMA}/inlogaccount/koppelen/", {"koppel-username": ""})
    request_id = next(iter(links.requests))
    assert links.calls == [("link", FATIMA, None)]  # the username may be left out
    client.post(
        f"/console/klanten/{FATIMA}/inlogaccount/koppelen-bevestigen/",
        {"request_id": request_id, "code": f" {CODE} "},
    )
    assert customer(FATIMA).account_username == "zelf.ingelogd"


def test_the_api_links_in_two_steps(links):
    from bibid.library.demo import demo_token

    api = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {demo_token('balie.maas')}"}

    def post(path, body):
        return api.post(
            f"/api/v1/customers/{FATIMA}/login-account{path}",
            json.dumps(body),
            content_type="application/json",
            **headers,
        )

    opened = post("/link", {"username": "fatima.e"})
    assert opened.status_code == 202, opened.content
    body = opened.json()
    assert body["handover_url"] == f"{BASE}/koppelen/{body['request_id']}/"
    assert body["action"] == "link" and customer(FATIMA).account_id is None
    wrong = post("/link/confirm", {"request_id": body["request_id"], "code": "999999"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "wrong_code"
    assert wrong.json()["data"] == {"attempts_left": 4}
    assert post("/link/confirm", {"request_id": body["request_id"], "code": "12"}).status_code in (
        400,
        422,
    )
    linked = post("/link/confirm", {"request_id": body["request_id"], "code": CODE})
    assert linked.status_code == 201, linked.content
    assert customer(FATIMA).account_username == "fatima.e"
    schema = Client().get("/api/v1/openapi.json").json()
    ids = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"login_account_link", "login_account_link_confirm"} <= ids
