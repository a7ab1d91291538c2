"""The lean OpenID Connect path (issue 18): the SQL statements of each step of one whole
sign-in, and how the patron signed in (`amr`/`acr`, issue 17) in the ID token.

A sign-in as a relying party makes it: PKCE S256, the token request with the client
secret, userinfo with the access token. Counted after one earlier sign-in, as in a
running process, which has its clients loaded already (bibid.identity.oidc.clients).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bibid.identity.oidc import clients
from bibid.identity.oidc.claims import ACR_PASSKEY, ACR_PASSWORD
from bibid.identity.oidc.models import IssuedCode, ServiceSession
from bibid.identity.signin.models import LoginEvent

from .conftest import PASSWORD
from .test_oidc import (  # noqa: F401  (the *_fixture names are fixtures: rp, signing_keys)
    UA,
    authorize,
    browser,
    exchange,
    pkce_pair,
    refresh,
    rp_fixture,
    signing_keys_fixture,
    userinfo,
    verified,
)

pytestmark = pytest.mark.django_db

# The issue's targets (bench/oidc.py prints the same per step).
AUTHORIZE_MAX, TOKEN_MAX, USERINFO_MAX = 4, 8, 2
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def data_statements(captured: CaptureQueriesContext) -> list[str]:
    """Statements that read or write data (transaction control is the driver's, and
    differs between SQLite and PostgreSQL)."""
    return [
        q["sql"] for q in captured.captured_queries if not q["sql"].lstrip().startswith(CONTROL)
    ]


def test_a_whole_sign_in_stays_within_its_statement_budget(anna, rp):
    warm = browser()
    first = authorize(warm, rp)
    assert exchange(rp, first.code, first.verifier).status_code == 200

    here = browser()
    with CaptureQueriesContext(connection) as at_authorize:
        auth = authorize(here, rp)
    assert auth.response.status_code == 302 and auth.code, auth.location
    with CaptureQueriesContext(connection) as at_token:
        response = exchange(rp, auth.code, auth.verifier)
    assert response.status_code == 200, response.content
    tokens = response.json()
    with CaptureQueriesContext(connection) as at_userinfo:
        info = userinfo(tokens["access_token"])
    assert info.status_code == 200

    assert len(data_statements(at_authorize)) <= AUTHORIZE_MAX, data_statements(at_authorize)
    assert len(data_statements(at_token)) <= TOKEN_MAX, data_statements(at_token)
    assert len(data_statements(at_userinfo)) <= USERINFO_MAX, data_statements(at_userinfo)

    # Nothing weaker for being lean: one service session per identity session, the
    # refresh token in its family, the code used up, the helpdesk's event written.
    _header, claims = verified(tokens["id_token"])
    session = ServiceSession.objects.get(sid=claims["sid"])
    assert session.account == anna and session.is_live()
    issued = IssuedCode.objects.get(code_hash=IssuedCode.hash(auth.code))
    assert issued.session == session and issued.exchanged_at is not None
    assert claims["nonce"] == auth.params["nonce"]
    event = LoginEvent.objects.filter(kind="service").latest("at")
    assert (event.account_id, event.ip) == (anna.pk, "192.0.2.10")
    assert exchange(rp, auth.code, auth.verifier).status_code == 400  # single use
    assert userinfo(tokens["access_token"]).status_code == 401  # ... its tokens revoked


def test_the_id_token_says_a_password_sign_in_by_default(anna, rp):
    auth = authorize(browser(), rp)
    tokens = exchange(rp, auth.code, auth.verifier).json()
    _header, claims = verified(tokens["id_token"])
    assert (claims["amr"], claims["acr"]) == (["pwd"], ACR_PASSWORD)
    # They describe a sign-in, not the patron: not in userinfo.
    info = userinfo(tokens["access_token"]).json()
    assert "amr" not in info and "acr" not in info


def test_a_passkey_sign_in_is_in_the_id_token_and_its_refresh(anna, rp):
    here = browser()
    session = here.session
    session["bibid_amr"] = ["hwk", "user"]  # what the passkey sign-in leaves (issue 17)
    session.save()
    auth = authorize(here, rp)
    tokens = exchange(rp, auth.code, auth.verifier).json()
    _header, claims = verified(tokens["id_token"])
    assert (claims["amr"], claims["acr"]) == (["hwk", "user"], ACR_PASSKEY)

    renewed = refresh(rp, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.content
    _header, again = verified(renewed.json()["id_token"])
    assert (again["amr"], again["acr"]) == (["hwk", "user"], ACR_PASSKEY)


def test_discovery_names_amr_acr_and_the_acr_values():
    data = Client().get("/o/.well-known/openid-configuration").json()
    assert {"amr", "acr"} <= set(data["claims_supported"])
    assert data["acr_values_supported"] == [ACR_PASSKEY, ACR_PASSWORD]


def test_a_disabled_service_is_refused_at_once_in_this_process(anna, rp):
    from bibid.identity.oidc.services import set_service_active

    auth = authorize(browser(), rp)
    assert auth.code  # the client is now loaded in this process
    assert clients.entry(rp.client_id) is not None
    set_service_active(client_id=rp.client_id, active=False)
    refused = authorize(browser(), rp)
    assert refused.code is None
    assert exchange(rp, auth.code, auth.verifier).status_code == 401  # no such client


def test_a_rotated_secret_is_refused_at_once_in_this_process(anna, rp):
    from django.contrib.auth.hashers import make_password

    auth = authorize(browser(), rp)
    assert clients.entry(rp.client_id) is not None
    application = rp.application
    application.client_secret = make_password("a-new-secret-" + "x" * 40)
    application.save()
    assert exchange(rp, auth.code, auth.verifier).status_code == 401  # the old secret


def test_another_process_sees_a_change_through_the_shared_version(anna, rp):
    """Another process's copy: the version it loaded under is no longer the cache's."""
    loaded = clients.entry(rp.client_id)
    assert loaded is not None
    clients.invalidate()  # what a change in another process does to the shared cache
    assert not loaded.fresh(clients._version(), loaded.loaded_at)


def test_a_session_past_its_end_is_superseded_not_joined(anna, rp):
    """The upsert leaves a live row past its end alone; the old path closes it (its tokens
    stay revoked) and the exchange starts a new session."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import RefreshToken

    here = browser()
    first = authorize(here, rp)
    old_tokens = exchange(rp, first.code, first.verifier).json()
    old = ServiceSession.objects.get()
    ServiceSession.objects.filter(pk=old.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    again = authorize(here, rp)
    tokens = exchange(rp, again.code, again.verifier).json()
    old.refresh_from_db()
    assert old.end_reason == "superseded" and old.ended_at is not None
    new = ServiceSession.objects.get(ended_at__isnull=True)
    assert new.pk != old.pk and new.sid == old.sid
    assert tokens["refresh_token"]
    assert RefreshToken.objects.filter(token_family=new.pk, revoked__isnull=True).count() == 1
    assert refresh(rp, old_tokens["refresh_token"]).status_code == 400


def test_a_sign_out_during_the_exchange_revokes_what_it_wrote(anna, rp):
    """The patron signs out between the code's check and its use: the sign-out deletes the
    pending code, the exchange finds it gone, and the tokens it wrote meanwhile go."""
    from unittest import mock

    from bibid.identity.oidc import sessions

    real_join = sessions.join_for_code

    def join_then_sign_out(issued):
        session = real_join(issued)
        sessions.end_sid(issued.sid, "logout")
        return session

    auth = authorize(browser(), rp)
    with mock.patch.object(sessions, "join_for_code", join_then_sign_out):
        response = exchange(rp, auth.code, auth.verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert not ServiceSession.objects.filter(ended_at__isnull=True).exists()
    from oauth2_provider.models import AccessToken, RefreshToken

    assert not AccessToken.objects.exists()
    assert all(t.revoked for t in RefreshToken.objects.all())


# -- the sign-in answers with the code (bibid.identity.signin.views.continue_in_place) --------


VERIFIER, CHALLENGE = pkce_pair()


def authorize_url(rp, **overrides) -> str:
    """The authorization request a service sends a browser with, as a path on this host."""
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "s-123",
        "nonce": "n-456",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **overrides,
    }
    return "/o/authorize/?" + urlencode({k: v for k, v in params.items() if v is not None})


def sign_in_from(next_url: str, password: str = PASSWORD, counted: list | None = None):
    """A fresh browser on the sign-in page the authorization endpoint sent it to, posting;
    `counted` gets the POST's data statements."""
    here = Client(HTTP_USER_AGENT=UA, REMOTE_ADDR="192.0.2.10")
    page = here.get("/inloggen/", {"next": next_url})
    assert page.status_code == 200
    form = {"username": "anna.jansen", "password": password, "next": next_url}
    with CaptureQueriesContext(connection) as at_post:
        done = here.post("/inloggen/", form)
    if counted is not None:
        counted.extend(data_statements(at_post))
    return here, done


def test_the_sign_in_answers_with_the_code_for_the_service(anna, rp):
    """One request less per sign-in: the sign-in's answer is the authorization endpoint's
    (the code, state and iss), not a redirect to the endpoint; the code is the usual one."""
    assert authorize(browser(), rp).code  # the client is loaded, as in a running process
    statements: list[str] = []
    here, done = sign_in_from(authorize_url(rp), counted=statements)
    assert done.status_code == 302
    location = urlsplit(done["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == rp.redirect_uri
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["state"] == "s-123" and query["iss"].endswith("/o") and query["code"]
    # The sign-in's own 6 statements, then the authorization's (at most AUTHORIZE_MAX).
    assert len(statements) <= 6 + AUTHORIZE_MAX, statements

    tokens = exchange(rp, query["code"], VERIFIER)
    assert tokens.status_code == 200, tokens.content
    _header, claims = verified(tokens.json()["id_token"])
    assert claims["nonce"] == "n-456" and claims["amr"] == ["pwd"]
    assert exchange(rp, query["code"], VERIFIER).status_code == 400  # still single use
    assert IssuedCode.objects.count() == 2  # the warm-up's and this one: no other
    # The browser is signed in: the next service's request gets its code at once.
    assert authorize(here, rp).code


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://evil.example/steal/"},  # not registered: never sent there
        {"client_id": "no-such-service"},
        {"code_challenge": None, "code_challenge_method": None},  # PKCE is required
    ],
    ids=["foreign-redirect-uri", "unknown-client", "no-pkce"],
)
def test_a_bad_authorization_request_is_answered_at_its_own_address(anna, rp, overrides):
    """What the endpoint refuses is not answered by the sign-in: the browser goes to the
    endpoint as before (its error page, or the error for a valid service's redirect URI, is
    the endpoint's own answer), and no code exists."""
    next_url = authorize_url(rp, **overrides)
    here, done = sign_in_from(next_url)
    assert done.status_code == 302
    if overrides.get("code_challenge", "") is None:
        # A valid client and redirect URI: the error goes to the service, as the endpoint
        # itself answers it.
        assert done["Location"].startswith(rp.redirect_uri + "?")
        assert "error=invalid_request" in done["Location"] and "code=" not in done["Location"]
    else:
        assert done["Location"] == next_url
        answer = here.get(next_url)
        assert answer.status_code == 400
        assert "evil.example" not in answer.get("Location", "")
    assert not IssuedCode.objects.exists()


def test_a_failed_sign_in_issues_nothing(anna, rp):
    _here, done = sign_in_from(authorize_url(rp), password="not-the-password")
    assert done.status_code == 200 and b'name="password"' in done.content
    assert not IssuedCode.objects.exists()


def test_another_next_page_is_still_a_redirect_to_it(anna):
    _here, done = sign_in_from("/account/")
    assert (done.status_code, done["Location"]) == (302, "/account/")
