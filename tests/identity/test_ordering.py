"""Ordered, exactly-once effects between the services (issue 13, faults 1 and 2): a late push
never overwrites a newer one, a retry with the same key is answered, never run twice, and a
key whose first request died is taken over after a while."""

import json
from datetime import timedelta

import pytest

from bibid.common import clock
from bibid.identity.accounts.models import Account
from bibid.identity.libraries.models import Change, IdempotentRequest, Link
from bibid.identity.mail.models import OutboxMessage

from .api_helpers import make_library
from .test_library_api import linked

pytestmark = pytest.mark.django_db


@pytest.fixture
def maas(db):
    return make_library("aan-de-maas", "Bibliotheek aan de Maas")


def push(version: int | None, subscription: str, *rights: str) -> dict:
    body = {
        "customer": {
            "name": "Anna Jansen",
            "card_number": "2001",
            "subscription_type": subscription,
        },
        "rights": [{"code": code} for code in rights],
    }
    return body | ({"version": version} if version is not None else {})


def test_a_late_old_push_never_overwrites_a_newer_one(maas):
    linked(maas, "2001", "anna.jansen")
    newer = maas.put("/customers/2001/authorization", push(20, "Compleet", "ebooks"))
    assert newer.json()["result"] == "updated" and newer.json()["version"] == 20
    # The push of version 10 timed out at the library but arrives now, after version 20.
    late = maas.put("/customers/2001/authorization", push(10, "Basis"))
    assert late.status_code == 200
    body = late.json()
    assert body["result"] == "stale" and body["version"] == 20
    assert [r["code"] for r in body["rights"]] == ["ebooks"]  # what identity holds
    link = Link.objects.get(customer_ref="2001")
    assert link.customer["subscription_type"] == "Compleet" and link.authorization_version == 20
    # A newer one still goes in; the same version again is "unchanged".
    assert (
        maas.put("/customers/2001/authorization", push(30, "Basis")).json()["result"] == "updated"
    )
    assert (
        maas.put("/customers/2001/authorization", push(30, "Basis")).json()["result"] == "unchanged"
    )
    # Without a version (a library system that does not send one) the push is applied, and
    # the version held stays: a late versioned push is still recognised.
    assert (
        maas.put("/customers/2001/authorization", push(None, "Compleet", "ebooks")).json()["result"]
        == "updated"
    )
    assert maas.put("/customers/2001/authorization", push(25, "Jeugd")).json()["result"] == "stale"
    assert Link.objects.get(customer_ref="2001").customer["subscription_type"] == "Compleet"


def test_the_bulk_sync_never_overwrites_a_newer_single_push(maas):
    linked(maas, "2001", "anna.jansen")
    linked(maas, "2002", "bram.devries")
    maas.put("/customers/2001/authorization", push(50, "Compleet", "ebooks"))
    items = [
        {"customer_ref": "2001", **push(40, "Basis")},
        {"customer_ref": "2002", **push(40, "Basis")}
        | {"customer": {"name": "Bram", "card_number": "2002"}},
    ]
    answer = maas.post("/authorizations", {"items": items}).json()
    assert answer["counts"] == {"updated": 1, "unchanged": 0, "stale": 1, "not_linked": 0}
    assert Link.objects.get(customer_ref="2001").customer["subscription_type"] == "Compleet"
    assert Link.objects.get(customer_ref="2002").authorization_version == 40


