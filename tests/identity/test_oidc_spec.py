"""OpenID Connect as the specifications say, in-process: the errors the authorization
endpoint answers for what it cannot honour (Core 3.1.2.1, 3.1.2.6, 6), a replayed code
revoking what it yielded (RFC 6749 4.1.2), and one back-channel logout token per session
and service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from bibid.identity.oidc.models import LogoutDelivery, ServiceSession

from .test_oidc import (  # noqa: F401  (the *_fixture names are fixtures: rp, signing_keys)
    assert_no_code,
    authorize,
    browser,
    django_time_moved,
    exchange,
    issuer,
    refresh,
    register,
    rp_fixture,
    sign_in_to,
    signing_keys_fixture,
    token_request,
    userinfo,
)
from .test_oidc_sessions import receiver_fixture, set_backchannel  # noqa: F401  (a fixture)

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


# -- a replayed authorization code (RFC 6749 4.1.2, Core 3.1.3.2) ---------------------------


def test_a_replayed_code_is_refused_and_revokes_what_it_yielded(anna, rp):
    auth = authorize(browser(), rp)
    first = exchange(rp, auth.code, auth.verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert userinfo(tokens["access_token"]).status_code == 200

    replay = exchange(rp, auth.code, auth.verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "access_token" not in replay.json()
    # "SHOULD revoke (when possible) all tokens previously issued based on that code".
    assert userinfo(tokens["access_token"]).status_code == 401
    assert refresh(rp, tokens["refresh_token"]).status_code == 400
    session = ServiceSession.objects.get()
    assert not session.is_live() and session.end_reason == "code_replayed"
    # The service is told over the back channel: its session is over.
    assert list(LogoutDelivery.objects.values_list("client_id", "sid")) == [
        (rp.client_id, session.sid)
    ]


def test_a_replay_after_a_refresh_revokes_the_refreshed_tokens_too(anna, rp):
    auth = authorize(browser(), rp)
    tokens = exchange(rp, auth.code, auth.verifier).json()
    renewed = refresh(rp, tokens["refresh_token"]).json()
    assert userinfo(renewed["access_token"]).status_code == 200
    assert exchange(rp, auth.code, auth.verifier).status_code == 400
    assert userinfo(renewed["access_token"]).status_code == 401
    assert refresh(rp, renewed["refresh_token"]).status_code == 400


def test_an_old_code_at_another_service_signs_nobody_out(anna, rp):
    """Only the service the code was given to (it authenticates first) can make a replay
    end the session: another client holding the code gets invalid_grant, nothing else."""
    other = register(name="Andere dienst", base="https://other.example")
    auth = authorize(browser(), rp)
    tokens = exchange(rp, auth.code, auth.verifier).json()
    stolen = token_request(
        other,
        {
            "grant_type": "authorization_code",
            "code": auth.code,
            "redirect_uri": other.redirect_uri,
            "code_verifier": auth.verifier,
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]).status_code == 200
    assert ServiceSession.objects.get().is_live()


def test_an_expired_unused_code_is_no_replay(anna, rp):
    """A code that was never exchanged is refused when it has expired, and the tokens of
    the service session it belongs to (from an earlier sign-in) stay valid."""
    here = browser()
    tokens = sign_in_to(rp, here)
    late = authorize(here, rp)
    with django_time_moved(61):
        answer = exchange(rp, late.code, late.verifier)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]).status_code == 200
    assert ServiceSession.objects.get().is_live()


def test_two_exchanges_of_one_code_at_once_revoke_both(anna, rp):
    """Both passed validate_code; the one that finds the code used up (DOT's delete found
    nothing) is the replay, and the session's tokens, its own included, are revoked."""
    from oauthlib.common import Request
    from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

    from bibid.identity.oidc.validators import Validator

    auth = authorize(browser(), rp)
    tokens = exchange(rp, auth.code, auth.verifier).json()
    request = Request("https://identity.example/o/token/")
    request.client = rp.application
    with pytest.raises(InvalidGrantError):
        Validator().invalidate_authorization_code(rp.client_id, auth.code, request)
    assert userinfo(tokens["access_token"]).status_code == 401
    assert ServiceSession.objects.get().end_reason == "code_replayed"


# -- one back-channel logout token per session and service -----------------------------------


