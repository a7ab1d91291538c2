"""The library reads identity's status answer strictly: an identity of another version (a
field renamed) makes the diagnosis say "the login service gave an unexpected answer" (502,
audited, counted, the field named in the log), never a check that reads nothing and says
"in orde". The identity behind it is the real one; only the answer's field is renamed on
its way, as a newer identity would send it."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.helpdesk import diagnosis
from bibid.library.loginaccounts import identity as client_module
from bibid.library.staff.models import AuditEvent

from .http_proxy import IdentityProxy

pytestmark = pytest.mark.django_db


def renamed(path: str, answer: dict) -> dict:
    """What a newer identity might send: `has_password` renamed `password_set`."""
    if path.split("?")[0].endswith("/status") and answer.get("account"):
        answer["account"]["password_set"] = answer["account"].pop("has_password")
    return answer


@pytest.fixture
def newer_identity(demo, live_identity, settings):
    proxy = IdentityProxy(live_identity.url, rewrite=renamed)
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": proxy.url}
    client_module._tokens.clear()
    yield proxy
    proxy.close()
    client_module._tokens.clear()


def count() -> float:
    return (
        REGISTRY.get_sample_value("bibid_unexpected_answers_total", {"operation": "account_status"})
        or 0.0
    )


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

    page = signed_in("helpdesk.maas").post(
        "/console/klanten/2010000001/helpdesk/", {"helpdesk-problem": "cannot-login"}
    )
    assert page.status_code == 503 and "onverwacht antwoord" in page.text
    api = Api("helpdesk.maas").send(
        "post", "/customers/2010000001/diagnosis", {"problem": "cannot-login"}
    )
    assert api.status_code == 502 and api.json()["code"] == "identity_unexpected_answer"
