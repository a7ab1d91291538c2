"""A fix is called a success only once its effect is confirmed, including the rights push it
triggers: when the push does not get through in time (identity answers it too late), the
fix says `waiting_for_push`, the diagnosis after it says why (the push waits in the queue),
and nothing is lost: the queue delivers it and the next diagnosis is clean. The identity
behind the proxy is the real one; only the push's answer is held past the timeout."""

from __future__ import annotations

import time

import pytest

from bibid.common import clock
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


IN_PROGRESS = {  # identity's answer to a request whose Idempotency-Key is still running
    "type": "https://bibid.example/problems/request-in-progress",
    "title": "Request in progress",
    "status": 409,
    "code": "request_in_progress",
    "messages": {"nl": "Hetzelfde verzoek wordt nog verwerkt.", "en": "Still running."},
}


@pytest.mark.parametrize("worker_delivers", [True, False], ids=["worker answered", "no answer"])
def test_a_push_that_meets_the_queues_own_waits_for_its_answer(
    transactional_db, demo, live_identity, settings, restores_identity, worker_delivers
):
    """The helpdesk's push_now and the queue's worker can send one push (same key) at once:
    identity answers the later one 409 "still running". push_now then waits for the other's
    answer (bounded) instead of calling a push that is arriving "waiting" (a CI flake on a
    busy machine), and when no answer comes it still says so. The proxy gives push_now
    identity's 409; this test's thread plays the worker, whose push reaches the real identity."""
    import threading

    met = threading.Event()

    def reply(method, path):
        if method == "PUT" and "/authorization" in path and not met.is_set():
            met.set()
            return 409, IN_PROGRESS
        return None

    proxy = IdentityProxy(live_identity.url, reply=reply)
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": proxy.url}
    settings.BIBID_IDENTITY_TIMEOUT = 2.0
    client_module._tokens.clear()
    customer = (
        Customer.objects.filter(account_id__isnull=False, library__code="aan-de-maas")
        .select_related("library")
        .first()
    )
    PendingPush.objects.filter(customer=customer).delete()
    row = PendingPush.objects.create(
        customer=customer, requested_at=clock.now(), next_attempt_at=clock.now()
    )
    worker_counts = {"pushed": 0, "dropped": 0, "waiting": 0}

    def the_queues_worker():
        met.wait(30)
        time.sleep(0.3)  # push_now has had its 409 and waits
        pushes._push_one(
            PendingPush.objects.select_related("customer__library").get(pk=row.pk),
            {},
            worker_counts,
        )

    worker = threading.Thread(target=the_queues_worker, daemon=True)
    try:
        if worker_delivers:
            worker.start()
        done = pushes.push_now(customer)
        worker.join(30) if worker_delivers else None
    finally:
        proxy.close()
        client_module._tokens.clear()
    assert met.is_set()  # push_now did meet the "other" push
    if worker_delivers:
        assert worker_counts["pushed"] == 1, worker_counts
        assert done is True
        assert not PendingPush.objects.filter(customer=customer).exists()
    else:
        assert done is False  # nobody answered: it is still waiting, and says so
        left = PendingPush.objects.get(customer=customer)
        assert left.attempts == 1 and "request_in_progress" in left.last_error
