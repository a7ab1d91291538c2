"""What identity tells a library's helpdesk (issue 14): failed sign-ins counted right, when the
password was last set, no alarm mail for a first password, and a purge or deletion said at once
in the status answer."""

from types import SimpleNamespace

import pytest

from bibid.identity.oidc import events
from bibid.identity.signin import flow

from .api_helpers import link_with_patron, make_library
from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def maas(db):
    return make_library("aan-de-maas", "Bibliotheek aan de Maas")


def wrong_password(username: str) -> None:
    assert not flow.sign_in(flow.Attempt(username=username, password="fout", ip="192.0.2.7")).ok


def right_password(username: str, password: str = PASSWORD) -> None:
    assert flow.sign_in(flow.Attempt(username=username, password=password, ip="192.0.2.7")).ok


def service_reports(account, *kinds: str) -> None:
    """What a service reports about the patron, written by identity's own recorder."""
    service = SimpleNamespace(name="Online Bibliotheek")
    for kind in kinds:
        events.record(account=account, application=service, report=events.Report.parse(
            {"sub": str(account.public_id), "kind": kind, "details": {}}))


def status(api, ref: str = "20123", **query) -> dict:
    response = api.get(f"/customers/{ref}/status", **query)
    assert response.status_code == 200, response.content
    return response.json()


# -- 1. a service's report is not a failed sign-in attempt -----------------------------------


def test_reports_of_services_are_not_failed_attempts(maas, anna):
    assert link_with_patron(maas, "20123", anna).status_code == 201
    wrong_password("anna.jansen")
    service_reports(anna, "logout_detected", "rights_missing", "not_linked")
    answer = status(maas, username="anna.jansen")
    assert [e["kind"] for e in answer["recent_events"][:3]] == [
        "not_linked", "rights_missing", "logout_detected"]
    assert all(e["outcome"] == "failure" for e in answer["recent_events"])
    assert answer["failures_today"] == 1
    assert answer["typed"]["failures_today"] == 1
