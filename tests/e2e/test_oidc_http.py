"""The identity service as OpenID Connect provider, over real HTTP, with a client library we
did not write (Authlib): the whole flow, the ID token checked against the JWKS, refresh
rotation with reuse detection, and everything a forger or a sloppy client tries: redirect
URI tricks, open redirects, forged, expired and replayed codes and tokens, state and nonce
mismatches, and forged, replayed or misaddressed logout tokens at the services."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from .harness import eventually
from .oidc import (
    TIMEOUT,
    library_api,
    new_patron,
    post_form,
    query,
    service_client,
    sign_in_at_identity,
)

READING = "online-bibliotheek"
MIJNMENU = "mijnmenu-aan-de-maas"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def discovery(system) -> dict:
    answer = requests.get(
        f"{system.urls['identity']}/o/.well-known/openid-configuration", timeout=TIMEOUT
    )
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture(scope="module")
def jwks(discovery) -> KeySet:
    return KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=TIMEOUT).json())


def redirect_uri(system, client_id: str) -> str:
    if client_id == READING:
        return f"{system.urls['reading']}/inloggen/klaar/"
    return f"{system.urls['library']}/mijn/{client_id.removeprefix('mijnmenu-')}/inloggen/klaar/"


class Patron:
    """A patron's browser, signed in at identity, authorizing a client step by step."""

    def __init__(self, system, username: str, password: str) -> None:
        self.system = system
        self.identity = system.urls["identity"]
        self.http = requests.Session()
        sign_in_at_identity(self.http, self.identity, username, password)

    def authorize(self, discovery: dict, **params) -> requests.Response:
        return self.http.get(
            discovery["authorization_endpoint"],
            params=params,
            allow_redirects=False,
            timeout=TIMEOUT,
        )


