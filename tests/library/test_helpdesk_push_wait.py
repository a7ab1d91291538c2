"""A fix is called a success only once its effect is confirmed, including the rights push it
triggers: when the push does not get through in time (identity answers it too late), the
fix says `waiting_for_push`, the diagnosis after it says why (the push waits in the queue),
and nothing is lost: the queue delivers it and the next diagnosis is clean. The identity
behind the proxy is the real one; only the push's answer is held past the timeout."""

from __future__ import annotations

import time

import pytest

from bibid.library.customers.models import Customer
from bibid.library.loginaccounts import identity as client_module
from bibid.library.loginaccounts import pushes
from bibid.library.loginaccounts.identity import IdentityClient
from bibid.library.loginaccounts.models import PendingPush

from .http_proxy import IdentityProxy
from .test_api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_pushes(demo, live_identity, settings):
    """Pushes (PUT …/authorization) reach identity only after the library gave up."""
    proxy = IdentityProxy(
        live_identity.url,
        hold_seconds=2.5,
        hold=lambda method, path: method == "PUT" and "/authorization" in path,
    )
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": proxy.url}
    settings.BIBID_IDENTITY_TIMEOUT = 1.0
    client_module._tokens.clear()
    yield proxy
    proxy.close()
    client_module._tokens.clear()


def test_a_fix_whose_push_is_late_waits_for_it(slow_pushes, settings, restores_identity):
    api = Api("helpdesk.maas")
    made = api.send(
        "post",
        "/customers",
        {"name": "Trage Push", "birth_date": "1990-01-02", "email": "trage.push@example.org"},
    )
    card = made.json()["card_number"]
    assert (
        api.send("post", "/subscriptions", {"card_number": card, "type": "compleet"}).status_code
        == 201
    )
    answer = api.send(
        "post",
        f"/customers/{card}/diagnosis/fix",
        {"problem": "cannot-login", "code": "no-login-account"},
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["done"]["action"] == "generate"
    assert body["fix"]["state"] == "waiting_for_push"  # not "worked": the rights are not there
    outdated = next(
        f
        for f in body["diagnosis"]["findings"] + body["diagnosis"]["also_seen"]
        if f["code"] == "authorization-outdated"
    )
    assert any("Wacht in de wachtrij" in line for line in outdated["evidence"]), outdated
    row = PendingPush.objects.get(customer__card_number=card)
    assert row.attempts >= 1 and row.last_error
    # The queue sends the same push again (same key) once it is due; identity got the first
    # one meanwhile and answers the replay: the diagnosis is then clean of it.
    customer = Customer.objects.select_related("library").get(card_number=card)
    direct = IdentityClient(
        base_url=slow_pushes.upstream,
        client_id=customer.library.identity_client_id,
        client_secret=customer.library.identity_client_secret,
    )
    for _ in range(100):  # until the held first push has reached identity
        if direct.account_status(card)["authorization"]["authorized_at"]:
            break
        time.sleep(0.2)
    PendingPush.objects.filter(pk=row.pk).update(next_attempt_at=row.requested_at)
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": slow_pushes.upstream}
    client_module._tokens.clear()
    pushes.drain()
    assert not PendingPush.objects.filter(customer__card_number=card).exists()
    again = api.send("post", f"/customers/{card}/diagnosis", {"problem": "cannot-login"})
    codes = [f["code"] for f in again.json()["findings"] + again.json()["also_seen"]]
    assert "authorization-outdated" not in codes
