"""Sessions at the services: refresh tokens bound to the identity session, every way the
identity session ends (sign-out, new password, reset, deletion), back-channel logout delivery
with retries, and RP-initiated logout."""

from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.test import Client
from jwcrypto import jwk

from bibid.identity.oidc import logout_tokens, sessions, tasks
from bibid.identity.oidc.models import Client as ServiceClient
from bibid.identity.oidc.models import LogoutDelivery, ServiceSession
from bibid.identity.signin.models import LoginEvent

from .conftest import PASSWORD
from .test_oidc import (  # noqa: F401  (the *_fixture names are fixtures: rp, signing_keys)
    UA,
    authorize,
    browser,
    exchange,
    pem,
    refresh,
    register,
    rp_fixture,
    sid_of,
    sign_in_to,
    signed_in,
    signing_keys_fixture,
    userinfo,
    verified,
)

pytestmark = pytest.mark.django_db
NEW = "Een-nieuw-wachtwoord-voor-mij"


def set_backchannel(rp, uri: str) -> None:
    ServiceClient.objects.filter(application=rp.application).update(backchannel_logout_uri=uri)


def service_session(client: Client, rp=None) -> ServiceSession:
    found = ServiceSession.objects.filter(sid=sid_of(client))
    if rp is not None:
        found = found.filter(application=rp.application)
    return found.get()


