"""The identity service as OpenID Connect provider, in-process: the authorization-code flow
with PKCE, the claims per scope and client, and what the authorization and token endpoints
refuse.

The helpers and fixtures at the top are shared with the other test_oidc_*.py modules.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from jwcrypto import jwk, jwt

from bibid.common.rp import paths
from bibid.identity.oidc import keys, sessions
from bibid.identity.oidc.models import ServiceSession
from bibid.identity.signin.models import LoginEvent

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

SCOPE = "openid profile libraries rights"
UA = "Mozilla/5.0 (Bibid-testbrowser)"
RP_BASE = "https://rp.example"


# -- shared helpers -------------------------------------------------------------------------


@cache
def pem(name: str) -> str:
    """A throwaway RSA key per name, made once per test run (2048 bits take a moment)."""
    return keys._new_pem().decode()


@pytest.fixture(autouse=True, name="signing_keys")
def signing_keys_fixture(settings):
    """Unit tests run with production settings, where no key is provisioned: give the
    provider an active key and one earlier (inactive) key. DOT reloads its cached settings
    on setting_changed, both here and when the fixture restores them."""
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": pem("active"),
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [pem("retired")],
    }
    from oauth2_provider.settings import oauth2_settings

    assert pem("active") == oauth2_settings.OIDC_RSA_PRIVATE_KEY
    return settings.OAUTH2_PROVIDER


@dataclass
class Rp:
    """A registered service (relying party) and what it was given."""

    client_id: str
    secret: str
    application: Any
    redirect_uri: str
    post_logout_redirect_uri: str
    backchannel_logout_uri: str

    def basic(self, secret: str | None = None) -> str:
        raw = f"{self.client_id}:{self.secret if secret is None else secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def register(
    kind: str = "reading",
    name: str = "Online Bibliotheek",
    *,
    base: str = RP_BASE,
    library_code: str = "",
) -> Rp:
    from bibid.identity.oidc.services import register_service

    done = register_service(kind=kind, name=name, base_url=base, library_code=library_code)
    urls = paths.urls(base)
    return Rp(
        client_id=done.client_id,
        secret=done.client_secret,
        application=done.application,
        redirect_uri=urls["redirect_uri"],
        post_logout_redirect_uri=urls["post_logout_redirect_uri"],
        backchannel_logout_uri=urls["backchannel_logout_uri"],
    )


@pytest.fixture(name="rp")
def rp_fixture(db) -> Rp:
    return register()


def browser(
    username: str = "anna.jansen",
    password: str = PASSWORD,
    *,
    ip: str = "192.0.2.10",
    **client_kwargs,
) -> Client:
    """A browser signed in to the identity service through the real sign-in page."""
    client = Client(HTTP_USER_AGENT=UA, REMOTE_ADDR=ip, **client_kwargs)
    response = client.post("/inloggen/", {"username": username, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Authorization:
    response: Any
    params: dict
    verifier: str
    query: dict = field(default_factory=dict)

    @property
    def location(self) -> str:
        return self.response.get("Location", "")

    @property
    def code(self) -> str | None:
        return self.query.get("code")


def authorize(client: Client, rp: Rp, *, scope: str = SCOPE, **overrides) -> Authorization:
    """GET /o/authorize/ as a service sends the browser there; `None` drops a parameter."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    response = client.get("/o/authorize/", params)
    location = response.get("Location", "")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return Authorization(response=response, params=params, verifier=verifier, query=query)


def token_request(rp: Rp, data: dict, *, authorization: str | None = None):
    return Client().post("/o/token/", data, HTTP_AUTHORIZATION=authorization or rp.basic())


def exchange(rp: Rp, code: str, verifier: str, **kwargs):
    return token_request(
        rp,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        },
        **kwargs,
    )


