"""Checking a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, 2.6)."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bibid.common import clock

from . import clients
from .models import SeenLogoutToken

EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_AGE = timedelta(minutes=5)  # iat older than this is refused (with the jti store)
LEEWAY_SECONDS = 30


class InvalidLogoutToken(Exception):
    pass


def _decode(token: str, config: clients.ClientConfig) -> jwt.Token:
    client = clients.authlib_client(config)
    keys = KeySet.import_key_set(client.fetch_jwk_set())
    try:
        kid = jws.extract_compact(token.encode()).headers().get("kid")
    except (JoseError, ValueError) as exc:
        raise InvalidLogoutToken("not a JWS") from exc
    if kid and all(key.kid != kid for key in keys.keys):
        # An unknown kid may be a new key: fetch the JWKS once more. A known kid with a bad
        # signature is refused without asking identity (no amplification of forgeries).
        keys = KeySet.import_key_set(client.fetch_jwk_set(force=True))
    try:
        return jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError) as exc:
        raise InvalidLogoutToken(f"signature: {type(exc).__name__}") from exc


def validate(token: str, config: clients.ClientConfig) -> dict:
    """The claims of a good logout token for this client, or InvalidLogoutToken."""
    if not token or len(token) > 8000:
        raise InvalidLogoutToken("missing or oversized")
    decoded = _decode(token, config)
    if decoded.header.get("typ") not in (None, "logout+jwt", "JWT"):
        raise InvalidLogoutToken("typ")
    claims = decoded.claims
    now = int(clock.now().timestamp())
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(clock.now().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={
            "essential": True,
            "value": clients.authlib_client(config).load_server_metadata()["issuer"],
        },
        aud={"essential": True, "value": config.client_id},
        iat={"essential": True},
        jti={"essential": True},
        exp={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidLogoutToken(f"claims: {exc.error}") from exc
    if not isinstance(claims.get("events"), dict) or not isinstance(
        claims["events"].get(EVENT), dict
    ):
        raise InvalidLogoutToken("events")
    if "nonce" in claims:  # an ID token (or something made from one) is not a logout token
        raise InvalidLogoutToken("nonce")
    if not (isinstance(claims.get("sid"), str) and claims["sid"]) and not (
        isinstance(claims.get("sub"), str) and claims["sub"]
    ):
        raise InvalidLogoutToken("sid or sub")
    if not (now - MAX_AGE.total_seconds() <= claims["iat"] <= now + LEEWAY_SECONDS):
        raise InvalidLogoutToken("iat")
    try:
        with transaction.atomic():
            SeenLogoutToken.objects.create(
                jti=f"{config.key}:{claims['jti']}"[:200],
                expires_at=clock.now() + MAX_AGE + timedelta(seconds=LEEWAY_SECONDS),
            )
    except IntegrityError as exc:
        raise InvalidLogoutToken("replayed") from exc
    SeenLogoutToken.objects.filter(expires_at__lt=clock.now()).delete()
    return claims
