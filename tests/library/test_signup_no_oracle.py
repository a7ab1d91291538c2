"""Self-service lid worden leaks nothing about usernames, and never calls the login service
inside a database transaction (issue point 9)."""

import json
import re
import uuid

import pytest
from django.db import connection
from django.test import Client

from bibid.library.customers.models import Customer
from bibid.library.loginaccounts.identity import IdentityClient, IdentityUnavailable
from bibid.library.subscriptions.models import Membership, Subscription
from bibid.library.tenants.models import Library

pytestmark = pytest.mark.django_db


def form(type_id: int, **extra) -> dict:
    tag = uuid.uuid4().hex[:8]
    return {
        "name": f"Nieuw Lid {tag}",
        "birth_date": "1990-02-03",
        "email": f"lid.{tag}@example.org",
        "subscription_type": type_id,
        "terms": "on",
        **extra,
    }


def compleet() -> int:
    return Library.objects.get(code="aan-de-maas").subscription_types.get(code="compleet").pk


def activation_mail(identity, card: str) -> dict:
    out = identity.shell(
        "import json\n"
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.mail.messages import compose\n"
        "from bibid.identity.mail.models import OutboxMessage\n"
        f"a = Account.objects.get(username={card!r})\n"
        "m = OutboxMessage.objects.get(account_id=a.pk, kind='activation')\n"
        "c = compose(m, a)\n"
        "print(json.dumps({'subject': c.subject, 'text': c.text, 'html': c.html}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def test_a_taken_username_cannot_be_observed(demo, live_identity):
    """Two sign-ups, one of them trying a taken name (the field is gone; a bot may still send
    it): the pages and the activation mails are the same but for names, addresses and links."""
    tried = form(compleet(), username="anna.jansen")
    plain = form(compleet())
    answers = [Client().post("/aanmelden/aan-de-maas/", data) for data in (tried, plain)]
    assert [a.status_code for a in answers] == [200, 200]
    customers = [Customer.objects.get(name=data["name"]) for data in (tried, plain)]
    assert [c.account_username for c in customers] == [c.card_number for c in customers]

    def same(text: str, data: dict, customer: Customer) -> str:
        text = text.replace(data["email"], "ADRES").replace(data["name"], "NAAM")
        text = text.replace(customer.card_number, "PAS")
        text = re.sub(r"http://[^\s\"<]+", "LINK", text)
        return re.sub(r'value="[^"]*"', "", text)

    pages = [same(a.text, d, c) for a, d, c in zip(answers, (tried, plain), customers, strict=True)]
    assert pages[0] == pages[1]
    mails = [activation_mail(live_identity, c.card_number) for c in customers]
    for part in ("subject", "text", "html"):
        first, second = (
            same(m[part], d, c) for m, d, c in zip(mails, (tried, plain), customers, strict=True)
        )
        assert first == second, part
    assert "in gebruik" not in mails[0]["text"]


def test_identity_is_called_outside_any_transaction(demo, monkeypatch):
    depth = len(connection.savepoint_ids)  # the test's own transaction
    original, seen = IdentityClient.call, []

    def call(self, method, path, **kwargs):
        seen.append((path, len(connection.savepoint_ids) - depth, kwargs.get("idempotency_key")))
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(IdentityClient, "call", call)
    data = form(compleet())
    assert Client().post("/aanmelden/aan-de-maas/", data).status_code == 200
    generate = [entry for entry in seen if entry[0].endswith("/account")]
    assert len(generate) == 1 and generate[0][1] == 0  # no transaction of ours was open
    assert generate[0][2]  # with an Idempotency-Key
    customer = Customer.objects.get(name=data["name"])
    assert customer.account_id is not None


def test_identity_unavailable_leaves_no_half_made_customer(demo, monkeypatch):
    keys = []

    def unavailable(self, method, path, **kwargs):
        keys.append(kwargs.get("idempotency_key"))
        raise IdentityUnavailable("timeout")

    monkeypatch.setattr(IdentityClient, "call", unavailable)
    before = (Customer.objects.count(), Subscription.objects.count(), Membership.objects.count())
    data = form(compleet())
    response = Client().post("/aanmelden/aan-de-maas/", data)
    assert response.status_code == 503
    assert "Aanmelden lukt nu even niet" in response.text
    # One retry, with the same key (a lost answer is replayed, not made twice).
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
    # The compensating transaction took the customer and its subscription away again.
    assert not Customer.objects.filter(name=data["name"]).exists()
    assert (
        Customer.objects.count(),
        Subscription.objects.count(),
        Membership.objects.count(),
    ) == before