def refresh(rp: Rp, refresh_token: str):
    return token_request(rp, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def userinfo(access_token: str):
    return Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def sign_in_to(rp: Rp, client: Client, *, scope: str = SCOPE) -> dict:
    """The whole code flow: the tokens the service ends up with, plus what it sent."""
    auth = authorize(client, rp, scope=scope)
    assert auth.response.status_code == 302 and auth.code, auth.location
    response = exchange(rp, auth.code, auth.verifier)
    assert response.status_code == 200, response.content
    return {**response.json(), "nonce": auth.params["nonce"], "state": auth.params["state"]}


def jwks() -> jwk.JWKSet:
    return jwk.JWKSet.from_json(Client().get("/o/.well-known/jwks.json").content)


def verified(token: str, **check) -> tuple[dict, dict]:
    """(header, claims) of a JWT whose signature checks against the published JWKS."""
    parsed = jwt.JWT(jwt=token, key=jwks(), expected_type="JWS", **check)
    return json.loads(parsed.header), json.loads(parsed.claims)


def sid_of(client: Client) -> str:
    return client.session.get(sessions.SID_KEY, "")


def signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


@contextmanager
def django_time_moved(seconds: float):
    """DOT checks code and token expiry with django.utils.timezone.now(), which the project's
    clock (bibid.common.clock) does not move: move Django's own clock instead."""
    real = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: real() + timedelta(seconds=seconds)):
        yield


def issuer(settings) -> str:
    return settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"]


def link(account, code: str, name: str, ref: str, rights: list | None = None):
    from bibid.identity.libraries.models import Library, Link
    from bibid.identity.libraries.services import register_library

    library = (
        Library.objects.filter(code=code).first() or register_library(code=code, name=name).library
    )
    return Link.objects.create(
        library=library, customer_ref=ref, card_number=ref, account=account, rights=rights or []
    )


# -- the authorization-code flow ------------------------------------------------------------