def authlib_session(system, client_id: str) -> OAuth2Session:
    client = service_client(system, client_id)
    return OAuth2Session(
        client["client_id"],
        client["client_secret"],
        scope="openid profile libraries rights",
        redirect_uri=redirect_uri(system, client_id),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def code_flow(system, discovery, patron: Patron, client_id: str = READING):
    """Authorization code + PKCE with Authlib; returns (session, token, nonce, verifier)."""
    oauth = authlib_session(system, client_id)
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    nonce = uuid.uuid4().hex
    url, state = oauth.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    answer = patron.http.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302, answer.text[:400]
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri(system, client_id) + "?")
    assert query(location)["state"] == state
    assert query(location)["iss"] == discovery["issuer"]  # RFC 9207
    token = oauth.fetch_token(
        discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    return oauth, token, nonce, location


def id_claims(token: str, jwks: KeySet, client_id: str, issuer: str) -> dict:
    decoded = jwt.decode(token, jwks, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    return decoded.claims


# -- the happy path ------------------------------------------------------------------------


def test_discovery_document(discovery, system):
    assert discovery["issuer"] == f"{system.urls['identity']}/o"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["backchannel_logout_supported"] is True
    assert discovery["backchannel_logout_session_supported"] is True
    assert discovery["end_session_endpoint"].endswith("/o/logout/")
    assert {"rights", "libraries", "sid"} <= set(discovery["claims_supported"])
    # Discovery 3 gives these defaults that would claim support (implicit, fragment,
    # request_uri): each is stated, as exactly what the provider does.
    assert discovery["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ]
    assert discovery["response_modes_supported"] == ["query"]
    assert discovery["request_parameter_supported"] is False
    assert discovery["request_uri_parameter_supported"] is False
    assert discovery["claims_parameter_supported"] is False


def test_authlib_full_flow_with_id_token_checked_against_jwks(system, discovery, jwks):
    username, password, ref = new_patron(
        system,
        rights=[
            {
                "code": "ebooks",
                "valid_until": "2099-12-31",
                "limits": {"loans": 3, "period": "concurrent"},
            },
            {"code": "audiobooks", "valid_until": "2000-01-01", "limits": {"loans": 1}},
        ],
    )
    patron = Patron(system, username, password)
    oauth, token, nonce, _ = code_flow(system, discovery, patron, MIJNMENU)
    claims = id_claims(token["id_token"], jwks, MIJNMENU, discovery["issuer"])
    assert claims["nonce"] == nonce
    account = library_api(system).show(ref).json()
    assert claims["sub"] == account["account_id"]
    assert claims["preferred_username"] == username
    assert claims["sid"]
    # How the patron signed in (issue 17, RFC 8176): a password here. A passkey sign-in's
    # ["hwk", "user"] reaches Mijn Menu's Authlib client in test_browser_passkeys.py.
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:bibid:acr:password"
    assert {"amr", "acr"} <= set(discovery["claims_supported"])
    assert claims["acr"] in discovery["acr_values_supported"]
    # Mijn Menu of this library learns its own customer reference; the expired right is gone.
    assert claims["libraries"] == [
        {"code": "aan-de-maas", "name": "Bibliotheek aan de Maas", "customer_ref": ref}
    ]
    assert [r["code"] for r in claims["rights"]] == ["ebooks"]
    assert claims["rights"][0]["limits"] == {"loans": 3, "period": "concurrent"}
    assert claims["rights"][0]["valid_until"] == "2099-12-31"
    assert token["expires_in"] <= 600  # short-lived access token for patrons' services
    info = oauth.get(discovery["userinfo_endpoint"], timeout=TIMEOUT)
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"] and "sid" not in info.json()


def test_reading_service_gets_no_card_numbers(system, discovery, jwks):
    username, password, _ref = new_patron(system, rights=[])
    _oauth, token, _n, _ = code_flow(system, discovery, Patron(system, username, password))
    claims = id_claims(token["id_token"], jwks, READING, discovery["issuer"])
    assert claims["libraries"] == [{"code": "aan-de-maas", "name": "Bibliotheek aan de Maas"}]


def test_rights_read_again_at_userinfo_after_the_library_authorizes(system, discovery):
    """The seed's "authorize, then check again": no new sign-in, no waiting for a token."""
    username, password, ref = new_patron(system, rights=[])
    oauth, _token, _n, _ = code_flow(system, discovery, Patron(system, username, password))
    assert oauth.get(discovery["userinfo_endpoint"], timeout=TIMEOUT).json()["rights"] == []
    library_api(system).authorize(
        ref,
        {
            "customer": {"name": "Test"},
            "rights": [{"code": "ebooks", "limits": {"loans": 2, "period": "concurrent"}}],
        },
    )
    rights = oauth.get(discovery["userinfo_endpoint"], timeout=TIMEOUT).json()["rights"]
    assert [r["code"] for r in rights] == ["ebooks"]


def test_refresh_rotates_and_reuse_revokes_the_family(system, discovery):
    username, password, _ = new_patron(system)
    client = service_client(system, READING)
    _oauth, token, _n, _ = code_flow(system, discovery, Patron(system, username, password))

    def refresh(value):
        return requests.post(
            discovery["token_endpoint"],
            timeout=TIMEOUT,
            auth=(client["client_id"], client["client_secret"]),
            data={"grant_type": "refresh_token", "refresh_token": value},
        )

    first = refresh(token["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != token["refresh_token"]
    replay = refresh(token["refresh_token"])  # a thief, or a confused client
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(rotated).status_code == 400  # the whole family is revoked
    userinfo = requests.get(
        discovery["userinfo_endpoint"],
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {first.json()['access_token']}"},
    )
    assert userinfo.status_code == 401


def test_single_sign_on_second_client_without_password(system, discovery):
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    code_flow(system, discovery, patron, MIJNMENU)
    _o, token, _n, _ = code_flow(system, discovery, patron, READING)  # no password asked
    assert token["access_token"]


# -- redirect URIs: exact, one parser ------------------------------------------------------


def bypasses(good: str) -> list[str]:
    parts = urlsplit(good)
    host = parts.netloc
    return [
        good + "..;/evil",
        good.replace("/inloggen/klaar/", "/inloggen/..;/klaar/"),
        good.replace("/klaar/", "/klaar/..;/..;/beheer/"),
        f"{parts.scheme}://{host}@evil.example{parts.path}",
        f"{parts.scheme}://evil.example@{host}{parts.path}",
        f"{parts.scheme}://{host}%40evil.example{parts.path}",
        good.replace(parts.scheme + "://", parts.scheme.upper() + "://"),
        good.replace("/inloggen/", "/INLOGGEN/"),
        good.replace("127.0.0.1", "127.0.0.1.evil.example"),
        good.replace("127.0.0.1", "127.0.0.l"),
        good.replace("127.0.0.1", "localhost"),
        good.replace(f":{parts.port}", f":{parts.port + 1}"),
        good.rstrip("/"),
        good + "/",
        good + "evil",
        good + "?next=https://evil.example/",
        good + "#@evil.example",
        good.replace("/klaar/", "/%6blaar/"),
        good.replace("/klaar/", "/klaar%2f..%2f"),
        good.replace("http://", "https://"),
        "javascript:alert(document.domain)//" + good,
        "javascript://" + host + "/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/inloggen/klaar/",
        "https://evil.example/inloggen/klaar/",
        good.replace("http://", "http:\\\\"),
        " " + good,
        good + "\n",
    ]


def test_redirect_uri_bypasses_are_refused(system, discovery):
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    good = redirect_uri(system, READING)
    challenge = create_s256_code_challenge("v" * 50)
    for candidate in bypasses(good):
        answer = patron.authorize(
            discovery,
            response_type="code",
            client_id=READING,
            redirect_uri=candidate,
            scope="openid",
            state="s",
            nonce="n",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
        location = answer.headers.get("Location", "")
        assert answer.status_code == 400, (candidate, answer.status_code, location)
        assert not location, candidate
        assert "code=" not in answer.text
    # The registered URI itself still works (the refusals are not a broken client).
    ok = patron.authorize(
        discovery,
        response_type="code",
        client_id=READING,
        redirect_uri=good,
        scope="openid",
        state="s",
        nonce="n",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert ok.status_code == 302 and ok.headers["Location"].startswith(good + "?code=")


def test_pkce_is_required_and_plain_refused(system, discovery):
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    base = {
        "response_type": "code",
        "client_id": READING,
        "scope": "openid",
        "redirect_uri": redirect_uri(system, READING),
        "state": "s",
        "nonce": "n",
    }
    missing = patron.authorize(discovery, **base)
    plain = patron.authorize(
        discovery, **base, code_challenge="p" * 50, code_challenge_method="plain"
    )
    for answer in (missing, plain):
        location = answer.headers.get("Location", "")
        assert "code=" not in location
        assert "error=invalid_request" in location or answer.status_code == 400


def test_no_open_redirect_through_next(system):
    identity, reading, library = (system.urls[s] for s in ("identity", "reading", "library"))
    evil = [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "http://127.0.0.1.evil.example/",
        "/\tevil.example",
    ]
    username, password, _ = new_patron(system)

    def stays_home(location: str, base: str) -> bool:
        # Where a browser would go: relative to the service, never to another host.
        from urllib.parse import urljoin

        return urlsplit(urljoin(base + "/", location)).netloc == urlsplit(base).netloc

    for target in evil:
        # The services' sign-in keeps only a path of their own as the place to return to.
        http = requests.Session()
        sign_in_at_identity(http, identity, username, password)
        for base, start in (
            (reading, f"{reading}/inloggen/"),
            (library, f"{library}/mijn/aan-de-maas/inloggen/"),
        ):
            landed = http.get(start, params={"next": target}, timeout=TIMEOUT)
            assert landed.status_code in (200, 404), (target, landed.url)  # 404: a path here
            assert stays_home(landed.url, base), (target, landed.url)
            for hop in landed.history:
                assert "evil.example" not in urlsplit(hop.headers["Location"]).netloc, target
        # The login service's own sign-in page, with the same `next`.
        fresh = requests.Session()
        page = fresh.get(f"{identity}/inloggen/", params={"next": target}, timeout=TIMEOUT)
        from .oidc import csrf_of

        answer = fresh.post(
            f"{identity}/inloggen/",
            allow_redirects=False,
            timeout=TIMEOUT,
            data={
                "csrfmiddlewaretoken": csrf_of(page.text),
                "username": username,
                "password": password,
                "next": target,
            },
            headers={"Referer": page.url},
        )
        assert answer.status_code == 302
        assert stays_home(answer.headers["Location"], identity), (target, answer.headers)


# -- codes and tokens: forged, expired, replayed ---------------------------------------------


def start_code(system, discovery, patron: Patron, client_id: str = READING):
    verifier = uuid.uuid4().hex * 2
    answer = patron.authorize(
        discovery,
        response_type="code",
        client_id=client_id,
        redirect_uri=redirect_uri(system, client_id),
        scope="openid profile",
        state="s",
        nonce="n",
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return query(answer.headers["Location"])["code"], verifier


def exchange(system, discovery, code, verifier, client_id=READING, secret=None):
    client = service_client(system, client_id)
    return requests.post(
        discovery["token_endpoint"],
        timeout=TIMEOUT,
        auth=(client["client_id"], secret or client["client_secret"]),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri(system, client_id),
        },
    )


def test_codes_forged_replayed_wrong_verifier_wrong_client(system, discovery):
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    code, verifier = start_code(system, discovery, patron)
    assert exchange(system, discovery, code + "x", verifier).json()["error"] == "invalid_grant"
    assert exchange(system, discovery, code, verifier[::-1]).json()["error"] == "invalid_grant"
    assert exchange(system, discovery, code, verifier, secret="wrong").status_code == 401
    assert exchange(system, discovery, code, verifier).status_code == 200
    replay = exchange(system, discovery, code, verifier)  # the same code twice
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    other, other_verifier = start_code(system, discovery, patron)
    stolen = exchange(system, discovery, other, other_verifier, client_id=MIJNMENU)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # Expired codes: tests/identity/test_oidc.py (DOT reads Django's clock, not ours).


def test_code_after_sign_out_is_worthless(system, discovery):
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    code, verifier = start_code(system, discovery, patron)
    identity = system.urls["identity"]
    post_form(patron.http, f"{identity}/uitloggen/", f"{identity}/uitloggen/")
    answer = exchange(system, discovery, code, verifier)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_forged_and_revoked_access_tokens(system, discovery):
    forged = requests.get(
        discovery["userinfo_endpoint"],
        timeout=TIMEOUT,
        headers={"Authorization": "Bearer " + uuid.uuid4().hex},
    )
    assert forged.status_code == 401
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    oauth, _token, _n, _ = code_flow(system, discovery, patron)
    identity = system.urls["identity"]
    post_form(patron.http, f"{identity}/uitloggen/", f"{identity}/uitloggen/")
    assert oauth.get(discovery["userinfo_endpoint"], timeout=TIMEOUT).status_code == 401


def test_library_api_token_cannot_read_userinfo_nor_sign_patrons_in(system, discovery):
    api = library_api(system)
    answer = requests.get(
        discovery["userinfo_endpoint"],
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert answer.status_code in (401, 403)


# -- state and nonce at the service ----------------------------------------------------------


def test_state_and_nonce_mismatch_sign_nobody_in(system):
    """The relying party (our Mijn Menu, with Authlib) refuses a callback whose state it
    did not issue, and an ID token whose nonce is not the one it sent."""
    identity, library = system.urls["identity"], system.urls["library"]
    username, password, _ = new_patron(system)
    browser = requests.Session()
    sign_in_at_identity(browser, identity, username, password)
    start = browser.get(
        f"{library}/mijn/aan-de-maas/inloggen/", allow_redirects=False, timeout=TIMEOUT
    )
    authorize = start.headers["Location"]
    params = query(authorize)
    # 1. Someone else's nonce: identity signs it into the ID token; the RP must refuse.
    tampered = authorize.replace(f"nonce={params['nonce']}", "nonce=" + "x" * 20)
    back = browser.get(tampered, allow_redirects=False, timeout=TIMEOUT)
    refused = browser.get(back.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    assert refused.status_code == 400
    home = browser.get(f"{library}/mijn/aan-de-maas/", allow_redirects=False, timeout=TIMEOUT)
    assert home.status_code == 302 and "/inloggen/" in home.headers["Location"]
    # 2. A state the RP never issued (a login CSRF attempt).
    start = browser.get(
        f"{library}/mijn/aan-de-maas/inloggen/", allow_redirects=False, timeout=TIMEOUT
    )
    back = browser.get(start.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    callback = back.headers["Location"]
    forged = callback.replace(f"state={query(callback)['state']}", "state=forged")
    assert browser.get(forged, allow_redirects=False, timeout=TIMEOUT).status_code == 400
    # 3. The genuine callback still works once, and only once.
    assert browser.get(callback, allow_redirects=False, timeout=TIMEOUT).status_code == 302
    assert browser.get(callback, allow_redirects=False, timeout=TIMEOUT).status_code == 400


# -- logout tokens at the services -------------------------------------------------------------


def identity_key(system) -> RSAKey:
    pem = (Path(system.env["BIBID_VAR_DIR"]) / "secrets" / "oidc" / "active.pem").read_bytes()
    return RSAKey.import_key(pem)


def make_logout_token(key, issuer: str, aud: str, *, now: int | None = None, **overrides) -> str:
    now = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": aud,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sid": "no-such-session",
        "events": {EVENT: {}},
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"alg": "RS256", "typ": "logout+jwt", "kid": key.thumbprint()}
    return jwt.encode(header, claims, key)


def test_logout_tokens_forged_misaddressed_expired_replayed(system, discovery):
    backchannel = f"{system.urls['reading']}/oidc/backchannel-logout/"
    key, issuer = identity_key(system), discovery["issuer"]
    stranger = RSAKey.import_key(
        rsa.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    def post(token):
        return requests.post(backchannel, data={"logout_token": token}, timeout=TIMEOUT)

    # The services' clock, which other modules of this shared system may have moved: identity
    # would stamp its tokens with that time too.
    now = int(time.time() + float(system.clock_file.read_text() or 0))

    def logout_token(*args, **kwargs):
        return make_logout_token(*args, now=now, **kwargs)

    bad = {
        "forged signature": logout_token(stranger, issuer, READING),
        "wrong audience": logout_token(key, issuer, MIJNMENU),
        "wrong issuer": logout_token(key, "https://evil.example/o", READING),
        "expired": logout_token(key, issuer, READING, iat=now - 900, exp=now - 600),
        "issued long ago": logout_token(key, issuer, READING, iat=now - 3600),
        "with a nonce (an ID token)": logout_token(key, issuer, READING, nonce="n"),
        "no events": logout_token(key, issuer, READING, events=None),
        "wrong event": logout_token(key, issuer, READING, events={"other": {}}),
        "no sid nor sub": logout_token(key, issuer, READING, sid=None),
        "no jti": logout_token(key, issuer, READING, jti=None),
        "not a token": "not.a.token",
        "empty": "",
    }
    for name, token in bad.items():
        answer = post(token)
        assert answer.status_code == 400, name
        assert "no-store" in answer.headers.get("Cache-Control", ""), name
    good = logout_token(key, issuer, READING)
    assert post(good).status_code == 200
    assert post(good).status_code == 400  # replayed
    assert requests.get(backchannel, timeout=TIMEOUT).status_code == 405


def test_service_events_need_the_services_own_credentials(system):
    url = f"{system.urls['identity']}/o/service-events/"
    body = {"sub": str(uuid.uuid4()), "kind": "rights_missing", "details": {}}
    assert requests.post(url, json=body, timeout=TIMEOUT).status_code == 401
    client = service_client(system, READING)
    wrong = requests.post(url, json=body, timeout=TIMEOUT, auth=(client["client_id"], "nope"))
    assert wrong.status_code == 401
    unknown = requests.post(
        url, json=body, timeout=TIMEOUT, auth=(client["client_id"], client["client_secret"])
    )
    assert unknown.status_code == 404
    bad = requests.post(
        url,
        data="[1,",
        timeout=TIMEOUT,
        headers={"Content-Type": "application/json"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert bad.status_code == 400
    assert json.loads(bad.text)["code"] == "invalid_event"


# -- the relying party's tokens over time ----------------------------------------------------


def test_tabs_refreshing_at_once_stay_signed_in(system):
    """Ten minutes on, the access token has expired; four tabs of the Online Bibliotheek
    ask at once. They take turns on the sign-in's row: one refreshes, the others use its
    new tokens. Replaying the spent refresh token would make identity revoke them all."""
    from concurrent.futures import ThreadPoolExecutor

    reading = system.urls["reading"]
    username, password, _ = new_patron(system, rights=[])
    browser = requests.Session()
    sign_in_at_identity(browser, system.urls["identity"], username, password)
    first = browser.get(f"{reading}/leenplank/", timeout=TIMEOUT)
    assert first.url == f"{reading}/leenplank/" and username in first.text
    system.move_clock(minutes=11)

    def tab(_):
        return browser.get(f"{reading}/leenplank/", allow_redirects=False, timeout=TIMEOUT)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(tab, range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.headers for a in answers]
    system.move_clock(minutes=2)  # past the next session check: still signed in
    again = browser.get(f"{reading}/leenplank/", allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 200 and username in again.text


# identity's one line per request (bibid.request), which names the route, never the path.
USERINFO_LINE = re.compile(r"^\S+ identity-web\s+\|.*bibid\.request .*GET \S*user-info 200")


def userinfo_calls_after(system, start: int, at_least: int) -> int:
    """GET /o/userinfo/ lines identity logged after byte `start` (the log is written a
    moment after the answer: wait for `at_least`, then a little longer for any more)."""

    def count() -> int:
        with system.log_path.open("rb") as fh:
            fh.seek(start)
            lines = fh.read().decode(errors="replace").splitlines()
        return sum(1 for line in lines if USERINFO_LINE.match(line))

    deadline = time.monotonic() + 10
    while count() < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    return count()


def test_a_mijn_menu_page_asks_identity_for_the_rights_once(system):
    """The page reads the patron's rights at identity on every view; when the once-a-minute
    session check falls in the same request, that one reading serves both."""
    anna = next(p for p in system.demo["patrons"] if p["username"] == "anna.jansen")
    browser = requests.Session()
    sign_in_at_identity(browser, system.urls["identity"], anna["username"], anna["password"])
    home = f"{system.urls['library']}/mijn/aan-de-maas/"
    first = browser.get(home, timeout=TIMEOUT)  # signs in at Mijn Menu on the way
    assert first.url == home and first.status_code == 200, first.url
    for check_due in (False, True):
        if check_due:
            system.move_clock(seconds=61)
        start = system.log_path.stat().st_size
        page = browser.get(home, allow_redirects=False, timeout=TIMEOUT)
        assert page.status_code == 200, page.status_code
        assert userinfo_calls_after(system, start, 1) == 1, check_due


# -- what the specifications say the provider must answer -------------------------------------

CANNOT_HONOUR = [
    ({"request": "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."}, "request_not_supported"),
    ({"request_uri": "https://evil.example/request.jwt"}, "request_uri_not_supported"),
    ({"prompt": "consent"}, "consent_required"),
    ({"prompt": "select_account"}, "account_selection_required"),
    ({"prompt": "create"}, "invalid_request"),
]


def test_what_the_provider_cannot_honour_is_answered_with_the_defined_error(system, discovery):
    """Authlib builds the requests; signed in or not, the answer goes back to the registered
    redirect URI with the state, at once (OIDC Core 3.1.2.6; Prompt Create 4.1)."""
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    for extra, error in CANNOT_HONOUR:
        oauth = authlib_session(system, READING)
        url, state = oauth.create_authorization_url(
            discovery["authorization_endpoint"],
            code_verifier=uuid.uuid4().hex * 2,
            nonce=uuid.uuid4().hex,
            **extra,
        )
        for http in (patron.http, requests.Session()):
            answer = http.get(url, allow_redirects=False, timeout=TIMEOUT)
            assert answer.status_code == 302, (error, answer.status_code)
            location = answer.headers["Location"]
            assert location.startswith(redirect_uri(system, READING) + "?"), location
            found = query(location)
            assert found["error"] == error and found["state"] == state
            assert found["iss"] == discovery["issuer"] and "code" not in found
    # prompt=none without a session keeps its own answer.
    oauth = authlib_session(system, READING)
    url, state = oauth.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=uuid.uuid4().hex * 2, prompt="none"
    )
    silent = query(requests.get(url, allow_redirects=False, timeout=TIMEOUT).headers["Location"])
    assert silent["error"] == "login_required" and silent["state"] == state


def test_a_replayed_code_revokes_the_tokens_it_gave(system, discovery):
    """RFC 6749 4.1.2: the second use of a code is refused and the tokens issued from it
    are revoked: the access token of the first exchange stops working at userinfo."""
    username, password, _ = new_patron(system)
    patron = Patron(system, username, password)
    verifier = uuid.uuid4().hex * 2
    first = authlib_session(system, READING)
    url, _state = first.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=uuid.uuid4().hex
    )
    location = patron.http.get(url, allow_redirects=False, timeout=TIMEOUT).headers["Location"]
    token = first.fetch_token(
        discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert first.get(discovery["userinfo_endpoint"], timeout=TIMEOUT).status_code == 200

    replay = authlib_session(system, READING)
    with pytest.raises(OAuthError) as refused:
        replay.fetch_token(
            discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
    assert refused.value.error == "invalid_grant"
    assert first.get(discovery["userinfo_endpoint"], timeout=TIMEOUT).status_code == 401
    with pytest.raises(OAuthError):
        first.refresh_token(discovery["token_endpoint"], refresh_token=token["refresh_token"])


def logout_deliveries(system, username: str) -> tuple[int, list[dict]]:
    """(codes issued to Mijn Menu, back-channel deliveries) for this patron, at identity."""
    out = system.identity_shell(
        "import json\n"
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.oidc.models import IssuedCode, LogoutDelivery\n"
        f"a = Account.objects.get(username={username!r})\n"
        "codes = IssuedCode.objects.filter(\n"
        f"    session__account=a, session__application__client_id={MIJNMENU!r}\n"
        ").count()\n"
        "rows = LogoutDelivery.objects.filter(sub=str(a.public_id))\n"
        "rows = list(rows.values('client_id', 'sid', 'delivered_at'))\n"
        "print('@@' + json.dumps([codes, rows], default=str))\n"
    )
    codes, rows = json.loads(out.rsplit("@@", 1)[1])
    return codes, rows


def test_three_sign_ins_to_mijn_menu_get_one_logout_token(system):
    """A patron signs in to Mijn Menu three times in one identity session (each time a new
    Mijn Menu session: its cookie gone); signing out at identity sends Mijn Menu one
    back-channel logout token, not one per code."""
    identity, library = system.urls["identity"], system.urls["library"]
    username, password, _ = new_patron(system)
    browser = requests.Session()
    sign_in_at_identity(browser, identity, username, password)
    home = f"{library}/mijn/aan-de-maas/"
    for _ in range(3):
        page = browser.get(home, timeout=TIMEOUT)  # a new sign-in on the way, no password
        assert page.url == home and page.status_code == 200, page.url
        for cookie in [c for c in browser.cookies if c.name.startswith("bibid_library_")]:
            browser.cookies.clear(cookie.domain, cookie.path, cookie.name)
    post_form(browser, f"{identity}/uitloggen/", f"{identity}/uitloggen/")

    def all_delivered() -> tuple[int, list[dict]]:
        codes, rows = logout_deliveries(system, username)
        return (codes, rows) if rows and all(r["delivered_at"] for r in rows) else ()

    codes, delivered = eventually(all_delivered, "the logout tokens delivered", timeout=30)
    assert codes == 3  # three sign-ins to Mijn Menu, each with its own code
    assert [r["client_id"] for r in delivered] == [MIJNMENU]


# -- what gunicorn refuses before the application --------------------------------------------


def test_over_long_request_lines_and_headers_get_a_problem_document(system):
    """gunicorn refuses a request line over 4,094 bytes (414) and over-long or too many
    header lines (431) before Django runs; the answer is our RFC 9457 problem document,
    not gunicorn's HTML page, on every service."""
    for service in ("identity", "library", "reading"):
        base = system.urls[service]
        answers = {
            414: requests.get(f"{base}/o/authorize/?state=" + "x" * 5000, timeout=TIMEOUT),
            431: requests.get(f"{base}/", headers={"X-Filler": "x" * 9000}, timeout=TIMEOUT),
        }
        many = {f"X-Header-{n}": "1" for n in range(120)}
        answers[-431] = requests.get(f"{base}/", headers=many, timeout=TIMEOUT)
        for status, answer in answers.items():
            assert answer.status_code == abs(status), (service, status, answer.text[:200])
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            problem = answer.json()
            assert problem["status"] == abs(status)
            assert problem["type"].startswith("https://") and problem["title"]
            assert problem["messages"]["nl"] and problem["messages"]["en"]
            assert "<html" not in answer.text.lower()
        # The process that refused is still serving.
        assert requests.get(f"{base}/healthz", timeout=TIMEOUT).status_code == 200
