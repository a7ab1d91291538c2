"""Load shedding (bibid.common.shedding): the limiter's rules, with threads and a slow fake app.

No test here asserts a duration: "at once" is shown by order (the refused requests finish
while the admitted ones are still held inside the application).
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from bibid.common import shedding
from bibid.common.shedding import QUEUE_WAIT_KEY, Shedder


class SlowApp:
    """A WSGI app that holds every request until released, counting how many are inside."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.calls = 0
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        with self.lock:
            self.calls += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.release()
        try:
            assert self.release.wait(timeout=30), "the test never released the app"
        finally:
            with self.lock:
                self.inside -= 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]


class Answer:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

    def __call__(self, status, headers, exc_info=None):
        self.status = status
        self.headers = dict(headers)


def environ(path="/inloggen/", *, waited=0.0, **headers) -> dict:
    env = {"PATH_INFO": path, "REQUEST_METHOD": "POST", QUEUE_WAIT_KEY: waited}
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def call(app, env) -> tuple[Answer, bytes]:
    answer = Answer()
    result = app(env, answer)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return answer, body


def test_admitted_requests_never_exceed_the_bound_and_the_rest_is_refused_at_once():
    app = SlowApp()
    shedder = Shedder(app, max_active=3, max_waiting=0, max_wait=10, target=5, interval=5)
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(call, shedder, environ()) for _ in range(12)]
        for _ in range(3):
            assert app.entered.acquire(timeout=30)
        # The 9 others come back while the 3 admitted are still held inside the app: refused
        # without waiting for a slot (a safety bound of 30 s, not a timing assertion).
        for _ in range(3000):
            if sum(f.done() for f in futures) >= 9:
                break
            threading.Event().wait(0.01)
        assert sum(f.done() for f in futures) == 9
        assert app.inside == 3 and app.calls == 3
        app.release.set()
        answers = [f.result() for f in futures]
    statuses = sorted(a.status for a, _ in answers)
    assert statuses.count("200 OK") == 3
    assert statuses.count("503 Service Unavailable") == 9
    assert app.most_inside == 3
    for answer, _ in answers:
        if answer.status.startswith("503"):
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.headers["Cache-Control"] == "no-store"


def test_the_waiting_room_holds_a_bounded_number_and_admits_them_in_turn():
    app = SlowApp()
    shedder = Shedder(app, max_active=1, max_waiting=2, max_wait=30, target=30, interval=30)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(call, shedder, environ())
        assert app.entered.acquire(timeout=30)
        waiting = [pool.submit(call, shedder, environ()) for _ in range(2)]
        while shedder._waiting < 2:
            threading.Event().wait(0.01)
        # The room is full: the next two are refused while all three others are pending.
        overflow = [call(shedder, environ()) for _ in range(2)]
        assert all(a.status.startswith("503") for a, _ in overflow)
        assert not first.done() and not any(w.done() for w in waiting)
        app.release.set()
        results = [first.result(), *(w.result() for w in waiting)]
    assert [a.status for a, _ in results] == ["200 OK"] * 3
    assert app.calls == 3
    assert app.most_inside == 1


def test_a_request_that_waited_past_the_deadline_never_reaches_the_app():
    app = SlowApp()
    app.release.set()
    shedder = Shedder(app, max_wait=1.0, target=0.05, interval=0.1, max_active=0)
    answer, _ = call(shedder, environ(waited=1.5))
    assert answer.status.startswith("503") and app.calls == 0
    answer, body = call(shedder, environ(waited=0.5))  # a burst: under max_wait, served
    assert answer.status == "200 OK" and body == b"done" and app.calls == 1


def test_a_standing_queue_lowers_the_deadline_to_the_target_and_a_short_wait_lifts_it():
    now = [100.0]
    app = SlowApp()
    app.release.set()
    shedder = Shedder(
        app, max_wait=1.0, target=0.05, interval=0.1, max_active=0, clock=lambda: now[0]
    )

    def status(waited: float, at: float) -> int:
        now[0] = at
        return int(call(shedder, environ(waited=waited))[0].status[:3])

    assert status(0.3, 100.00) == 200  # above the target, but not yet for an interval
    assert status(0.3, 100.05) == 200
    assert status(0.3, 100.11) == 503  # above the target for a whole interval: standing
    assert status(0.06, 100.12) == 503
    assert status(0.01, 100.13) == 200  # a short wait: the queue drained
    assert status(0.3, 100.14) == 200  # a burst again may wait up to max_wait
    assert status(1.5, 100.15) == 503  # but never longer


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_and_metrics_are_never_refused(path):
    app = SlowApp()
    app.release.set()
    shedder = Shedder(app, max_wait=0.01, target=0.01, interval=0.01, max_active=1, max_waiting=0)
    assert shedder.slots.acquire(blocking=False)  # every slot taken
    answer, _ = call(shedder, environ(path, waited=60.0))
    assert answer.status == "200 OK" and app.calls == 1
    answer, _ = call(shedder, environ("/inloggen/", waited=0.0))
    assert answer.status.startswith("503") and app.calls == 1


