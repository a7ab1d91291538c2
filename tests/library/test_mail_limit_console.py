"""The login service's mail limit seen from the desk: "Stuur wachtwoordherstel-e-mail" pressed
again and again sends at most three mails, then the console says why in Dutch (not a 500 or
a 502), and the REST API answers the same 429 problem with Retry-After."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from bibid.library.loginaccounts import services as login
from bibid.library.staff.models import AuditEvent

from .test_api import Api
from .test_console import signed_in
from .test_loginaccounts import new_customer

pytestmark = pytest.mark.django_db


def result_summary(page: str) -> str:
    found = re.search(r'<p data-testid="result-summary">(.*?)</p>', page, re.S)
    assert found, page[:2000]
    return found.group(1).strip()


def test_the_console_shows_the_mail_limit_in_dutch(staff):
    desk = staff("balie.maas")
    found = new_customer(desk)
    login.generate(actor=desk, customer=found)  # the customer's e-mail is the recovery address
    client = signed_in("balie.maas")
    url = f"/console/klanten/{found.card_number}/inlogaccount/wachtwoord-herstel/"
    summaries = []
    for _ in range(4):
        pressed = client.post(url)
        assert pressed.status_code == 302  # the answer shows on the customer page
        page = client.get(pressed["Location"].split("#")[0])
        assert page.status_code == 200
        summaries.append(result_summary(page.text))
    assert summaries[:3] == [summaries[0]] * 3 and "e-mail om een nieuw wachtwoord" in summaries[0]
    refused = summaries[3]
    assert "al genoeg e-mails" in refused and re.search(r"over \d+ minuten? opnieuw", refused)
    audit = AuditEvent.objects.filter(action="login_password_reset", customer=found)
    assert [e.result for e in audit.order_by("pk")] == ["ok", "ok", "ok", "refused"]
    assert audit.order_by("pk").last().detail == {"identity": "mail_limit", "status": 429}


def test_the_rest_api_passes_the_429_on_with_retry_after(staff):
    desk = staff("balie.maas")
    found = new_customer(desk)
    login.generate(actor=desk, customer=found)
    api = Api("balie.maas")
    path = f"/customers/{found.card_number}/login-account/password-reset"
    answers = [api.send("post", path) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    refused = answers[3]
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["code"] == "mail_limit" and "al genoeg e-mails" in body["messages"]["nl"]
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert body["data"]["retry_after"] == int(refused["Retry-After"])
    schema = Client().get("/api/v1/openapi.json").json()
    declared = schema["paths"]["/api/v1/customers/{card_number}/login-account/password-reset"]
    assert "429" in declared["post"]["responses"]
