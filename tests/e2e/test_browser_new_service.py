"""A new service joins with one command and signs patrons in and out, in Chromium.

A small third-party relying party of its own (a WSGI app in a thread of this process, on
its own port of 127.0.0.1: a new origin) uses Authlib's requests client for the code flow
with PKCE and joserfc to check the ID token against the published keys. It is registered
with the real `bibid identity register_service` in a subprocess against the running
identity's database; then a demo patron signs in through it (the identity sign-in form
posts, and the redirect chain ends on the new origin) and signs out through it
(RP-initiated logout with the confirmation form, back to the new origin). Chromium holds
every hop of a form's redirect chain to the sign-in page's CSP form-action, so both only
work when the new origin is in that policy: checked before and after the registration too.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import uuid
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Page, expect

from .harness import free_port

pytestmark = pytest.mark.browser
TIMEOUT = 30
ANNA = "anna.jansen"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # the test's output stays readable
        pass


class TinyRelyingParty:
    """A service that is not ours: its own pages, its own sessions, Authlib for OIDC."""

    def __init__(self, identity: str) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.discovery = requests.get(
            f"{identity}/o/.well-known/openid-configuration", timeout=TIMEOUT
        ).json()
        self.client_id = self.client_secret = ""
        self.pending: dict[str, dict] = {}  # state -> what the callback needs
        self.sessions: dict[str, dict] = {}  # our cookie -> the signed-in patron
        self.server = make_server("127.0.0.1", self.port, self.app, _Server, _Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> TinyRelyingParty:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def oauth(self) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope="openid profile",
            redirect_uri=f"{self.origin}/auth/callback",
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )

    # -- the WSGI app ---------------------------------------------------------------------

    def app(self, environ, start_response):
        path, query = environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", ""))
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", "")).get("leesclub")
        session_id = cookie.value if cookie else ""
        if path == "/login":
            oauth, verifier, nonce = self.oauth(), secrets.token_urlsafe(48), uuid.uuid4().hex
            url, state = oauth.create_authorization_url(
                self.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
            self.pending[state] = {"verifier": verifier, "nonce": nonce}
            return self._redirect(start_response, url)
        if path == "/auth/callback":
            return self._callback(environ, query, start_response)
        if path == "/logout":
            self.sessions.pop(session_id, None)
            state = uuid.uuid4().hex
            self.pending[state] = {"logout": True}
            # No id_token_hint: the login service asks the patron to confirm, so the
            # confirmation form (and its redirect back here) is exercised too.
            params = {
                "client_id": self.client_id,
                "post_logout_redirect_uri": f"{self.origin}/",
                "state": state,
            }
            url = f"{self.discovery['end_session_endpoint']}?{urlencode(params)}"
            return self._redirect(start_response, url)
        if path == "/":
            patron = self.sessions.get(session_id)
            state = (query.get("state") or [""])[0]
            if patron:
                body = (
                    f"<h1>Welkom bij de Leesclub, {html.escape(patron['name'])}</h1>"
                    f'<p data-testid="sub">{html.escape(patron["sub"])}</p>'
                    '<p><a href="/logout">Uitloggen</a></p>'
                )
            elif state and self.pending.pop(state, {}).get("logout"):
                body = '<h1>Je bent uitgelogd</h1><p><a href="/login">Inloggen</a></p>'
            else:
                body = '<h1>Leesclub</h1><p><a href="/login">Inloggen met Bibid</a></p>'
            return self._page(start_response, body)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def _callback(self, environ, query, start_response):
        state = (query.get("state") or [""])[0]
        pending = self.pending.pop(state, None)
        if pending is None or "code" not in query:
            return self._page(start_response, "<h1>Inloggen mislukt</h1>", "400 Bad Request")
        oauth = self.oauth()
        url = f"{self.origin}{environ['PATH_INFO']}?{environ['QUERY_STRING']}"
        token = oauth.fetch_token(
            self.discovery["token_endpoint"],
            authorization_response=url,
            code_verifier=pending["verifier"],
            state=state,
        )
        keys = KeySet.import_key_set(
            requests.get(self.discovery["jwks_uri"], timeout=TIMEOUT).json()
        )
        claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.discovery["issuer"]},
            aud={"essential": True, "value": self.client_id},
            nonce={"essential": True, "value": pending["nonce"]},
            exp={"essential": True},
        ).validate(claims)
        info = oauth.get(self.discovery["userinfo_endpoint"], timeout=TIMEOUT).json()
        assert info["sub"] == claims["sub"]
        session_id = secrets.token_urlsafe(16)
        self.sessions[session_id] = {"sub": claims["sub"], "name": info["preferred_username"]}
        start_response(
            "302 Found",
            [
                ("Location", "/"),
                ("Set-Cookie", f"leesclub={session_id}; Path=/; HttpOnly; SameSite=Lax"),
            ],
        )
        return [b""]

    @staticmethod
    def _redirect(start_response, url: str):
        start_response("302 Found", [("Location", url)])
        return [b""]

    @staticmethod
    def _page(start_response, body: str, status: str = "200 OK"):
        page = f"<!doctype html><html lang='nl'><title>Leesclub</title>{body}</html>"
        start_response(status, [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]


def form_action(identity: str) -> list[str]:
    policy = requests.get(f"{identity}/inloggen/", timeout=TIMEOUT).headers[
        "Content-Security-Policy"
    ]
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("form-action"))
    return directive.split()[1:]


@pytest.fixture
def leesclub(system):
    rp = TinyRelyingParty(system.urls["identity"]).start()
    yield rp
    if rp.client_id:
        system.bibid("identity", "register_service", "--client-id", rp.client_id, "--remove")
    rp.stop()


def test_a_new_service_registers_with_one_command_and_signs_a_patron_in_and_out(
    system, page: Page, leesclub
):
    identity = system.urls["identity"]
    password = next(p["password"] for p in system.demo["patrons"] if p["username"] == ANNA)
    assert leesclub.origin not in form_action(identity)  # (and now cached, see below)

    registered = json.loads(
        system.bibid(
            "identity",
            "register_service",
            "--kind",
            "other",
            "--name",
            "Leesclub",
            "--redirect-uri",
            f"{leesclub.origin}/auth/callback",
            "--post-logout-redirect-uri",
            f"{leesclub.origin}/",
        )
    )
    leesclub.client_id, leesclub.client_secret = (
        registered["client_id"],
        registered["client_secret"],
    )
    assert registered["origin"] == leesclub.origin
    # The CLI's change reached the running service's cache at once (the test system shares
    # one cache between its processes, as Redis does in production): every web process
    # sends the new origin, without waiting for the cache entry to expire.
    for _ in range(4):
        assert leesclub.origin in form_action(identity)

    # Signing in: the service's link, identity's form, and back on the new origin.
    page.goto(f"{leesclub.origin}/")
    page.get_by_role("link", name="Inloggen met Bibid").click()
    expect(page).to_have_url(re.compile("^" + re.escape(f"{identity}/inloggen/")))
    page.get_by_label("Gebruikersnaam of pasnummer").fill(ANNA)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page).to_have_url(f"{leesclub.origin}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welkom bij de Leesclub, {ANNA}")
    sub = page.get_by_test_id("sub").inner_text()
    assert re.fullmatch(r"[0-9a-f-]{36}", sub), sub

    # Signing out: the service sends the patron to identity, who confirms, and back.
    page.get_by_role("link", name="Uitloggen").click()
    expect(page).to_have_url(re.compile("^" + re.escape(f"{identity}/o/logout/")))
    expect(page.get_by_text("Leesclub vraagt je uit te loggen.")).to_be_visible()
    page.get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(re.compile("^" + re.escape(f"{leesclub.origin}/?state=")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Je bent uitgelogd")
    # Signed out at identity too: its own pages ask for a sign-in again.
    page.goto(f"{identity}/")
    expect(page).to_have_url(re.compile("^" + re.escape(f"{identity}/inloggen/")))

    # Disabled: the origin leaves the policy at once (its refusal to sign anyone in is
    # tested in tests/identity/test_service_registration.py).
    system.bibid("identity", "register_service", "--client-id", leesclub.client_id, "--disable")
    assert leesclub.origin not in form_action(identity)
