"""What services report about patrons (/o/service-events/), as the helpdesk sees it in the
library API's login history; and the services in the identity admin."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from bibid.identity.accounts.models import Account
from bibid.identity.oidc.models import LogoutDelivery, ServiceSession
from bibid.identity.signin.models import LoginEvent
from tests.mfa_support import pass_second_step

from .api_helpers import link_with_patron, make_library
from .conftest import PASSWORD
from .test_oidc import (  # noqa: F401  (the *_fixture names are fixtures: rp, signing_keys)
    browser,
    register,
    rp_fixture,
    sign_in_to,
    signing_keys_fixture,
)

pytestmark = pytest.mark.django_db
URL = "/o/service-events/"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def report(rp, body, *, authorization: str | None = "default", raw: bytes | None = None):
    headers = {}
    if authorization == "default":
        headers["HTTP_AUTHORIZATION"] = rp.basic()
    elif authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    data = raw if raw is not None else json.dumps(body)
    return Client().post(URL, data=data, content_type="application/json", **headers)


@pytest.fixture
def seen(anna, rp):
    """Anna signed in to the service once, so it may report about her."""
    sign_in_to(rp, browser())
    return anna


def good(account, **extra) -> dict:
    return {
        "sub": str(account.public_id),
        "kind": "rights_missing",
        "details": {"title": "Het smelt", "right": "ebooks"},
        "browser": "Mozilla/5.0 (Telefoon)",
        "address": "198.51.100.23",
        **extra,
    }


def reported() -> list[LoginEvent]:
    return list(LoginEvent.objects.exclude(kind__in=["login", "logout", "service"]))


# -- who may report -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64",
        basic("nobody", "x"),
        "wrong-secret",
        "empty-secret",
    ],
)
def test_only_a_registered_service_with_its_secret(seen, rp, authorization):
    if authorization == "wrong-secret":
        authorization = rp.basic("not-the-secret")
    elif authorization == "empty-secret":
        authorization = rp.basic("")
    response = report(rp, good(seen), authorization=authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="bibid"'
    assert response.json()["code"] == "invalid_client"
    assert reported() == []


def test_a_library_api_client_is_not_a_service(seen, rp):
    from bibid.identity.libraries.services import register_library

    library = register_library(code="maas", name="Bibliotheek aan de Maas")
    response = report(rp, good(seen), authorization=basic(library.client_id, library.client_secret))
    assert response.status_code == 401 and "WWW-Authenticate" in response
    assert reported() == []


def test_only_post(rp):
    response = Client().get(URL, HTTP_AUTHORIZATION=rp.basic())
    assert response.status_code == 405


# -- what it may report ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "login"},
        {"kind": "service"},
        {"kind": "logout"},
        {"kind": ""},
        {},
        {"kind": "rights_missing", "details": ["a", "list"]},
        {"kind": "rights_missing", "details": "text"},
        {"kind": "rights_missing", "details": {"x": "y" * 2100}},
        {"kind": "rights_missing", "address": "not-an-address"},
        {"kind": "rights_missing", "address": "198.51.100.300"},
        {"kind": "rights_missing", "address": 12},
    ],
)
def test_bad_reports_are_refused(seen, rp, body):
    body = {"sub": str(seen.public_id), **body}
    response = report(rp, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_event"
    assert reported() == []


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null-ish", b"{", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(seen, rp, raw):
    assert report(rp, None, raw=raw).status_code == 400
    assert reported() == []


def test_details_just_under_the_limit_are_kept(seen, rp):
    details = {"x": "y" * 1990}
    assert len(json.dumps(details)) <= 2000
    assert report(rp, good(seen, details=details)).status_code == 202


def test_only_about_patrons_who_signed_in_to_that_service(anna, make_account, rp):
    other = register(name="Andere dienst", base="https://other.example")
    bram = make_account("bram.devries")
    sign_in_to(other, browser("bram.devries"))  # bram used another service, not this one
    for sub in (
        str(anna.public_id),
        str(bram.public_id),
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "",
    ):
        response = report(rp, good(anna, sub=sub))
        assert response.status_code == 404, sub
        assert response.json()["code"] == "unknown_patron"
    assert report(other, good(bram)).status_code == 202


def test_a_good_report_is_recorded(seen, rp):
    body = good(
        seen,
        kind="logout_detected",
        browser="Mozilla/5.0 (Telefoon)\x00\n\x1b[31m",
        address="2001:DB8::1",
    )
    response = report(rp, body)
    assert response.status_code == 202 and response.json() == {"recorded": True}
    [event] = reported()
    assert event.kind == "logout_detected"
    assert event.account_id == seen.pk and event.username == "anna.jansen"
    assert event.service == "Online Bibliotheek"
    assert event.details == {"title": "Het smelt", "right": "ebooks"}
    assert event.user_agent == "Mozilla/5.0 (Telefoon)[31m"  # no control characters
    assert event.ip == "2001:db8::1"
    assert (event.outcome, event.reason) == ("failure", "reported")


@pytest.mark.parametrize("kind", ["logout_detected", "rights_missing", "not_linked"])
def test_every_kind_a_service_may_report(seen, rp, kind):
    assert report(rp, good(seen, kind=kind, details=None, address=None)).status_code == 202
    [event] = reported()
    assert event.kind == kind and event.details == {} and event.ip is None


def test_a_service_whose_session_ended_may_still_report(seen, rp):
    ServiceSession.objects.update(ended_at=ServiceSession.objects.get().created_at)
    assert report(rp, good(seen, kind="logout_detected")).status_code == 202


def test_the_report_shows_in_the_library_history(anna, rp):
    maas = make_library("maas", "Bibliotheek aan de Maas")
    assert link_with_patron(maas, "20123", anna).status_code == 201
    sign_in_to(rp, browser())
    assert report(rp, good(anna)).status_code == 202
    events = maas.get("/customers/20123/history").json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[:3] == ["rights_missing", "service", "login"]
    missing, service = events[0], events[1]
    assert missing["service"] == service["service"] == "Online Bibliotheek"
    assert missing["details"] == {"title": "Het smelt", "right": "ebooks"}
    assert missing["address"] == "198.51.100.0/24"  # staff see the network, not the address
    assert missing["browser"] == "Mozilla/5.0 (Telefoon)"
    assert (missing["outcome"], missing["reason"]) == ("failure", "reported")
    assert service["outcome"] == "success" and service["details"] is None


# -- the admin ------------------------------------------------------------------------------


OPERATOR_PASSWORD = "Beheer-van-Bibid-test"


@pytest.fixture
def admin_client(db):
    operator = Account.objects.create_superuser("beheer", OPERATOR_PASSWORD)
    client = Client()
    assert (
        client.post("/inloggen/", {"username": "beheer", "password": OPERATOR_PASSWORD}).status_code
        == 302
    )
    # The admin asks for the second step too (bibid.common.mfa): an app, a computed code.
    assert pass_second_step(client, operator, "/beheer/tweede-stap/").status_code == 302
    return client


def test_the_application_admin_shows_the_bibid_service_inline(admin_client, rp):
    page = admin_client.get(f"/beheer/oauth2_provider/application/{rp.application.pk}/change/")
    assert page.status_code == 200
    assert 'name="bibid_client-0-kind"' in page.text
    assert 'name="bibid_client-0-backchannel_logout_uri"' in page.text
    assert rp.backchannel_logout_uri in page.text
    assert '<option value="reading" selected>' in page.text
    assert rp.secret not in page.text


def test_service_sessions_and_deliveries_are_read_only_in_the_admin(admin_client, anna, rp):
    here = browser()
    sign_in_to(rp, here)
    here.post("/uitloggen/")
    session, delivery = ServiceSession.objects.get(), LogoutDelivery.objects.get()
    listing = admin_client.get("/beheer/oidc/servicesession/")
    assert listing.status_code == 200 and "anna.jansen" in listing.text
    assert admin_client.get("/beheer/oidc/servicesession/add/").status_code == 403
    page = admin_client.get(f"/beheer/oidc/servicesession/{session.pk}/change/")
    assert page.status_code == 200 and 'name="sid"' not in page.text  # read only
    deliveries = admin_client.get("/beheer/oidc/logoutdelivery/")
    assert deliveries.status_code == 200 and rp.client_id in deliveries.text
    assert admin_client.get("/beheer/oidc/logoutdelivery/add/").status_code == 403
    assert admin_client.get(f"/beheer/oidc/logoutdelivery/{delivery.pk}/change/").status_code == 200


def test_patrons_do_not_see_the_services_admin(anna, rp):
    here = browser()
    page = here.get(f"/beheer/oauth2_provider/application/{rp.application.pk}/change/", follow=True)
    assert page.status_code == 403
    assert PASSWORD not in page.text
