"""A busy login service is told apart from one that is down (issue 13, fault 5): identity
sheds what it cannot take with 503, code "busy" and Retry-After, before doing anything
(bibid.common.shedding). The library then says "druk, probeer het zo opnieuw; er is niets
gewijzigd", records nothing as unconfirmed, and its push queue waits at least Retry-After.

The server here answers exactly what identity's shedder answers (the contract is tested on
identity's side in tests/identity/test_shedding.py); it stands in for an identity that is
overloaded, which a unit test cannot make happen on demand."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.loginaccounts import identity as client_module
from bibid.library.loginaccounts import pushes
from bibid.library.loginaccounts import services as login
from bibid.library.loginaccounts.models import PendingPush, UnconfirmedCall
from bibid.library.staff.models import AuditEvent

from .test_loginaccounts import customer


class Busy(BaseHTTPRequestHandler):
    def _shed(self) -> None:
        body = json.dumps(
            {
                "type": "https://bibid.example/problems/busy",
                "title": "Busy",
                "status": 503,
                "code": "busy",
                "detail": "Het is nu erg druk.",
            }
        ).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "30")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _shed

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def busy_identity(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.BIBID_PUBLIC_URLS = {
        **settings.BIBID_PUBLIC_URLS,
        "identity": f"http://127.0.0.1:{server.server_port}",
    }
    client_module._tokens.clear()
    yield server
    server.shutdown()
    client_module._tokens.clear()


def test_busy_is_not_down_and_not_unconfirmed(staff, busy_identity):
    found = customer("2010000002")
    with pytest.raises(Problem) as failed:
        login.activate(actor=staff("balie.maas"), customer=found)
    problem = failed.value
    assert problem.status == 503 and problem.code == "identity_busy"
    assert problem.extra["retry_after"] == 30
    assert "druk" in problem.text("nl") and "niets gewijzigd" in problem.text("nl")
    assert "busy" in problem.text("en").lower()
    assert not UnconfirmedCall.objects.exists()
    assert (
        AuditEvent.objects.get(customer=found, action="login_activate").detail["identity"] == "busy"
    )


def test_the_push_queue_waits_at_least_retry_after(staff, busy_identity):
    found = customer("2010000001")
    PendingPush.objects.all().delete()  # only this customer's push is due
    pushes.request_push([found.pk])
    before = clock.now()
    assert pushes.drain()["waiting"] == 1
    row = PendingPush.objects.get(customer=found)
    assert row.next_attempt_at >= before + timedelta(seconds=30)  # not the 10 s back-off
    assert "busy" in row.last_error