# -- refresh tokens -------------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(anna, rp):
    tokens = sign_in_to(rp, browser())
    response = refresh(rp, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    new = response.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    assert userinfo(new["access_token"]).status_code == 200
    assert userinfo(tokens["access_token"]).status_code == 401  # the old one went with it
    third = refresh(rp, new["refresh_token"])
    assert third.status_code == 200 and userinfo(third.json()["access_token"]).status_code == 200


def test_reusing_a_refresh_token_revokes_the_whole_family(anna, rp):
    tokens = sign_in_to(rp, browser())
    new = refresh(rp, tokens["refresh_token"]).json()
    replay = refresh(rp, tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(rp, new["refresh_token"]).status_code == 400  # the thief's gain is void
    assert userinfo(new["access_token"]).status_code == 401


def test_a_refresh_token_is_bound_to_its_client(anna, rp):
    tokens = sign_in_to(rp, browser())
    other = register(name="Andere dienst", base="https://other.example")
    response = refresh(other, tokens["refresh_token"])
    assert response.status_code == 400 and "access_token" not in response.json()


def test_the_first_refresh_token_family_is_the_service_session(anna, rp):
    from oauth2_provider.models import RefreshToken

    here = browser()
    sign_in_to(rp, here)
    assert RefreshToken.objects.get().token_family == service_session(here).pk


def test_no_refresh_after_the_identity_session_ended(anna, rp):
    here = browser()
    tokens = sign_in_to(rp, here)
    assert here.post("/uitloggen/").status_code == 302
    response = refresh(rp, tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]).status_code == 401


def test_no_refresh_after_the_identity_session_expired(anna, rp, clock):
    tokens = sign_in_to(rp, browser())
    clock.advance(hours=11, minutes=59)
    still = refresh(rp, tokens["refresh_token"])
    assert still.status_code == 200
    clock.advance(minutes=2)  # past the identity session's 12 hours
    late = refresh(rp, still.json()["refresh_token"])
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


# -- every way the identity session ends ----------------------------------------------------


def test_signing_out_ends_exactly_that_browsers_services(anna, rp):
    other = register(name="Tweede dienst", base="https://tweede.example")
    here, there = browser(), browser(ip="192.0.2.20")
    here_tokens = sign_in_to(rp, here)
    sign_in_to(other, here)
    there_tokens = sign_in_to(rp, there)
    here_sid, there_sid = sid_of(here), sid_of(there)
    assert here_sid != there_sid

    assert here.post("/uitloggen/").status_code == 302
    ended = ServiceSession.objects.filter(sid=here_sid)
    assert ended.count() == 2
    assert all(s.ended_at and s.end_reason == "logout" and not s.is_live() for s in ended)
    assert service_session(there).is_live()
    assert refresh(rp, here_tokens["refresh_token"]).status_code == 400
    assert refresh(rp, there_tokens["refresh_token"]).status_code == 200
    # Each service of that browser is told, over the back channel, with the ended sid.
    deliveries = LogoutDelivery.objects.order_by("client_id")
    assert sorted((d.client_id, d.sid, d.sub) for d in deliveries) == sorted(
        (c.client_id, here_sid, str(anna.public_id)) for c in (rp, other)
    )
    assert {d.uri for d in deliveries} == {rp.backchannel_logout_uri, other.backchannel_logout_uri}


def test_a_service_without_a_back_channel_gets_no_delivery(anna, rp):
    quiet = register(name="Stille dienst", base="https://stil.example")
    set_backchannel(quiet, "")
    here = browser()
    sign_in_to(rp, here)
    sign_in_to(quiet, here)
    here.post("/uitloggen/")
    assert ServiceSession.objects.filter(ended_at__isnull=False).count() == 2
    assert list(LogoutDelivery.objects.values_list("client_id", flat=True)) == [rp.client_id]


def test_ending_twice_tells_the_service_once(anna, rp):
    here = browser()
    sign_in_to(rp, here)
    sid = sid_of(here)
    assert sessions.end_sid(sid, "logout") == 1
    assert sessions.end_sid(sid, "logout") == 0
    assert sessions.end_for_account(anna, "password_reset") == 0
    assert LogoutDelivery.objects.count() == 1


def test_the_delivery_is_queued_when_the_transaction_commits(
    anna, rp, django_capture_on_commit_callbacks
):
    from unittest import mock

    here = browser()
    sign_in_to(rp, here)
    with mock.patch.object(tasks, "deliver_logout") as task:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            here.post("/uitloggen/")
        task.enqueue.assert_not_called()  # not before the commit
        for callback in callbacks:
            callback()
    task.enqueue.assert_called_once_with(LogoutDelivery.objects.get().pk)


def test_a_new_password_keeps_this_browser_and_ends_the_others(anna, rp):
    here, there = browser(), browser(ip="192.0.2.20")
    here_tokens, there_tokens = sign_in_to(rp, here), sign_in_to(rp, there)
    done = here.post(
        "/wachtwoord-wijzigen/",
        {"current_password": PASSWORD, "password": NEW, "password_again": NEW},
    )
    assert done.status_code == 302
    assert service_session(here).is_live()
    gone = service_session(there)
    assert not gone.is_live() and gone.end_reason == "password_change"
    assert refresh(rp, here_tokens["refresh_token"]).status_code == 200
    assert refresh(rp, there_tokens["refresh_token"]).status_code == 400
    assert list(LogoutDelivery.objects.values_list("sid", flat=True)) == [sid_of(there)]
    assert signed_in(here) and not signed_in(there)


def test_a_password_reset_ends_every_session(anna, rp):
    from bibid.identity.accounts import tokens as links

    here, there = browser(), browser(ip="192.0.2.20")
    sign_in_to(rp, here)
    sign_in_to(rp, there)
    anna.refresh_from_db()  # the link is made for the account as it is now (last sign-in)
    token = links.make(anna, links.Purpose.PASSWORD_RESET)
    done = here.post(f"/wachtwoord-herstellen/{token}/", {"password": NEW, "password_again": NEW})
    assert done.status_code == 200
    assert not ServiceSession.objects.filter(ended_at__isnull=True).exists()
    assert set(ServiceSession.objects.values_list("end_reason", flat=True)) == {"password_reset"}
    assert LogoutDelivery.objects.count() == 2


def test_deleting_the_account_ends_all_and_the_deliveries_outlive_it(anna, rp):
    quiet = register(name="Stille dienst", base="https://stil.example")
    set_backchannel(quiet, "")
    here, there = browser(), browser(ip="192.0.2.20")
    tokens = sign_in_to(rp, here)
    sign_in_to(quiet, here)
    sign_in_to(rp, there)
    sids = {sid_of(here), sid_of(there)}
    public_id = str(anna.public_id)
    done = here.post("/account-verwijderen/", {"current_password": PASSWORD, "understood": "on"})
    assert done.status_code == 200
    assert not ServiceSession.objects.exists()  # gone with the account
    deliveries = list(LogoutDelivery.objects.all())
    assert {(d.client_id, d.sid, d.sub) for d in deliveries} == {
        (rp.client_id, sid, public_id) for sid in sids
    }  # none for the quiet service
    assert refresh(rp, tokens["refresh_token"]).status_code == 400
    assert userinfo(tokens["access_token"]).status_code == 401


def test_deleting_many_accounts_ends_each_ones_sessions_in_a_fixed_number_of_queries(
    make_account, rp
):
    """The purge deletes accounts in batches: their sessions end in one query, not one per
    account, and each service is still told about each ended session."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bibid.identity.accounts.signals import accounts_deleting

    counts = []
    for extra in (2, 20):
        signed_in = [make_account(f"lezer.{extra}.{i}") for i in range(2)]
        for i, account in enumerate(signed_in):
            sign_in_to(rp, browser(account.username, ip=f"192.0.2.{extra + i}"))
        quiet = [make_account(f"stil.{extra}.{i}") for i in range(extra)]
        with CaptureQueriesContext(connection) as ctx:
            accounts_deleting.send(sender=None, accounts=[*signed_in, *quiet], reason="purged")
        counts.append(len(ctx.captured_queries))
        ended = ServiceSession.objects.filter(account__in=signed_in)
        assert sorted(s.account_id for s in ended) == sorted(a.pk for a in signed_in)
        assert {s.end_reason for s in ended} == {"account_purged"}
        assert not any(s.is_live() for s in ended)
        told = LogoutDelivery.objects.filter(sub__in=[str(a.public_id) for a in signed_in])
        assert told.count() == 2
    assert counts[0] == counts[1]


def test_another_patron_signing_in_over_a_session_ends_its_services(anna, make_account, rp):
    make_account("bram.devries")
    here = browser()
    tokens = sign_in_to(rp, here)
    first_sid = sid_of(here)
    response = here.post("/inloggen/", {"username": "bram.devries", "password": PASSWORD})
    assert response.status_code == 302
    assert sid_of(here) != first_sid  # the identity session of anna is gone from the browser
    assert not ServiceSession.objects.get(sid=first_sid).is_live()
    assert refresh(rp, tokens["refresh_token"]).status_code == 400


# -- back-channel delivery ------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.path, self.headers.get("Content-Type"), body))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/followed")
        elif self.path.startswith("/broken"):
            self.send_response(500)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(name="receiver")
def receiver_fixture():
    """A service's back-channel endpoint on 127.0.0.1 that records what it is sent."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ended_delivery(anna, rp, uri: str) -> LogoutDelivery:
    set_backchannel(rp, uri)
    here = browser()
    sign_in_to(rp, here)
    here.post("/uitloggen/")
    return LogoutDelivery.objects.get()


def test_an_unreachable_service_is_retried_with_backoff_then_given_up(anna, rp, clock):
    delivery = ended_delivery(anna, rp, f"http://127.0.0.1:{closed_port()}/oidc/bc/")
    assert tasks.attempt(delivery.pk) == "will retry: ConnectionError"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error, delivery.delivered_at) == (
        1,
        "ConnectionError",
        None,
    )
    assert delivery.next_attempt_at == clock() + timedelta(seconds=30)

    assert tasks.attempt(delivery.pk) == "nothing to do"  # not due yet
    assert tasks.retry_logout_deliveries.call() == 0
    delivery.refresh_from_db()
    assert delivery.attempts == 1

    for attempts, pause in ((2, 30), (3, 60), (4, 120), (5, 240), (6, 480)):
        clock.advance(seconds=pause - 1)
        assert tasks.retry_logout_deliveries.call() == 0
        clock.advance(seconds=1)
        assert tasks.retry_logout_deliveries.call() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == attempts
    assert delivery.last_error == "ConnectionError"

    clock.advance(days=1)
    assert tasks.retry_logout_deliveries.call() == 0
    assert tasks.attempt(delivery.pk) == "nothing to do"
    delivery.refresh_from_db()
    assert delivery.attempts == tasks.MAX_ATTEMPTS == 6 and delivery.delivered_at is None