def test_three_sign_ins_to_one_service_are_one_session_and_one_logout_token(
    anna, rp, receiver, django_capture_on_commit_callbacks
):
    """A patron who signs in to Mijn Menu three times in one identity session has one
    service session there: its tokens share one family, and signing out sends one logout
    token to Mijn Menu (not one per code)."""
    from oauth2_provider.models import RefreshToken

    set_backchannel(rp, f"http://127.0.0.1:{receiver.server_port}/oidc/bc/")
    other = register(name="Tweede dienst", base="https://tweede.example")
    set_backchannel(other, f"http://127.0.0.1:{receiver.server_port}/other/bc/")
    here = browser()
    signed = [sign_in_to(rp, here) for _ in range(3)]
    sign_in_to(other, here)
    session = ServiceSession.objects.get(application=rp.application)
    assert session.codes.count() == 3
    assert set(
        RefreshToken.objects.filter(application=rp.application).values_list(
            "token_family", flat=True
        )
    ) == {session.pk}

    with django_capture_on_commit_callbacks(execute=True):  # the deliveries, sent at once
        assert here.post("/uitloggen/").status_code == 302
    assert sorted((d.client_id, d.sid) for d in LogoutDelivery.objects.all()) == sorted(
        [(rp.client_id, session.sid), (other.client_id, session.sid)]
    )
    paths = sorted(path for path, _type, _body in receiver.received)
    assert paths == ["/oidc/bc/", "/other/bc/"]
    for tokens in signed:
        assert userinfo(tokens["access_token"]).status_code == 401
        assert refresh(rp, tokens["refresh_token"]).status_code == 400


def test_each_browser_is_its_own_session_at_a_service(anna, rp):
    here, there = browser(), browser(ip="192.0.2.20")
    sign_in_to(rp, here)
    sign_in_to(rp, here)
    sign_in_to(rp, there)
    assert ServiceSession.objects.filter(ended_at__isnull=True).count() == 2
    assert here.post("/uitloggen/").status_code == 302
    assert LogoutDelivery.objects.count() == 1
    assert ServiceSession.objects.filter(ended_at__isnull=True).count() == 1


def test_a_sign_in_after_the_service_session_expired_starts_a_new_one(anna, rp, clock):
    """A guard: the identity session always ends before its service sessions (their end is
    computed as the identity session's at each sign-in), but a sign-in that finds one past
    its end does not revive it (its tokens stay refused), and closes it without a logout
    token: one now, naming the same sid, would sign the patron out of the new session."""
    here = browser()
    old = sign_in_to(rp, here)
    ServiceSession.objects.update(expires_at=clock() - timedelta(seconds=1))
    new = sign_in_to(rp, here)
    assert refresh(rp, old["refresh_token"]).status_code == 400
    assert refresh(rp, new["refresh_token"]).status_code == 200
    ended, live = (
        ServiceSession.objects.get(ended_at__isnull=False),
        ServiceSession.objects.get(ended_at__isnull=True),
    )
    assert ended.end_reason == "superseded" and ended.sid == live.sid
    assert not LogoutDelivery.objects.exists()


# -- the upgrade ----------------------------------------------------------------------------

MIGRATION_BEFORE = [("oidc", "0002_client_active_client_origin")]
MIGRATION_AFTER = [("oidc", "0003_service_session_per_sid_issued_codes")]


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_keeps_unused_codes_and_makes_one_session_per_sid_and_service(anna, rp):
    """Sessions made one per code (before) become one per sid and service; the kept one
    takes over the others' refresh tokens, and a code not exchanged yet still works."""
    import hashlib
    import uuid

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone
    from oauth2_provider.models import Grant, RefreshToken

    now = timezone.now()
    grant = Grant.objects.create(
        user=anna,
        application=rp.application,
        code="unused-code",
        expires=now + timedelta(seconds=60),
        redirect_uri=rp.redirect_uri,
    )
    first, second, newest, elsewhere = (uuid.uuid4() for _ in range(4))
    for n, family in enumerate([first, second, elsewhere]):
        RefreshToken.objects.create(
            user=anna, application=rp.application, token=f"rt{n}", token_family=family
        )

    executor = MigrationExecutor(connection)
    executor.migrate(MIGRATION_BEFORE)
    old = executor.loader.project_state(MIGRATION_BEFORE).apps
    Session = old.get_model("oidc", "ServiceSession")
    fields = {"account_id": anna.pk, "application_id": rp.application.pk, "sid": "s1"}
    for pk, hours, extra in [
        (first, 10, {}),
        (second, 11, {}),
        (newest, 12, {"grant_id": grant.pk}),
    ]:
        Session.objects.create(
            pk=pk,
            **fields,
            **extra,
            created_at=now - timedelta(hours=12 - hours),
            expires_at=now + timedelta(hours=hours),
        )
    Session.objects.create(pk=elsewhere, **{**fields, "sid": "s2"}, expires_at=now)

    executor.loader.build_graph()
    executor.migrate(MIGRATION_AFTER)
    new = executor.loader.project_state(MIGRATION_AFTER).apps
    Session = new.get_model("oidc", "ServiceSession")
    assert set(Session.objects.values_list("pk", flat=True)) == {newest, elsewhere}
    assert Session.objects.get(pk=newest).expires_at == now + timedelta(hours=12)
    families = RefreshToken.objects.order_by("token").values_list("token_family", flat=True)
    assert list(families) == [newest, newest, elsewhere]
    issued = new.get_model("oidc", "IssuedCode").objects.get()
    assert (issued.session_id, issued.grant_id, issued.exchanged_at) == (newest, grant.pk, None)
    assert issued.code_hash == hashlib.sha256(b"unused-code").hexdigest()
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
