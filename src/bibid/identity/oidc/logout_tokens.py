"""OpenID Connect Back-Channel Logout 1.0: the logout token (a signed JWT, no nonce)."""

from __future__ import annotations

import json
import uuid

from jwcrypto import jwk, jwt
from oauth2_provider.settings import oauth2_settings

from bibid.common import clock

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LIFETIME_SECONDS = 120


def issuer() -> str:
    return oauth2_settings.OIDC_ISS_ENDPOINT


def make(*, sub: str, sid: str, client_id: str) -> str:
    key = jwk.JWK.from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY.encode())
    now = int(clock.now().timestamp())
    claims = {
        "iss": issuer(),
        "sub": sub,
        "aud": client_id,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
        "sid": sid,
        "events": {EVENT: {}},
    }
    # typ logout+jwt (the spec's recommendation) keeps a logout token from being mistaken
    # for an ID token, and an ID token from being accepted as a logout token.
    header = {"alg": "RS256", "typ": "logout+jwt", "kid": key.thumbprint()}
    token = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
    token.make_signed_token(key)
    return token.serialize()