def test_the_last_attempt_says_it_gave_up(anna, rp, clock):
    delivery = ended_delivery(anna, rp, f"http://127.0.0.1:{closed_port()}/")
    LogoutDelivery.objects.filter(pk=delivery.pk).update(attempts=5)
    assert tasks.attempt(delivery.pk) == "gave up: ConnectionError"


def test_a_delivered_logout_token(anna, rp, receiver, settings, django_capture_on_commit_callbacks):
    base = f"http://127.0.0.1:{receiver.server_port}"
    set_backchannel(rp, base + "/oidc/backchannel-logout/")
    here = browser()
    id_token = sign_in_to(rp, here)["id_token"]
    sid = sid_of(here)
    with django_capture_on_commit_callbacks(execute=True):
        assert here.post("/uitloggen/").status_code == 302  # queued, and run at once here

    delivery = LogoutDelivery.objects.get()
    assert delivery.delivered_at is not None and delivery.attempts == 1
    assert delivery.last_error == ""
    [(path, content_type, body)] = receiver.received
    assert path == "/oidc/backchannel-logout/"
    assert content_type == "application/x-www-form-urlencoded"
    [token] = parse_qs(body.decode())["logout_token"]

    header, claims = verified(token)
    assert header == {
        "alg": "RS256",
        "typ": "logout+jwt",
        "kid": jwk.JWK.from_pem(pem("active").encode()).thumbprint(),
    }
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "sid", "sub", "events"}
    assert "nonce" not in claims
    assert claims["iss"] == settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"]
    assert claims["aud"] == rp.client_id
    assert claims["sub"] == str(anna.public_id)
    assert claims["sid"] == sid == verified(id_token)[1]["sid"]
    assert claims["events"] == {logout_tokens.EVENT: {}}
    assert claims["exp"] - claims["iat"] == logout_tokens.LIFETIME_SECONDS
    assert len(claims["jti"]) >= 32
    # Nothing left to do for the sweep.
    assert tasks.retry_logout_deliveries.call() == 0
    assert tasks.attempt(delivery.pk) == "nothing to do"


