"""Metrics and readiness of the library service: diagnoses, push retries, the push queue
(issue 13)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from bibid.common import clock
from bibid.library.customers.models import Customer
from bibid.library.helpdesk import diagnosis
from bibid.library.loginaccounts import pushes
from bibid.library.loginaccounts.models import PendingPush

pytestmark = pytest.mark.django_db
TOKEN = "library-metrics-" + "t" * 32


@pytest.fixture(autouse=True)
def _token(settings):
    settings.BIBID_METRICS_TOKEN = TOKEN


def scrape() -> dict[tuple[str, tuple], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_token():
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_a_diagnosis_is_counted_by_the_code_of_its_cause(staff):
    before = scrape()
    bram = Customer.objects.get(card_number="2010000002", library__code="aan-de-maas")
    found = diagnosis.run(actor=staff("helpdesk.maas"), customer=bram, problem="cannot-login")
    cause = found.findings[0].code
    after = scrape()
    name = "bibid_diagnoses_total"
    assert value(after, name, cause=cause) == value(before, name, cause=cause) + 1


def test_a_failed_push_is_counted_as_a_retry_and_waits_in_the_queue(demo, settings):
    anna = Customer.objects.get(card_number="2010000001", library__code="aan-de-maas")
    PendingPush.objects.all().delete()
    pushes.request_push([anna.pk])
    before = scrape()
    assert value(before, "bibid_queue_depth", queue="pushes") == 1
    assert ("bibid_queue_depth", (("queue", "unconfirmed_calls"),)) in before
    # Nobody listens on port 9: the login service is down for this push.
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": "http://127.0.0.1:9"}
    assert pushes.drain()["waiting"] == 1
    after = scrape()
    assert value(after, "bibid_push_retries_total") == value(before, "bibid_push_retries_total") + 1
    assert value(after, "bibid_queue_depth", queue="pushes") == 1


def test_queue_age_and_readiness_name_a_stuck_push_queue(demo, monkeypatch):
    monkeypatch.setenv("BIBID_STUCK_QUEUE_SECONDS", "900")
    PendingPush.objects.all().delete()
    ids = list(
        Customer.objects.filter(library__code="aan-de-maas").values_list("pk", flat=True)[:3]
    )
    pushes.request_push(ids)
    assert Client().get("/readyz").status_code == 200
    PendingPush.objects.filter(customer_id=ids[0]).update(
        requested_at=clock.now() - timedelta(minutes=16)
    )
    samples = scrape()
    assert value(samples, "bibid_queue_depth", queue="pushes") == 3
    assert 16 * 60 <= value(samples, "bibid_queue_oldest_age_seconds", queue="pushes") < 18 * 60
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert "pushes" in body["stuck"] and body["queues"]["pushes"]["depth"] == 3
