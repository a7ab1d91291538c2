"""The library reads identity's status answer strictly: an identity of another version (a
field renamed) makes the diagnosis say "the login service gave an unexpected answer" (502,
audited, counted, the field named in the log), never a check that reads nothing and says
"in orde". The identity behind it is the real one; only the answer's field is renamed on
its way, as a newer identity would send it."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
import requests
from prometheus_client import REGISTRY

from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.helpdesk import diagnosis
from bibid.library.loginaccounts import identity as client_module
from bibid.library.staff.models import AuditEvent

pytestmark = pytest.mark.django_db


class RenamingProxy(http.server.ThreadingHTTPServer):
    """Forwards to the real identity; in a status answer, `has_password` becomes
    `password_set` (what a renamed field looks like to the library)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        answer = requests.request(method, self.server.upstream + self.path, data=body,
                                  headers=headers, timeout=10)
        content = answer.content
        if self.path.split("?")[0].endswith("/status") and answer.status_code == 200:
            data = answer.json()
            if data.get("account"):
                data["account"]["password_set"] = data["account"].pop("has_password")
            content = json.dumps(data).encode()
        self.send_response(answer.status_code)
        for key in ("Content-Type",):
            if key in answer.headers:
                self.send_header(key, answer.headers[key])
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")


@pytest.fixture
def newer_identity(demo, live_identity, settings):
    proxy = RenamingProxy(live_identity.url)
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": proxy.url}
    client_module._tokens.clear()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    client_module._tokens.clear()


def count() -> float:
    return REGISTRY.get_sample_value("bibid_unexpected_answers_total",
                                     {"operation": "account_status"}) or 0.0


def test_a_renamed_field_is_an_error_the_helpdesk_reports(newer_identity, staff, caplog):
    anna = Customer.objects.get(card_number="2010000001")
    before = count()
    with pytest.raises(Problem) as refused:
        diagnosis.run(actor=staff("helpdesk.maas"), customer=anna, problem="cannot-login")
    assert refused.value.status == 502 and refused.value.code == "identity_unexpected_answer"
    assert "onverwacht antwoord" in refused.value.text("nl")
    assert refused.value.extra["fields"] == ["account.has_password", "account.password_set"]
    assert count() == before + 1
    assert "account.password_set" in caplog.text and "anna" not in caplog.text.lower()
    event = AuditEvent.objects.filter(action="login_status", result="failed").get()
    assert event.detail["identity"] == "unexpected_answer"
    assert not anna.helpdesk_cases.exists()  # no case with a made-up outcome


def test_the_console_and_the_api_say_so_never_500(newer_identity):
    from .test_api import Api
    from .test_console import signed_in

    page = signed_in("helpdesk.maas").post("/console/klanten/2010000001/helpdesk/",
                                           {"helpdesk-problem": "cannot-login"})
    assert page.status_code == 503 and "onverwacht antwoord" in page.text
    api = Api("helpdesk.maas").send("post", "/customers/2010000001/diagnosis",
                                    {"problem": "cannot-login"})
    assert api.status_code == 502 and api.json()["code"] == "identity_unexpected_answer"