def test_api_callers_get_a_problem_document_with_code_busy():
    shedder = Shedder(SlowApp(), max_wait=0.1, target=0.1, interval=1, max_active=0)
    answer, body = call(shedder, environ("/api/v1/customers/x/status", waited=5.0))
    assert answer.status == "503 Service Unavailable"
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.headers["Cache-Control"] == "no-store"
    retry_after = int(answer.headers["Retry-After"])
    problem = json.loads(body)
    assert problem["status"] == 503 and problem["code"] == "busy"
    assert problem["type"].endswith("/busy")
    assert problem["data"] == {"retry_after": retry_after}
    assert problem["messages"]["nl"].startswith("Het is nu erg druk")
    assert problem["messages"]["en"].startswith("It is very busy")
    assert problem["detail"] == problem["messages"]["nl"]
    # Any path, when the caller asks for JSON, in English when it prefers English.
    answer, body = call(
        shedder,
        environ("/o/token/", waited=5.0, accept="application/json", accept_language="en-GB"),
    )
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["detail"] == json.loads(body)["messages"]["en"]
    # A program that names no type (*/*) is not a browser: JSON too.
    answer, body = call(shedder, environ("/o/token/", waited=5.0, accept="*/*"))
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["code"] == "busy"


def test_browsers_get_a_short_page_in_their_language():
    shedder = Shedder(SlowApp(), max_wait=0.1, target=0.1, interval=1, max_active=0)
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    answer, body = call(shedder, environ(waited=5.0, **browser))
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Cache-Control"] == "no-store"
    assert int(answer.headers["Retry-After"]) >= 1
    assert "Het is nu erg druk. Probeer het over een paar seconden opnieuw." in body.decode()
    answer, body = call(shedder, environ(waited=5.0, accept_language="en-US,en;q=0.9", **browser))
    assert "It is very busy right now" in body.decode() and 'lang="en"' in body.decode()
    # The language the patron chose on our pages wins over the browser's.
    answer, body = call(
        shedder,
        environ(waited=5.0, accept_language="en", cookie="a=b; bibid_language=nl", **browser),
    )
    assert "Het is nu erg druk" in body.decode()


def test_refusals_are_counted_and_logged_at_most_once_a_second(caplog):
    now = [500.0]
    shedder = Shedder(
        SlowApp(), max_wait=0.1, target=0.1, interval=1, max_active=0, clock=lambda: now[0]
    )
    before = shedding.refused_total()
    with caplog.at_level(logging.WARNING, logger="bibid.shedding"):
        for step in range(10):  # ten refusals within 0.9 s
            now[0] = 500.0 + step * 0.1
            call(shedder, environ(waited=5.0))
        now[0] = 501.5
        call(shedder, environ(waited=5.0))
    assert shedding.refused_total() - before == 11
    lines = [r.getMessage() for r in caplog.records if r.name == "bibid.shedding"]
    assert len(lines) == 2
    assert "refused 1 request" in lines[0]
    assert "refused 10 request" in lines[1]  # the nine unlogged ones and this one


@pytest.mark.django_db
def test_a_refused_request_costs_no_django_work():
    from django.core.wsgi import get_wsgi_application

    started = []

    def count(**kwargs):
        started.append(1)

    request_started.connect(count)
    # As Django's test client does: the request must not close the test's own database
    # connection (it holds the test's transaction; the sign-in page reads the database).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        shedder = Shedder(
            get_wsgi_application(), max_wait=0.1, target=0.1, interval=1, max_active=0
        )
        env = RequestFactory().get("/inloggen/").environ
        with CaptureQueriesContext(connection) as queries:
            answer, _ = call(shedder, {**env, QUEUE_WAIT_KEY: 5.0})
        assert answer.status.startswith("503")
        assert started == [] and len(queries) == 0
        # The same request in time goes through Django (so the count above could fail).
        answer, _ = call(shedder, {**env, QUEUE_WAIT_KEY: 0.0})
        assert started == [1] and answer.status == "200 OK"
    finally:
        request_started.disconnect(count)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_shedding_can_be_switched_off(monkeypatch):
    def app(environ, start_response):
        return []

    monkeypatch.setenv("BIBID_SHEDDING", "off")
    assert shedding.wrap(app) is app
    monkeypatch.setenv("BIBID_SHEDDING", "on")
    assert isinstance(shedding.wrap(app), Shedder)


def test_limits_come_from_the_environment_a_service_s_own_first(monkeypatch):
    def app(environ, start_response):
        return []

    monkeypatch.setenv("BIBID_MAX_ACTIVE", "3")
    monkeypatch.setenv("IDENTITY_MAX_ACTIVE", "1")
    monkeypatch.setenv("BIBID_SHED_TARGET_MS", "20")
    monkeypatch.delenv("BIBID_MAX_WAIT_MS", raising=False)
    identity, library = Shedder(app, service="identity"), Shedder(app, service="library")
    assert (identity.max_active, library.max_active) == (1, 3)
    assert identity.target == library.target == pytest.approx(0.02)
    assert identity.max_wait == pytest.approx(shedding.DEFAULTS["MAX_WAIT_MS"] / 1000)