def test_each_delivery_has_its_own_jti(anna, rp, receiver):
    set_backchannel(rp, f"http://127.0.0.1:{receiver.server_port}/bc")
    for ip in ("192.0.2.1", "192.0.2.2"):
        here = browser(ip=ip)
        sign_in_to(rp, here)
        here.post("/uitloggen/")
    for delivery in LogoutDelivery.objects.all():
        assert tasks.attempt(delivery.pk) == "delivered"
    jtis = {
        verified(parse_qs(body.decode())["logout_token"][0])[1]["jti"]
        for _p, _c, body in receiver.received
    }
    assert len(jtis) == 2


def test_a_delivery_still_arrives_after_the_account_is_gone(anna, rp, receiver):
    set_backchannel(rp, f"http://127.0.0.1:{receiver.server_port}/bc")
    here = browser()
    sign_in_to(rp, here)
    sid, public_id = sid_of(here), str(anna.public_id)
    assert (
        here.post(
            "/account-verwijderen/", {"current_password": PASSWORD, "understood": "on"}
        ).status_code
        == 200
    )
    delivery = LogoutDelivery.objects.get()
    assert tasks.attempt(delivery.pk) == "delivered"
    claims = verified(parse_qs(receiver.received[0][2].decode())["logout_token"][0])[1]
    assert (claims["sub"], claims["sid"]) == (public_id, sid)


