"""OpenID Connect as the specifications say, in-process: the errors the authorization
endpoint answers for what it cannot honour (Core 3.1.2.1, 3.1.2.6, 6), a replayed code
revoking what it yielded (RFC 6749 4.1.2), and one back-channel logout token per session
and service."""

from __future__ import annotations

import pytest
from django.test import Client

from .test_oidc import (  # noqa: F401  (the *_fixture names are fixtures: rp, signing_keys)
    assert_no_code,
    authorize,
    browser,
    issuer,
    rp_fixture,
    signing_keys_fixture,
)

pytestmark = pytest.mark.django_db


# -- what the authorization endpoint cannot honour -------------------------------------------

REFUSED = [
    # Core 3.1.2.6 names an error for each parameter the provider does not support.
    ({"request": "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."}, "request_not_supported"),
    ({"request_uri": "https://rp.example/request.jwt"}, "request_uri_not_supported"),
    ({"registration": '{"logo_uri": "https://rp.example/logo.png"}'}, "registration_not_supported"),
    # Core 3.1.2.1: "If it cannot obtain consent, it MUST return an error, typically
    # consent_required" (and account_selection_required for select_account).
    ({"prompt": "consent"}, "consent_required"),
    ({"prompt": "login consent"}, "consent_required"),
    ({"prompt": "select_account"}, "account_selection_required"),
    # Prompt Create 1.0, 4.1: a value not in prompt_values_supported is invalid_request.
    ({"prompt": "create"}, "invalid_request"),
    ({"prompt": "voorlezen"}, "invalid_request"),
    # Only query responses (discovery's response_modes_supported).
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"response_mode": "form_post"}, "invalid_request"),
]


@pytest.mark.parametrize("signed_in_first", [True, False], ids=["signed-in", "not-signed-in"])
@pytest.mark.parametrize(("extra", "error"), REFUSED, ids=[e for _p, e in REFUSED])
def test_what_cannot_be_honoured_is_answered_with_the_defined_error(
    anna, rp, settings, extra, error, signed_in_first
):
    client = browser() if signed_in_first else Client()
    auth = authorize(client, rp, **extra)
    # Back to the registered redirect URI, with the state and the issuer (RFC 9207), and
    # at once: a patron who is not signed in is not asked to sign in for a refusal.
    assert auth.response.status_code == 302
    assert auth.location.startswith(rp.redirect_uri + "?"), auth.location
    assert auth.query["error"] == error
    assert auth.query["state"] == auth.params["state"]
    assert auth.query["iss"] == issuer(settings)
    assert "#" not in auth.location
    assert_no_code(auth)


@pytest.mark.parametrize("extra", [params for params, _e in REFUSED[:5]])
def test_an_invalid_redirect_uri_still_gets_the_error_page(anna, rp, extra):
    """Never a redirect to an address the service did not register, whatever else the
    request asks: the client and redirect URI are checked first."""
    for client in (browser(), Client()):
        auth = authorize(client, rp, redirect_uri="https://evil.example/cb", **extra)
        assert auth.response.status_code == 400, auth.location
        assert "Location" not in auth.response
        assert_no_code(auth)
        unknown = authorize(client, rp, client_id="nobody", **extra)
        assert unknown.response.status_code == 400 and "Location" not in unknown.response


def test_prompt_none_without_a_session_still_answers_login_required(anna, rp):
    auth = authorize(Client(), rp, prompt="none")
    assert auth.location.startswith(rp.redirect_uri + "?")
    assert auth.query["error"] == "login_required"
    assert auth.query["state"] == auth.params["state"]


def test_prompt_none_with_another_value_is_invalid(anna, rp):
    auth = authorize(browser(), rp, prompt="none login")
    assert auth.query["error"] == "invalid_request" and auth.code is None


def test_what_is_supported_still_works(anna, rp):
    """The supported values pass: prompt=none gives a code at once, response_mode=query is
    the default said out loud, and prompt=login still asks for the password."""
    here = browser()
    assert authorize(here, rp, prompt="none").code
    assert authorize(here, rp, response_mode="query").code
    again = authorize(here, rp, prompt="login")
    assert again.response.status_code == 302 and again.location.startswith("/inloggen/?next=")
    assert authorize(Client(), rp).location.startswith("/inloggen/?next=")
