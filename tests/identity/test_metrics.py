"""Metrics, request ids and readiness of the identity service (issue 13)."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from pythonjsonlogger.json import JsonFormatter

from bibid.common import clock, logs, requestid
from bibid.common.guard import lanes
from bibid.identity.mail import sender
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue
from bibid.identity.oidc.models import LogoutDelivery

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-" + "k" * 32
LOGIN = "/inloggen/"


@pytest.fixture
def token(settings):
    settings.BIBID_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client=None) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def sign_in(client: Client, username: str, password: str):
    page = client.get(LOGIN)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client.post(
        LOGIN, {"csrfmiddlewaretoken": csrf, "username": username, "password": password}
    )


# ---- who may read /metrics ------------------------------------------------------------------


def test_metrics_are_not_there_outside_demo_mode_without_a_token(settings, monkeypatch):
    monkeypatch.delenv("BIBID_METRICS_TOKEN", raising=False)
    settings.BIBID_METRICS_TOKEN = None
    assert settings.BIBID_DEMO is False
    assert Client().get("/metrics").status_code == 404


def test_metrics_need_the_right_bearer_token(token):
    client = Client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").get("WWW-Authenticate", "").startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_demo_mode_opens_metrics_on_the_loopback_address_only(settings, monkeypatch):
    monkeypatch.delenv("BIBID_METRICS_TOKEN", raising=False)
    settings.BIBID_METRICS_TOKEN = None
    settings.BIBID_DEMO = True
    assert Client().get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert Client(REMOTE_ADDR="192.0.2.7").get("/metrics").status_code == 401


# ---- counters -------------------------------------------------------------------------------


def test_sign_ins_are_counted_by_outcome_with_request_latency(token, anna):
    before = scrape()
    assert sign_in(Client(), "anna.jansen", PASSWORD).status_code == 302
    assert sign_in(Client(), "anna.jansen", "not-the-password").status_code == 200
    assert sign_in(Client(), "nobody.home", "not-the-password").status_code == 200
    after = scrape()
    for outcome in ("ok", "wrong_password", "unknown_username"):
        name = "bibid_signins_total"
        assert value(after, name, outcome=outcome) == value(before, name, outcome=outcome) + 1
    # Latency by route name, never the raw path; 3 POSTs to the sign-in page.
    labels = {"service": "identity", "method": "POST", "route": "signin:login"}
    posts = value(
        after, "bibid_http_request_duration_seconds_count", status="2xx", **labels
    ) + value(after, "bibid_http_request_duration_seconds_count", status="3xx", **labels)
    posts_before = value(
        before, "bibid_http_request_duration_seconds_count", status="2xx", **labels
    ) + value(before, "bibid_http_request_duration_seconds_count", status="3xx", **labels)
    assert posts == posts_before + 3
    assert not any("/inloggen" in str(key) for key in after)


def test_guard_refusals_are_counted_by_reason(token, anna):
    before = scrape()
    for _ in range(5):
        sign_in(Client(), "anna.jansen", "wrong")
    assert sign_in(Client(), "anna.jansen", PASSWORD).status_code == 429
    after = scrape()
    refusals = "bibid_guard_refusals_total"
    reason = lanes.ACCOUNT.name
    assert value(after, refusals, reason=reason) == value(before, refusals, reason=reason) + 1
    throttled = value(after, "bibid_signins_total", outcome="throttled")
    assert throttled == value(before, "bibid_signins_total", outcome="throttled") + 1


@pytest.mark.django_db(transaction=True)
def test_mail_outbox_counts_sent_and_failed(token, make_account, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    anna = make_account("anna.jansen", recovery_email="anna@example.org")
    before = scrape()
    enqueue(kind="password_reset", to=anna.recovery_email, account_id=anna.pk)
    enqueue(kind="password_reset", to=anna.recovery_email, account_id=anna.pk)
    assert sender.drain()["sent"] == 2
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 0.5},
        }
    }  # nobody listens
    enqueue(kind="password_reset", to=anna.recovery_email, account_id=anna.pk)
    assert sender.drain()["failed"] == 1
    after = scrape()
    assert (
        value(after, "bibid_mails_total", outcome="sent")
        == value(before, "bibid_mails_total", outcome="sent") + 2
    )
    assert (
        value(after, "bibid_mails_total", outcome="failed")
        == value(before, "bibid_mails_total", outcome="failed") + 1
    )


# ---- queues and readiness -------------------------------------------------------------------


def _seed_outbox(count: int, age: timedelta) -> None:
    for _ in range(count):
        message = enqueue(kind="password_reset", to="x@example.org", account_id=None)
        OutboxMessage.objects.filter(pk=message.pk).update(created_at=clock.now() - age)


def test_queue_gauges_show_depth_and_age_of_seeded_rows(token, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    _seed_outbox(3, timedelta(minutes=20))
    LogoutDelivery.objects.create(
        sub="s",
        sid="x",
        client_id="c",
        uri="http://127.0.0.1:9/",
        created_at=clock.now() - timedelta(minutes=2),
    )
    LogoutDelivery.objects.create(
        sub="s", sid="y", client_id="c", uri="http://127.0.0.1:9/", attempts=99
    )  # given up: no longer waiting
    samples = scrape()
    assert value(samples, "bibid_queue_depth", queue="mail") == 3
    assert 20 * 60 <= value(samples, "bibid_queue_oldest_age_seconds", queue="mail") < 22 * 60
    assert value(samples, "bibid_queue_depth", queue="backchannel_logouts") == 1
    age = value(samples, "bibid_queue_oldest_age_seconds", queue="backchannel_logouts")
    assert 120 <= age < 240
    for queue in ("tasks", "tasks_running"):  # every probe answers (none failed)
        assert ("bibid_queue_depth", (("queue", queue),)) in samples


def test_readiness_names_a_stuck_queue(settings, monkeypatch):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    monkeypatch.setenv("BIBID_STUCK_QUEUE_SECONDS", "600")
    _seed_outbox(1, timedelta(minutes=5))
    assert Client().get("/readyz").json() == {"status": "ok", "database": "ok"}
    _seed_outbox(1, timedelta(minutes=11))
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["stuck"] == ["mail"] and body["queues"]["mail"]["depth"] == 2
    assert body["queues"]["mail"]["oldest_age_seconds"] >= 660
    monkeypatch.setenv("BIBID_STUCK_QUEUE_SECONDS", "0")  # the check turned off
    assert Client().get("/readyz").status_code == 200


def test_a_moved_clock_does_not_make_a_fresh_task_look_stuck(monkeypatch, clock, db):
    """django-tasks-db stamps tasks with Django's real clock; bibid's clock (which tests and
    the demo move) must not age them: a task queued just now is not "stuck" an hour later
    on the moved clock. (Found in CI: /readyz 503 after a test moved the clock 943 s.)"""
    from django_tasks_db.models import DBTaskResult

    from bibid.common.metrics import queue_states

    monkeypatch.setenv("BIBID_STUCK_QUEUE_SECONDS", "600")
    DBTaskResult.objects.create(
        task_path="bibid.identity.mail.tasks.send_outbox",
        args_kwargs={"args": [], "kwargs": {}},
        priority=0,
        queue_name="default",
        backend_name="default",
        status="READY",
    )
    clock.advance(hours=1)
    depth, age = queue_states()["tasks"]
    assert depth == 1 and age < 60
    assert Client().get("/readyz").status_code == 200


# ---- request id and log lines -----------------------------------------------------------------


def test_a_sane_request_id_is_kept_and_anything_else_replaced():
    kept = Client().get("/healthz", HTTP_X_REQUEST_ID="abc-123.def")
    assert kept["X-Request-ID"] == "abc-123.def"
    for bad in ("two words", "a" * 65, "line\nbreak", "-leading-dash", "ünïcode"):
        answer = Client().get("/healthz", HTTP_X_REQUEST_ID=bad)
        assert re.fullmatch(r"[0-9a-f]{32}", answer["X-Request-ID"]), bad
    fresh = Client().get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh["X-Request-ID"])
    assert requestid.current() is None  # nothing left behind after the request


@pytest.fixture
def json_log():
    """The root logger writing JSON lines as configured (BIBID_LOG_FORMAT=json) to a buffer."""
    config = logs.config(service="identity", fmt="json", debug=False)
    options = {k: v for k, v in config["formatters"]["json"].items() if k != "()"}
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter(**options))
    handler.addFilter(requestid.RequestIdFilter())
    handler.addFilter(logs.RoutesNotPathsFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def test_one_json_line_per_request_without_query_string_or_secrets(anna, json_log):
    client = Client()
    page = client.get(LOGIN + "?next=/&code=SECRETCODE123", HTTP_X_REQUEST_ID="req-42")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    client.post(
        LOGIN,
        {"csrfmiddlewaretoken": csrf, "username": "anna.jansen", "password": PASSWORD},
        HTTP_X_REQUEST_ID="req-43",
    )
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    requests = [line for line in lines if line["logger"] == "bibid.request"]
    assert [
        (line["method"], line["route"], line["status"], line["request_id"]) for line in requests
    ] == [("GET", "signin:login", 200, "req-42"), ("POST", "signin:login", 302, "req-43")]
    assert all(line["service"] == "identity" and line["duration_ms"] >= 0 for line in lines)
    assert requests[1]["user"] == "user"  # signed in by the time the line is written
    # A broken reset link: Django's own warning names the route, never the path (the token).
    assert client.get("/wachtwoord-herstellen/NotAValidToken1234567/").status_code >= 400
    text = json_log.getvalue()
    assert "selfservice:reset" in text
    for secret in ("SECRETCODE123", PASSWORD, csrf, "/inloggen/", "NotAValidToken1234567"):
        assert secret not in text


def test_a_task_run_has_its_own_line_and_id(json_log, settings):
    from bibid.identity.mail.tasks import send_outbox

    send_outbox.enqueue()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    enqueued = next(line for line in lines if line["message"].startswith("task send_outbox en"))
    ran = next(line for line in lines if line.get("outcome") and line["task"] == "send_outbox")
    assert ran["outcome"] == "ok" and ran["duration_ms"] >= 0
    assert ran["request_id"] == ran["task_id"] == enqueued["task_id"]


# ---- several processes ------------------------------------------------------------------------

COUNT_ONE_SIGN_IN = """
from bibid.common import metrics
metrics.SIGNINS.labels("ok").inc()
metrics.REQUEST_LATENCY.labels("identity", "GET", "signin:login", "2xx").observe(0.01)
"""
SCRAPE = """
from prometheus_client import generate_latest
from bibid.common import metrics
print(generate_latest(metrics.scrape_registry()).decode())
"""


def test_a_scrape_adds_up_every_process_of_the_service():
    """gunicorn's workers, the task worker and the scheduler each count in a file of their
    own (prometheus_client's multiprocess mode); whichever process answers the scrape
    reports the sum."""
    import os
    import subprocess
    import sys

    from bibid.common import metrics

    folder = metrics.multiproc_dir("identity")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "counter_1.db").write_bytes(b"left by an earlier run")
    env = {**os.environ, **metrics.multiproc_env("identity")}  # as `bibid up` starts
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(folder) and not any(folder.iterdir())
    for _ in range(3):  # three processes, one after the other (pids differ)
        subprocess.run([sys.executable, "-c", COUNT_ONE_SIGN_IN], env=env, check=True, timeout=60)
    assert len(list(folder.glob("counter_*.db"))) == 3
    scraped = subprocess.run(
        [sys.executable, "-c", SCRAPE],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    assert value(samples, "bibid_signins_total", outcome="ok") == 3
    assert (
        value(
            samples,
            "bibid_http_request_duration_seconds_count",
            service="identity",
            method="GET",
            route="signin:login",
            status="2xx",
        )
        == 3
    )