@pytest.mark.parametrize(("path", "error"), [("/redirect", "HTTP 302"), ("/broken", "HTTP 500")])
def test_only_a_200_counts_and_redirects_are_not_followed(anna, rp, receiver, path, error):
    delivery = ended_delivery(anna, rp, f"http://127.0.0.1:{receiver.server_port}{path}")
    assert tasks.attempt(delivery.pk) == f"will retry: {error}"
    delivery.refresh_from_db()
    assert delivery.last_error == error and delivery.delivered_at is None
    assert [p for p, _c, _b in receiver.received] == [path]  # /followed never asked


# -- RP-initiated logout --------------------------------------------------------------------


def test_rp_initiated_logout_with_id_token_hint(anna, rp):
    here = browser()
    tokens = sign_in_to(rp, here)
    response = here.get(
        "/o/logout/",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": rp.post_logout_redirect_uri,
            "state": "terug-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == rp.post_logout_redirect_uri + "?state=terug-42"
    assert not signed_in(here)
    assert ServiceSession.objects.get().end_reason == "logout"
    assert refresh(rp, tokens["refresh_token"]).status_code == 400
    event = LoginEvent.objects.get(kind="logout")
    assert (event.account_id, event.outcome, event.user_agent, event.ip) == (
        anna.pk,
        "success",
        UA,
        "192.0.2.10",
    )


@pytest.mark.parametrize(
    "variant",
    [
        "https://rp.example/uitgelogd",
        "https://rp.example/uitgelogd/?next=/",
        "https://RP.example/uitgelogd/",
        "https://rp.example:8443/uitgelogd/",
        "https://rp.example/uitgelogd/..;/",
        "https://rp.example@evil.example/uitgelogd/",
        "https://evil.example/uitgelogd/",
        "https://rp.example/inloggen/klaar/",  # a registered URI, but not for this purpose
        "javascript:alert(1)",
    ],
)
def test_rp_initiated_logout_refuses_other_return_addresses(anna, rp, variant):
    here = browser()
    tokens = sign_in_to(rp, here)
    response = here.get(
        "/o/logout/", {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": variant}
    )
    assert response.status_code == 400 and "Location" not in response
    assert "Uitloggen lukte niet zo" in response.text
    assert signed_in(here)
    assert ServiceSession.objects.get().is_live()
    assert not LoginEvent.objects.filter(kind="logout").exists()


def test_rp_initiated_logout_with_an_expired_id_token_hint(anna, rp):
    # Services keep the ID token of the sign-in (10 minutes) and show it when the patron
    # signs out hours later: it still identifies the session, so no question is asked.
    import time
    from unittest import mock

    here = browser()
    tokens = sign_in_to(rp, here)
    later = time.time() + 3600
    with mock.patch("time.time", return_value=later):
        response = here.get(
            "/o/logout/",
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": rp.post_logout_redirect_uri,
            },
        )
    assert response.status_code == 302
    assert response["Location"] == rp.post_logout_redirect_uri
    assert not signed_in(here)


def test_rp_initiated_logout_with_a_forged_hint_is_refused(anna, rp):
    here = browser()
    sign_in_to(rp, here)
    response = here.get(
        "/o/logout/",
        {
            "id_token_hint": "eyJhbGciOiJub25lIn0.e30.",
            "post_logout_redirect_uri": rp.post_logout_redirect_uri,
        },
    )
    assert response.status_code == 400 and signed_in(here)


def csrf_browser() -> Client:
    """A browser that, like a real one, only gets past CSRF protection with the token."""
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=UA)
    page = client.get("/inloggen/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/inloggen/",
        {"username": "anna.jansen", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    return client


def test_rp_initiated_logout_without_hint_asks_and_the_form_needs_csrf(anna, rp):
    here = csrf_browser()
    sign_in_to(rp, here)
    query = {
        "client_id": rp.client_id,
        "post_logout_redirect_uri": rp.post_logout_redirect_uri,
        "state": "s1",
    }
    page = here.get("/o/logout/", query)
    assert page.status_code == 200 and "Online Bibliotheek vraagt je uit te loggen" in page.text
    assert signed_in(here)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    token = form.pop("csrfmiddlewaretoken")
    forged = here.post("/o/logout/", {**form, "allow": "1"})
    assert forged.status_code == 403
    assert signed_in(here) and ServiceSession.objects.get().is_live()
    done = here.post("/o/logout/", {**form, "allow": "1", "csrfmiddlewaretoken": token})
    assert done.status_code == 302
    assert done["Location"] == rp.post_logout_redirect_uri + "?state=s1"
    assert not signed_in(here)
    assert not ServiceSession.objects.get().is_live()
    assert LoginEvent.objects.filter(kind="logout", account_id=anna.pk).count() == 1


def test_someone_elses_id_token_hint_asks_first(anna, make_account, rp):
    make_account("bram.devries")
    bram_tokens = sign_in_to(rp, browser("bram.devries"))
    here = browser()
    sign_in_to(rp, here)
    page = here.get(
        "/o/logout/",
        {
            "id_token_hint": bram_tokens["id_token"],
            "post_logout_redirect_uri": rp.post_logout_redirect_uri,
        },
    )
    assert page.status_code == 200 and "<form" in page.text
    assert signed_in(here)


def test_the_same_patron_s_token_from_another_browser_asks_first(anna, rp):
    """An ID token of the patron's other browser (an old tab's service, the library PC) is
    not this browser's session: ask before signing this one out."""
    elsewhere = browser()
    old = sign_in_to(rp, elsewhere)
    here = browser()
    sign_in_to(rp, here)
    page = here.get(
        "/o/logout/",
        {"id_token_hint": old["id_token"], "post_logout_redirect_uri": rp.post_logout_redirect_uri},
    )
    assert page.status_code == 200 and "<form" in page.text
    assert signed_in(here) and signed_in(elsewhere)
    assert ServiceSession.objects.filter(ended_at__isnull=True).count() == 2
    # This browser's own token signs it out at once, and only it.
    own = sign_in_to(rp, here)
    done = here.get(
        "/o/logout/",
        {"id_token_hint": own["id_token"], "post_logout_redirect_uri": rp.post_logout_redirect_uri},
    )
    assert done.status_code == 302 and not signed_in(here) and signed_in(elsewhere)


def test_rp_initiated_logout_when_already_signed_out(anna, rp):
    here = browser()
    tokens = sign_in_to(rp, here)
    here.post("/uitloggen/")
    response = here.get(
        "/o/logout/",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": rp.post_logout_redirect_uri,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == rp.post_logout_redirect_uri
    assert LoginEvent.objects.filter(kind="logout").count() == 1  # the first one only


def test_the_code_flow_after_a_logout_starts_a_new_sid(anna, rp):
    here = browser()
    first = verified(sign_in_to(rp, here)["id_token"])[1]["sid"]
    here.post("/uitloggen/")
    assert (
        here.post("/inloggen/", {"username": "anna.jansen", "password": PASSWORD}).status_code
        == 302
    )
    auth = authorize(here, rp)
    tokens = exchange(rp, auth.code, auth.verifier).json()
    second = verified(tokens["id_token"])[1]["sid"]
    assert second != first and second == sid_of(here)
    assert ServiceSession.objects.get(sid=second).is_live()
