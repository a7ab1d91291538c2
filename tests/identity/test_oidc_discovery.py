"""The identity service's OpenID Connect discovery document, its JWKS, and the signing keys
on disk (loading, rotation, the rotate_oidc_key command)."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import time
from unittest import mock

import pytest
from django.core.management import call_command
from jwcrypto import jwk

from bibid.identity.oidc import keys

from .test_oidc import (  # noqa: F401  (signing_keys_fixture is the autouse signing_keys)
    issuer,
    pem,
    signing_keys_fixture,
)

pytestmark = pytest.mark.django_db


# -- discovery and keys ---------------------------------------------------------------------


def test_discovery_document(client, settings):
    response = client.get("/o/.well-known/openid-configuration")
    assert response.status_code == 200
    data = response.json()
    iss = issuer(settings)
    assert data["issuer"] == iss == settings.BIBID_PUBLIC_URLS["identity"] + "/o"
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["backchannel_logout_supported"] is True
    assert data["backchannel_logout_session_supported"] is True
    assert data["response_types_supported"] == ["code"]
    host = settings.BIBID_PUBLIC_URLS["identity"]
    assert data["end_session_endpoint"] == host + "/o/logout/"
    assert data["authorization_endpoint"] == host + "/o/authorize/"
    assert data["token_endpoint"] == host + "/o/token/"
    assert data["jwks_uri"] == host + "/o/.well-known/jwks.json"
    assert data["authorization_response_iss_parameter_supported"] is True
    assert "RS256" in data["id_token_signing_alg_values_supported"]
    assert {"sub", "sid", "preferred_username", "libraries", "rights"} <= set(
        data["claims_supported"]
    )
    # Patrons' services never learn of the library-API scopes.
    assert set(data["scopes_supported"]) == {"openid", "profile", "libraries", "rights"}


def test_discovery_states_what_defaults_would_wrongly_claim(client):
    """Discovery 3: grant_types_supported defaults to authorization_code and implicit,
    response_modes_supported to query and fragment, request_uri_parameter_supported to
    true. Each is stated, with exactly what the provider does."""
    data = client.get("/o/.well-known/openid-configuration").json()
    assert data["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ]
    assert data["response_modes_supported"] == ["query"]
    assert data["request_parameter_supported"] is False
    assert data["request_uri_parameter_supported"] is False
    assert data["claims_parameter_supported"] is False
    assert data["prompt_values_supported"] == ["none", "login"]
    assert data["id_token_signing_alg_values_supported"] == ["RS256"]
    assert data["subject_types_supported"] == ["public"]
    assert data["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    host = data["issuer"].removesuffix("/o")
    assert data["revocation_endpoint"] == host + "/o/revoke_token/"
    assert data["revocation_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


def test_the_grant_types_published_are_the_ones_the_token_endpoint_serves(anna, client):
    """Each published grant type works for the client it is meant for, and the grant types
    left out (password, device code, implicit) are refused for every client."""
    from oauth2_provider.models import Application

    from bibid.identity.libraries.services import register_library

    from .test_oidc import Client, browser, refresh, register, sign_in_to

    rp = register()
    tokens = sign_in_to(rp, browser())
    assert tokens["refresh_token"]  # authorization_code issues refresh tokens to services
    assert refresh(rp, tokens["refresh_token"]).status_code == 200
    library = register_library(code="maas", name="Bibliotheek aan de Maas")
    application = Application.objects.get(client_id=library.client_id)
    # The library API's clients: client credentials only, no refresh token.
    assert application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    api = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "accounts:read"},
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{library.client_id}:{library.client_secret}".encode()).decode(),
    )
    assert api.status_code == 200, api.content
    assert "refresh_token" not in api.json()
    for grant in ("password", "urn:ietf:params:oauth:grant-type:device_code", "implicit"):
        answer = Client().post(
            "/o/token/",
            {"grant_type": grant, "username": "anna.jansen", "password": "x", "device_code": "x"},
            HTTP_AUTHORIZATION=rp.basic(),
        )
        assert answer.status_code in (400, 401, 404), (grant, answer.status_code)
        assert "access_token" not in answer.json()


def test_the_published_revocation_endpoint_revokes(anna):
    """RFC 7009 at the address the discovery document gives: an access token, and a
    refresh token with the access token it carries, stop working; another service's
    token is left alone (its secret is not ours)."""
    from .test_oidc import Client, browser, refresh, register, sign_in_to, userinfo

    rp = register()
    other = register(name="Andere dienst", base="https://other.example")
    url = Client().get("/o/.well-known/openid-configuration").json()["revocation_endpoint"]
    path = url.split("/o/", 1)[1]
    first, second = sign_in_to(rp, browser()), sign_in_to(rp, browser())

    def revoke(token: str, hint: str, by=rp):
        data = {"token": token, "token_type_hint": hint}
        return Client().post(f"/o/{path}", data, HTTP_AUTHORIZATION=by.basic())

    assert revoke(first["access_token"], "access_token", by=other).status_code == 200
    assert userinfo(first["access_token"]).status_code == 200  # not the other's to revoke
    assert revoke(first["access_token"], "access_token").status_code == 200
    assert userinfo(first["access_token"]).status_code == 401
    assert revoke(second["refresh_token"], "refresh_token").status_code == 200
    assert refresh(rp, second["refresh_token"]).status_code == 400
    assert userinfo(second["access_token"]).status_code == 401


def test_discovery_ignores_the_host_header(client, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]
    data = client.get("/o/.well-known/openid-configuration", HTTP_HOST="evil.example").json()
    assert data["issuer"] == issuer(settings)
    assert "evil.example" not in json.dumps(data)


def test_discovery_with_a_trailing_slash_says_the_same(client):
    plain = client.get("/o/.well-known/openid-configuration").json()
    slash = client.get("/o/.well-known/openid-configuration/")
    assert slash.status_code in (200, 301, 404)
    if slash.status_code == 200:
        assert slash.json() == plain


def test_jwks_lists_the_active_and_the_inactive_keys(client):
    response = client.get("/o/.well-known/jwks.json")
    assert response.status_code == 200
    published = response.json()["keys"]
    expected = [jwk.JWK.from_pem(pem(n).encode()).thumbprint() for n in ("active", "retired")]
    assert [k["kid"] for k in published] == expected
    for key in published:
        assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
        assert "d" not in key and "p" not in key  # public halves only


def test_jwks_without_inactive_keys(client, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEYS_INACTIVE": []}
    assert len(client.get("/o/.well-known/jwks.json").json()["keys"]) == 1


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_load_makes_a_key_only_when_allowed(tmp_path):
    assert keys.load(tmp_path / "prod", allow_generated=False) == ("", [])
    assert not (tmp_path / "prod" / "active.pem").exists()
    active, inactive = keys.load(tmp_path / "dev", allow_generated=True)
    assert active.startswith("-----BEGIN PRIVATE KEY-----") and inactive == []
    assert _mode(tmp_path / "dev" / "active.pem") == 0o600
    assert keys.load(tmp_path / "dev", allow_generated=True)[0] == active  # stable


def test_rotate_keeps_the_old_key_and_drops_keys_past_their_time(tmp_path):
    assert keys.rotate(tmp_path, keep_seconds=3600) == (0, 0)  # first key, nothing retired
    first = (tmp_path / "active.pem").read_text()
    (tmp_path / "inactive").mkdir(mode=0o700)
    stale = tmp_path / "inactive" / f"{int(time.time()) - 7200}.pem"
    stale.write_text(pem("retired"))
    kept, dropped = keys.rotate(tmp_path, keep_seconds=3600)
    assert (kept, dropped) == (1, 1)
    assert not stale.exists()
    active, inactive = keys.load(tmp_path, allow_generated=False)
    assert active != first and inactive == [first]
    assert _mode(tmp_path / "active.pem") == 0o600
    for path in (tmp_path / "inactive").iterdir():
        assert _mode(path) == 0o600
    assert _mode(tmp_path / "inactive") & 0o077 == 0
    assert not list(tmp_path.rglob("*.tmp"))


def test_inactive_keys_load_newest_first(tmp_path):
    (tmp_path / "inactive").mkdir()
    (tmp_path / "inactive" / "1000.pem").write_text("older")
    (tmp_path / "inactive" / "2000.pem").write_text("newer")
    (tmp_path / "active.pem").write_text("active")
    assert keys.load(tmp_path, allow_generated=False) == ("active", ["newer", "older"])


def test_two_quick_rotations_keep_both_retired_keys(tmp_path):
    keys.rotate(tmp_path, keep_seconds=3600)
    first = (tmp_path / "active.pem").read_text()
    with mock.patch("time.time", return_value=1_900_000_000.2):
        keys.rotate(tmp_path, keep_seconds=3600)
        second = (tmp_path / "active.pem").read_text()
    with mock.patch("time.time", return_value=1_900_000_000.7):
        keys.rotate(tmp_path, keep_seconds=3600)
    inactive = keys.load(tmp_path, allow_generated=False)[1]
    assert first in inactive and second in inactive


def test_rotate_command_prints_json(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBID_OIDC_KEY_DIR", str(tmp_path))
    out = io.StringIO()
    call_command("rotate_oidc_key", stdout=out)
    assert json.loads(out.getvalue()) == {
        "rotated": True,
        "inactive_kept": 0,
        "inactive_dropped": 0,
        "restart_needed": "identity",
    }
    out = io.StringIO()
    call_command("rotate_oidc_key", stdout=out)
    assert json.loads(out.getvalue())["inactive_kept"] == 1
    assert _mode(tmp_path / "active.pem") == 0o600