def test_a_retry_with_the_same_key_gets_the_first_answer_and_one_account(maas):
    key = {"Idempotency-Key": "generate-2003-once"}
    body = {"recovery_email": "klant@example.org"}
    first = maas.post("/customers/2003/account", body, headers=key)
    again = maas.post("/customers/2003/account", body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["account"]["account_id"] == first.json()["account"]["account_id"]
    assert Account.objects.filter(links__customer_ref="2003").count() == 1
    assert OutboxMessage.objects.filter(kind="activation").count() == 1  # one mail
    # The library's own feed says the link was made (a library whose answer was lost learns
    # it from there), once.
    assert list(Change.objects.filter(customer_ref="2003").values_list("kind", flat=True)) == [
        "link_created"
    ]


def test_a_key_whose_first_request_died_is_taken_over_after_a_while(maas):
    from bibid.identity.libraries.models import Library

    library = Library.objects.get(code="aan-de-maas")
    body = {"recovery_email": "klant@example.org"}
    key = {"Idempotency-Key": "generate-2004"}
    # The first request's process died: its slot stayed "running", and its work (committed
    # together with the answer) was rolled back with it.
    slot = IdempotentRequest.objects.create(library=library, key="generate-2004", fingerprint="-")
    from bibid.identity.api.idempotency import _fingerprint  # the same request's fingerprint

    running = maas.post("/customers/2004/account", body, headers=key)
    assert running.status_code == 422  # another fingerprint: never confused with this one
    expected = _fingerprint(
        type(
            "Sent",
            (),
            {
                "method": "POST",
                "path": "/api/v1/customers/2004/account",
                "body": json.dumps(body).encode(),
            },
        )()
    )
    IdempotentRequest.objects.filter(pk=slot.pk).update(fingerprint=expected)
    still = maas.post("/customers/2004/account", body, headers=key)
    assert still.status_code == 409 and still.json()["code"] == "request_in_progress"
    assert not Link.objects.filter(customer_ref="2004").exists()
    IdempotentRequest.objects.filter(pk=slot.pk).update(
        created_at=clock.now() - timedelta(minutes=2)
    )
    taken_over = maas.post("/customers/2004/account", body, headers=key)
    assert taken_over.status_code == 201
    assert Link.objects.filter(customer_ref="2004").count() == 1
    replay = maas.post("/customers/2004/account", body, headers=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


def test_an_unlink_by_the_library_is_in_its_own_feed(maas):
    linked(maas, "2005", "anna.jansen")
    assert maas.delete("/customers/2005/link").status_code == 200
    kinds = list(
        Change.objects.filter(customer_ref="2005").order_by("id").values_list("kind", "data")
    )
    assert kinds == [
        ("link_created", {"username": "anna.jansen"}),
        ("link_removed", {"reason": "unlinked_by_library"}),
    ]


def test_a_library_s_versions_order_only_its_own_pushes(maas):
    """A careless or hostile library that sends an enormous version blocks nothing but its
    own later pushes: versions are kept per link, and each library has its own link."""
    duin = make_library("duinstreek", "Bibliotheek Duinstreek")
    account = linked(maas, "2001", "anna.jansen")
    linked(duin, "3001", account.username)
    assert (
        maas.put("/customers/2001/authorization", push(2**62, "Compleet", "ebooks")).json()[
            "result"
        ]
        == "updated"
    )
    other = push(1, "Jeugd", "youth") | {"customer": {"name": "Anna", "card_number": "3001"}}
    assert duin.put("/customers/3001/authorization", other).json()["result"] == "updated"
    assert Link.objects.get(customer_ref="3001").authorization_version == 1


def test_the_same_request_with_its_json_keys_in_another_order_is_replayed(maas):
    """A library that kept the request in a database that reorders JSON keys (PostgreSQL's
    jsonb) and sends it again is answered, not told the key was used for another request."""
    key = {"Idempotency-Key": "generate-2006"}
    first = maas.client.post(
        "/api/v1/customers/2006/account",
        data='{"recovery_email": "a@example.org", "language": "nl"}',
        content_type="application/json",
        **maas._headers(key),
    )
    again = maas.client.post(
        "/api/v1/customers/2006/account",
        data='{"language":"nl","recovery_email":"a@example.org"}',
        content_type="application/json",
        **maas._headers(key),
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    other = maas.client.post(
        "/api/v1/customers/2006/account",
        data='{"language":"en","recovery_email":"a@example.org"}',
        content_type="application/json",
        **maas._headers(key),
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
