"""What an operator sees of the running system (issue 13): a request id that travels from the
library to identity, /metrics and /readyz over HTTP, and no secret in any log line after
sign-ins, a password reset, an OpenID Connect sign-in and API calls with bearer tokens."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import requests

from .harness import eventually
from .library_api import Library, choose_password, demo_client
from .oidc import TIMEOUT, post_form, query, sign_in_at_identity
from .test_oidc_http import READING, Patron, code_flow

# A line written by a service's web process, task worker or scheduler (not by `bibid up`).
SERVICE_LINE = re.compile(r"^\S+ (identity|library|reading)-(web|worker|cron)\s*\| ")
PRINTED_BY_THE_DEMO = {"client secret"}
STAFF = "balie.maas"
ANNA = "2010000001"  # a demo customer of Bibliotheek aan de Maas with a login account


def staff_token(system, username: str = STAFF) -> str:
    return next(s for s in system.demo["staff"] if s["username"] == username)["api_token"]


def log_lines(system, needle: str) -> list[str]:
    return [
        line for line in system.log_path.read_text(errors="replace").splitlines() if needle in line
    ]


def test_a_request_id_travels_from_the_library_to_identity(system):
    rid = f"e2e-{uuid.uuid4().hex[:16]}"
    answer = requests.get(
        f"{system.urls['library']}/api/v1/customers/{ANNA}/login-account",
        headers={"Authorization": f"Bearer {staff_token(system)}", "X-Request-ID": rid},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text[:400]
    assert answer.headers["X-Request-ID"] == rid

    def both() -> list[str] | None:
        lines = log_lines(system, rid)
        services = {
            s
            for s in ("library", "identity")
            if any(f" {s} bibid.request " in line for line in lines)
        }
        return lines if services == {"library", "identity"} else None

    lines = eventually(both, f"request id {rid} in the library's and identity's lines", 10)
    assert any("/api/v1/customers" not in line and "GET" in line for line in lines)
    # An id that is not a plain token is not taken over (it would forge log lines).
    forged = requests.get(
        f"{system.urls['library']}/healthz", headers={"X-Request-ID": "x y\tz"}, timeout=TIMEOUT
    )
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])


def test_a_request_id_travels_from_the_reading_service_to_identity(system):
    """The relying party's calls to identity (discovery, JWKS, token exchange, userinfo)
    carry the id of the request that made them: here the sign-in's callback."""
    identity, reading = system.urls["identity"], system.urls["reading"]
    username, password = f"obs{uuid.uuid4().hex[:10]}", f"Lang-genoeg-{uuid.uuid4().hex}"
    system.create_patron(username, password)
    with requests.Session() as http:
        sign_in_at_identity(http, identity, username, password)
        start = http.get(f"{reading}/inloggen/", allow_redirects=False, timeout=TIMEOUT)
        assert start.status_code == 302, start.text[:300]
        authorized = http.get(start.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
        callback = authorized.headers["Location"]
        assert callback.startswith(f"{reading}/inloggen/klaar/?"), callback
        rid = f"e2e-rp-{uuid.uuid4().hex[:12]}"
        done = http.get(
            callback, headers={"X-Request-ID": rid}, allow_redirects=False, timeout=TIMEOUT
        )
        assert done.status_code == 302 and done.headers["X-Request-ID"] == rid

    def both() -> list[str] | None:
        lines = log_lines(system, f"[{rid}]")
        seen = {
            (s, r)
            for line in lines
            for s, r in (("reading", "rp:callback"), ("identity", "oauth2_provider:token"))
            if f" {s} bibid.request " in line and f" {r} " in line
        }
        return lines if len(seen) == 2 else None

    eventually(both, f"request id {rid} on the callback's and the token request's lines", 10)
    assert query(callback)["code"] not in system.log_path.read_text(errors="replace")


def test_metrics_and_readiness_over_http(system):
    for service, url in system.urls.items():
        metrics = requests.get(f"{url}/metrics", timeout=TIMEOUT)  # demo mode, from 127.0.0.1
        assert metrics.status_code == 200, service
        assert "bibid_http_request_duration_seconds_bucket" in metrics.text
        assert 'bibid_queue_depth{queue="tasks"}' in metrics.text
        ready = requests.get(f"{url}/readyz", timeout=TIMEOUT)
        assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text
    identity = requests.get(f"{system.urls['identity']}/metrics", timeout=TIMEOUT).text
    assert 'bibid_queue_depth{queue="mail"}' in identity
    library = requests.get(f"{system.urls['library']}/metrics", timeout=TIMEOUT).text
    assert 'bibid_queue_depth{queue="pushes"}' in library


def test_no_secret_in_any_log_line(system, mailbox):
    secrets: dict[str, str] = {}
    identity = system.urls["identity"]

    # Sign-ins with known passwords: a right one and a wrong one.
    username = f"obs{uuid.uuid4().hex[:10]}"
    password = f"Lang-genoeg-{uuid.uuid4().hex}"
    address = f"{username}@example.org"
    system.create_patron(username, password, recovery_email=address)
    secrets["password"] = password
    wrong = f"Fout-wachtwoord-{uuid.uuid4().hex}"
    secrets["wrong password"] = wrong
    with requests.Session() as http:
        sign_in_at_identity(http, identity, username, password)
    with requests.Session() as http:
        failed = post_form(
            http,
            f"{identity}/inloggen/",
            f"{identity}/inloggen/",
            {"username": username, "password": wrong},
        )
        assert failed.status_code == 200

    # A password reset: the mail's link carries a token; the patron chooses a password, then
    # opens the used link again (Django's own warning about that answer names no path).
    before = mailbox.count()
    with requests.Session() as http:
        forgot = f"{identity}/wachtwoord-vergeten/"
        assert post_form(http, forgot, forgot, {"name": username}).status_code == 200
    link = mailbox.wait_for(address, "nieuw wachtwoord", timeout=60, after=before).link(
        "/wachtwoord-herstellen/"
    )
    secrets["reset token"] = urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]
    new_password = f"Nieuw-wachtwoord-{uuid.uuid4().hex}"
    secrets["new password"] = new_password
    assert choose_password(link, new_password).status_code == 200
    assert requests.get(link, timeout=TIMEOUT).status_code in (400, 410)

    # A library's API call with its bearer token (client credentials).
    client = demo_client(system, "aan-de-maas")
    secrets["client secret"] = client["client_secret"]
    library = Library(identity, client)
    secrets["library API token"] = library.token
    assert library.show(ANNA).status_code == 200

    # An OpenID Connect sign-in of the reading service: the code, the tokens, userinfo, a
    # refresh, and a sign-out with the ID token in the URL (id_token_hint).
    discovery = requests.get(
        f"{identity}/o/.well-known/openid-configuration", timeout=TIMEOUT
    ).json()
    patron = Patron(system, username, new_password)
    oauth, token, _nonce, location = code_flow(system, discovery, patron, READING)
    secrets["authorization code"] = query(location)["code"]
    for name in ("access_token", "refresh_token", "id_token"):
        secrets[name] = token[name]
    info = requests.get(
        discovery["userinfo_endpoint"],
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert info.status_code == 200
    refreshed = oauth.refresh_token(
        discovery["token_endpoint"], refresh_token=token["refresh_token"]
    )
    secrets["refreshed access_token"] = refreshed["access_token"]
    out = patron.http.get(
        discovery["end_session_endpoint"],
        timeout=TIMEOUT,
        allow_redirects=False,
        params={"id_token_hint": token["id_token"], "client_id": READING},
    )
    assert out.status_code < 500

    # The library's own API with a staff member's bearer token.
    secrets["staff API token"] = staff_token(system)
    shown = requests.get(
        f"{system.urls['library']}/api/v1/customers/{ANNA}/login-account",
        headers={"Authorization": f"Bearer {staff_token(system)}"},
        timeout=TIMEOUT,
    )
    assert shown.status_code == 200

    # The lines of all this are there (the check below is not vacuous) ...
    for route in (
        "signin:login",
        "selfservice:forgot_password",
        "selfservice:reset",
        "oauth2_provider:token",
        "oauth2_provider:rp-initiated-logout",
        "oauth2_provider:user-info",
    ):
        eventually(lambda route=route: log_lines(system, route), f"a line of {route}", 10)
    text = system.log_path.read_text(errors="replace")
    services = "\n".join(line for line in text.splitlines() if SERVICE_LINE.match(line))
    assert services.count("bibid.request") >= 10
    # ... and none of the secrets: in no line of any service's process, and nowhere in the
    # whole output except the demo's own credentials, which `bibid up` prints on purpose in
    # demo mode (its banner lists every demo sign-in).
    for what, value in secrets.items():
        assert len(value) >= 12, what  # a value long enough not to be found by chance
        assert value not in services, f"the {what} is in a service's log line"
        if what not in PRINTED_BY_THE_DEMO:
            assert value not in text, f"the {what} is in the log"