def test_full_code_flow(anna, rp, settings):
    anna_browser = browser()
    auth = authorize(anna_browser, rp)
    assert auth.response.status_code == 302
    assert auth.location.startswith(rp.redirect_uri + "?")
    assert auth.query["state"] == auth.params["state"]
    assert auth.query["iss"] == issuer(settings)
    assert auth.code

    response = exchange(rp, auth.code, auth.verifier)
    assert response.status_code == 200, response.content
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 600  # patrons' services: ten minutes
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert tokens["refresh_token"]

    header, claims = verified(tokens["id_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["kid"] == jwk.JWK.from_pem(pem("active").encode()).thumbprint()
    assert claims["iss"] == issuer(settings)
    assert claims["sub"] == str(anna.public_id) != str(anna.pk)
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == auth.params["nonce"]
    assert claims["sid"] == sid_of(anna_browser) and len(claims["sid"]) >= 32
    assert claims["sid"] != anna_browser.session.session_key
    assert claims["preferred_username"] == "anna.jansen"
    assert claims["exp"] - claims["iat"] == 600

    info = userinfo(tokens["access_token"])
    assert info.status_code == 200
    assert info.json() == {
        "sub": str(anna.public_id),
        "preferred_username": "anna.jansen",
        "libraries": [],
        "rights": [],
    }

    session = ServiceSession.objects.get()
    assert (session.account, session.application, session.sid) == (
        anna,
        rp.application,
        claims["sid"],
    )
    assert session.is_live()
    issued = session.codes.get()  # the code is used up, only its hash is kept
    assert issued.exchanged_at is not None
    assert issued.code_hash != auth.code and auth.code not in issued.code_hash
    assert abs((session.expires_at - anna_browser.session.get_expiry_date()).total_seconds()) < 5
    event = LoginEvent.objects.get(kind="service")
    assert (event.account_id, event.service, event.outcome, event.user_agent, event.ip) == (
        anna.pk,
        "Online Bibliotheek",
        "success",
        UA,
        "192.0.2.10",
    )


def test_a_browser_that_is_not_signed_in_is_sent_to_the_sign_in_page(anna, rp):
    auth = authorize(Client(), rp)
    assert auth.response.status_code == 302
    assert auth.location.startswith("/inloggen/?next=")
    assert "/o/authorize/" in auth.location
    assert not ServiceSession.objects.exists()
    assert not LoginEvent.objects.filter(kind="service").exists()


def test_one_sid_per_browser_shared_by_every_service(anna, rp):
    other = register(
        "mijnmenu",
        "Mijn Menu Maas",
        base="https://maas.example/mijn",
        library_code=link(anna, "maas", "Bibliotheek aan de Maas", "m1").library.code,
    )
    here, there = browser(), browser()
    first = verified(sign_in_to(rp, here)["id_token"])[1]["sid"]
    second = verified(sign_in_to(other, here)["id_token"])[1]["sid"]
    elsewhere = verified(sign_in_to(rp, there)["id_token"])[1]["sid"]
    assert first == second == sid_of(here)
    assert elsewhere == sid_of(there) != first
    assert ServiceSession.objects.filter(sid=first).count() == 2


def test_refreshed_id_token_keeps_the_sid(anna, rp):
    here = browser()
    tokens = sign_in_to(rp, here)
    again = refresh(rp, tokens["refresh_token"])
    assert again.status_code == 200, again.content
    assert verified(again.json()["id_token"])[1]["sid"] == sid_of(here)


def test_registering_keeps_exactly_three_urls_and_https_only(db, settings):
    first = register(base="https://rp.example/")
    assert first.application.redirect_uris == "https://rp.example/inloggen/klaar/"
    assert first.application.post_logout_redirect_uris == "https://rp.example/uitgelogd/"
    assert first.application.skip_authorization is True
    assert first.application.client_secret != first.secret  # stored hashed
    assert (
        first.application.bibid_client.backchannel_logout_uri
        == "https://rp.example/oidc/backchannel-logout/"
    )
    # Production settings: plain http is not a redirect URI (only demo/development allow it).
    with pytest.raises(ValidationError):
        register(base="http://rp.example")


# -- claims ---------------------------------------------------------------------------------


RIGHT_EXPIRED = {"code": "audiobooks", "valid_until": "2020-01-01"}


@pytest.fixture
def linked_anna(anna, clock):
    today = timezone.localdate(clock())  # the services' day (Amsterdam), not UTC's
    link(
        anna,
        "maas",
        "Bibliotheek aan de Maas",
        "2010000001",
        rights=[
            {
                "code": "ebooks",
                "valid_from": None,
                "valid_until": None,
                "limits": {"loans": 10, "period": "concurrent"},
            },
            {**RIGHT_EXPIRED, "valid_from": None, "limits": {}},
            {"code": "today", "valid_from": None, "valid_until": today.isoformat(), "limits": {}},
        ],
    )
    link(
        anna,
        "duin",
        "Bibliotheek Duinstreek",
        "D-77",
        rights=[
            {
                "code": "youth",
                "valid_from": (today + timedelta(days=30)).isoformat(),
                "valid_until": (today + timedelta(days=365)).isoformat(),
                "limits": {},
            },
            {
                "code": "yesterday",
                "valid_from": None,
                "valid_until": (today - timedelta(days=1)).isoformat(),
                "limits": {},
            },
        ],
    )
    return anna


def test_libraries_and_rights_claims(linked_anna, rp, clock):
    tokens = sign_in_to(rp, browser())
    claims = verified(tokens["id_token"])[1]
    today = timezone.localdate(clock())  # the services' day (Amsterdam), not UTC's
    assert claims["libraries"] == [  # by name; no card numbers for a reading service
        {"code": "duin", "name": "Bibliotheek Duinstreek"},
        {"code": "maas", "name": "Bibliotheek aan de Maas"},
    ]
    # Expired rights left out; current and future ones kept, with their validity.
    assert claims["rights"] == [
        {
            "code": "youth",
            "valid_from": (today + timedelta(days=30)).isoformat(),
            "valid_until": (today + timedelta(days=365)).isoformat(),
            "limits": {},
            "library": "Bibliotheek Duinstreek",
        },
        {
            "code": "ebooks",
            "valid_from": None,
            "valid_until": None,
            "limits": {"loans": 10, "period": "concurrent"},
            "library": "Bibliotheek aan de Maas",
        },
        {
            "code": "today",
            "valid_from": None,
            "valid_until": today.isoformat(),
            "limits": {},
            "library": "Bibliotheek aan de Maas",
        },
    ]
    info = userinfo(tokens["access_token"]).json()
    assert info["libraries"] == claims["libraries"] and info["rights"] == claims["rights"]
    assert "sid" not in info


def test_customer_ref_only_for_that_librarys_own_mijn_menu(linked_anna):
    maas = register(
        "mijnmenu", "Mijn Menu Maas", base="https://maas.example/mijn", library_code="maas"
    )
    duin = register(
        "mijnmenu", "Mijn Menu Duin", base="https://duin.example/mijn", library_code="duin"
    )
    reading = register()
    here = browser()
    by_client = {}
    for name, client in (("maas", maas), ("duin", duin), ("reading", reading)):
        tokens = sign_in_to(client, here)
        by_client[name] = (
            verified(tokens["id_token"])[1]["libraries"],
            userinfo(tokens["access_token"]).json()["libraries"],
        )
    assert (
        by_client["maas"][0]
        == by_client["maas"][1]
        == [
            {"code": "duin", "name": "Bibliotheek Duinstreek"},
            {"code": "maas", "name": "Bibliotheek aan de Maas", "customer_ref": "2010000001"},
        ]
    )
    assert (
        by_client["duin"][0]
        == by_client["duin"][1]
        == [
            {"code": "duin", "name": "Bibliotheek Duinstreek", "customer_ref": "D-77"},
            {"code": "maas", "name": "Bibliotheek aan de Maas"},
        ]
    )
    assert "customer_ref" not in json.dumps(by_client["reading"])


def test_a_mijn_menu_client_needs_a_known_library(db):
    from bibid.common.problems import Problem

    with pytest.raises(Problem):
        register("mijnmenu", "Mijn Menu Nergens", library_code="nergens")
    with pytest.raises(Problem):
        register("library-api", "Verkeerd")


@pytest.mark.parametrize(
    ("scope", "present", "absent"),
    [
        ("openid", {"sub", "sid"}, {"preferred_username", "libraries", "rights"}),
        ("openid profile", {"sub", "sid", "preferred_username"}, {"libraries", "rights"}),
        ("openid libraries", {"sub", "sid", "libraries"}, {"preferred_username", "rights"}),
        ("openid rights", {"sub", "sid", "rights"}, {"preferred_username", "libraries"}),
    ],
)
def test_claims_follow_the_granted_scopes(linked_anna, rp, scope, present, absent):
    tokens = sign_in_to(rp, browser(), scope=scope)
    assert tokens["scope"] == scope
    claims = verified(tokens["id_token"])[1]
    assert present <= set(claims) and not absent & set(claims)
    info = userinfo(tokens["access_token"]).json()
    assert set(info) == present - {"sid"}


def test_a_service_cannot_ask_for_library_api_scopes(anna, rp):
    auth = authorize(browser(), rp, scope="openid accounts:read")
    assert auth.code is None
    assert auth.query.get("error") == "invalid_scope"
    assert not ServiceSession.objects.exists()


# -- what the authorization endpoint refuses ------------------------------------------------


def assert_no_code(auth: Authorization) -> None:
    from oauth2_provider.models import Grant

    assert auth.code is None, auth.location
    assert "code=" not in auth.location
    assert not Grant.objects.exists()
    assert not ServiceSession.objects.exists()
    assert not LoginEvent.objects.filter(kind="service").exists()


def test_pkce_is_required(anna, rp):
    auth = authorize(browser(), rp, code_challenge=None, code_challenge_method=None)
    assert_no_code(auth)
    assert auth.query.get("error") == "invalid_request"


def test_pkce_plain_is_refused(anna, rp):
    verifier = secrets.token_urlsafe(48)
    auth = authorize(browser(), rp, code_challenge=verifier, code_challenge_method="plain")
    assert_no_code(auth)
    assert auth.response.status_code in (302, 400)


@pytest.mark.parametrize(
    "variant",
    [
        "https://rp.example/inloggen/klaar",  # trailing slash dropped
        "https://rp.example/inloggen/klaar//",
        "https://RP.example/inloggen/klaar/",
        "HTTPS://rp.example/inloggen/klaar/",
        "https://rp.example:443/inloggen/klaar/",
        "https://rp.example:8443/inloggen/klaar/",
        "https://rp.example/inloggen/klaar/..;/",
        "https://rp.example/inloggen/klaar/../../evil",
        "https://rp.example/inloggen/klaar/?next=https://evil.example",
        "https://rp.example/inloggen/klaar/#x",
        "https://rp.example@evil.example/inloggen/klaar/",
        "https://evil.example@rp.example/inloggen/klaar/",
        "https://rp.example.evil.example/inloggen/klaar/",
        "http://rp.example/inloggen/klaar/",
        "https://rp.example/inloggen/klaar/%2e%2e/",
        "javascript:alert(1)//https://rp.example/inloggen/klaar/",
        "",
    ],
)
def test_redirect_uri_variants_get_the_error_page(anna, rp, variant):
    auth = authorize(browser(), rp, redirect_uri=variant)
    assert auth.response.status_code == 400, auth.location
    assert "Location" not in auth.response
    assert "Deze inlogvraag klopt niet" in auth.response.text
    assert_no_code(auth)


def test_an_unknown_client_gets_the_error_page(anna, rp):
    auth = authorize(browser(), rp, client_id="nobody")
    assert auth.response.status_code == 400 and "Location" not in auth.response
    assert_no_code(auth)


def test_implicit_and_hybrid_response_types_are_refused(anna, rp):
    for response_type in ("token", "id_token", "code id_token", "id_token token"):
        auth = authorize(browser(), rp, response_type=response_type)
        assert_no_code(auth)
        assert "access_token" not in auth.location and "id_token=" not in auth.location


@pytest.mark.parametrize("signed_in_first", [True, False])
def test_prompt_none_is_answered_not_a_server_error(anna, rp, signed_in_first):
    client = (
        browser(raise_request_exception=False)
        if signed_in_first
        else Client(raise_request_exception=False)
    )
    auth = authorize(client, rp, prompt="none")
    assert auth.response.status_code == 302, auth.response.status_code
    assert auth.location.startswith(rp.redirect_uri + "?")
    if signed_in_first:
        assert auth.code
    else:
        assert auth.query["error"] == "login_required" and auth.code is None


def test_prompt_none_is_advertised(client):
    # What makes the test above matter: services are told prompt=none works.
    data = client.get("/o/.well-known/openid-configuration").json()
    assert "none" in data["prompt_values_supported"]


def test_error_responses_name_the_issuer_too(anna, rp, settings):
    auth = authorize(browser(), rp, code_challenge=None)
    assert auth.query.get("error") == "invalid_request"
    assert auth.query.get("iss") == issuer(settings)


# -- what the token endpoint refuses --------------------------------------------------------


def assert_invalid_grant(response) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


@pytest.fixture
def code(anna, rp) -> Authorization:
    auth = authorize(browser(), rp)
    assert auth.code
    return auth


def test_a_code_works_once(rp, code):
    assert exchange(rp, code.code, code.verifier).status_code == 200
    assert_invalid_grant(exchange(rp, code.code, code.verifier))


def test_a_wrong_code_verifier_is_refused(rp, code):
    assert_invalid_grant(exchange(rp, code.code, pkce_pair()[0]))


def test_a_missing_code_verifier_is_refused(rp, code):
    response = token_request(
        rp, {"grant_type": "authorization_code", "code": code.code, "redirect_uri": rp.redirect_uri}
    )
    assert response.status_code == 400 and "access_token" not in response.json()


def test_another_clients_code_is_refused(rp, code):
    other = register(name="Andere dienst", base="https://other.example")
    response = token_request(
        other,
        {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": other.redirect_uri,
            "code_verifier": code.verifier,
        },
    )
    assert_invalid_grant(response)
    assert exchange(rp, code.code, code.verifier).status_code == 200  # still the owner's


def test_a_wrong_client_secret_is_refused(rp, code):
    response = exchange(rp, code.code, code.verifier, authorization=rp.basic("wrong"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_different_redirect_uri_at_the_token_endpoint_is_refused(rp, code):
    response = token_request(
        rp,
        {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": rp.redirect_uri + "x",
            "code_verifier": code.verifier,
        },
    )
    assert response.status_code == 400 and "access_token" not in response.json()


def test_a_code_is_worthless_once_the_patron_signed_out(anna, rp):
    here = browser()
    auth = authorize(here, rp)
    assert here.post("/uitloggen/").status_code == 302
    assert_invalid_grant(exchange(rp, auth.code, auth.verifier))
    # The service session is made when a code is exchanged: signing out deleted the
    # pending code, so none was made.
    assert not ServiceSession.objects.exists()


def test_a_code_expires_after_a_minute(rp, code):
    with django_time_moved(61):
        assert_invalid_grant(exchange(rp, code.code, code.verifier))


def test_a_code_is_still_good_within_the_minute(rp, code):
    with django_time_moved(50):
        assert exchange(rp, code.code, code.verifier).status_code == 200


def test_a_code_is_worthless_once_the_identity_session_expired(rp, code, clock):
    clock.advance(hours=12, seconds=1)  # the identity session's own end (SESSION_COOKIE_AGE)
    assert_invalid_grant(exchange(rp, code.code, code.verifier))


# -- DOT's own pages that a patron must not reach --------------------------------------------


def test_patrons_cannot_register_their_own_oauth_clients(anna):
    from oauth2_provider.models import Application

    here = browser()
    assert here.get("/o/applications/register/").status_code == 404
    here.post(
        "/o/applications/register/",
        {
            "name": "Mijn Menu (echt waar)",
            "client_id": "phish",
            "client_secret": "s" * 40,
            "hash_client_secret": "on",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": "https://evil.example/cb",
            "post_logout_redirect_uris": "",
            "allowed_origins": "",
            "algorithm": "RS256",
        },
    )
    assert not Application.objects.filter(client_id="phish").exists()


# -- signing in again: prompt=login and max_age (OIDC Core 3.1.2.1) --------------------------


def sign_in_again(client: Client, auth: Authorization) -> Authorization:
    """The sign-in page a service's prompt=login or max_age sent the browser to: the form
    (even though the browser is signed in), whose answer is the authorization endpoint's
    (without prompt=login and max_age, so no loop): the code for the service."""
    assert auth.response.status_code == 302 and auth.location.startswith("/inloggen/?next=")
    next_url = parse_qs(urlsplit(auth.location).query)["next"][0]
    next_query = parse_qs(urlsplit(next_url).query)
    assert "prompt" not in next_query and "max_age" not in next_query
    form = client.get(auth.location)
    assert form.status_code == 200 and 'name="password"' in form.text
    done = client.post(
        "/inloggen/", {"username": "anna.jansen", "password": PASSWORD, "next": next_url}
    )
    assert done.status_code == 302 and done["Location"].startswith(auth.params["redirect_uri"])
    response = done
    location = response.get("Location", "")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return Authorization(response=response, params=auth.params, verifier=auth.verifier, query=query)


def auth_time(rp: Rp, auth: Authorization) -> int:
    tokens = exchange(rp, auth.code, auth.verifier)
    assert tokens.status_code == 200, tokens.content
    return verified(tokens.json()["id_token"])[1]["auth_time"]


def test_prompt_login_asks_for_the_password_again(anna, rp, clock):
    client = browser()
    clock.advance(minutes=5)
    auth = authorize(client, rp, prompt="login")
    assert auth.code is None
    again = sign_in_again(client, auth)
    assert again.code and again.query["state"] == auth.params["state"]
    assert auth_time(rp, again) == int(clock().timestamp())


@pytest.mark.parametrize("max_age", ["0", "600"])
def test_max_age_older_than_the_sign_in_means_signing_in_again(anna, rp, clock, max_age):
    client = browser()
    clock.advance(minutes=20)
    auth = authorize(client, rp, max_age=max_age)
    assert auth.code is None
    again = sign_in_again(client, auth)  # no loop, not even for max_age=0
    assert again.code
    assert int(clock().timestamp()) - auth_time(rp, again) <= int(max_age)


def test_max_age_already_met_gives_the_code_at_once(anna, rp, clock):
    client = browser()
    clock.advance(minutes=5)
    auth = authorize(client, rp, max_age="3600")
    assert auth.code
    assert int(clock().timestamp()) - auth_time(rp, auth) == 300


def test_max_age_with_prompt_none_answers_login_required(anna, rp, clock):
    client = browser()
    clock.advance(minutes=20)
    auth = authorize(client, rp, max_age="60", prompt="none")
    assert auth.location.startswith(rp.redirect_uri + "?")
    assert auth.query["error"] == "login_required" and auth.code is None
    assert auth.query["state"] == auth.params["state"]


@pytest.mark.parametrize("max_age", ["", "-5", "abc", "٣", "1e3", "9" * 5000])
def test_a_malformed_max_age_is_ignored(anna, rp, clock, max_age):
    client = browser()
    clock.advance(minutes=20)
    auth = authorize(client, rp, max_age=max_age)
    assert auth.response.status_code == 302 and auth.code, auth.location
