"""WebAuthn (passkeys and security keys): thin helpers on py_webauthn for every service.

The ceremonies themselves (CBOR, COSE keys, signatures, attestation) are py_webauthn's; this
module only decides what Bibid asks for and where the challenge lives.

API (every function is keyword-only after `request`):

- `relying_party(name=None) -> RelyingParty`: the RP id, name and origin of this service.
  The origin is the service's configured public URL (settings.BIBID_PUBLIC_URLS), never the
  request's Host header: a forged Host must not choose what the signature is checked against.
  The RP id is that URL's host without the port ("localhost", "bibid.example.nl"). Browsers
  refuse IP addresses as RP id, so a service reached as http://127.0.0.1:8000 cannot use
  WebAuthn; use http://localhost:8000 (or a real name) as its public URL.
- `begin_registration(request, *, purpose, user_handle, user_name, user_display_name="",
  exclude_credential_ids=(), passkey=True) -> dict`: creation options for
  `navigator.credentials.create()` as a JSON-able dict (bytes as base64url, as webauthn.js
  expects). `passkey=True` asks for a discoverable credential with user verification
  required; `passkey=False` is a security key as second factor (not discoverable, user
  verification preferred). `user_handle` is an opaque random per-account value (never the
  account id or username: it is stored in the authenticator and returned on sign-in).
- `finish_registration(request, *, purpose, credential) -> Registered`: verifies the browser's
  answer (a JSON string or dict) against the challenge in the session; returns the credential
  id, the public key (COSE bytes, to store), the sign count and the transports.
- `begin_authentication(request, *, purpose, credential_ids=None, passkey=True) -> dict`:
  request options for `navigator.credentials.get()`. Without `credential_ids` the browser
  offers its discoverable credentials (passkey sign-in without a username); with them only
  those (a second factor for a known account). `passkey=True`: user verification required
  (the passkey is the whole sign-in, so it must be "something you have" *and* a PIN or
  biometric); `passkey=False`: preferred (the password already was the first factor).
- `posted(request) -> dict`: the JSON object webauthn.js posted (bounded), or {}.
- `read_assertion(credential) -> Assertion`: the credential id and user handle of the browser's
  answer, WITHOUT verifying anything, so the caller can look up the stored public key.
- `finish_authentication(request, *, purpose, assertion, public_key, sign_count)
  -> Authenticated`: verifies the assertion against the session's challenge, the stored key
  and sign count; returns the new sign count (store it) and whether the user was verified.

Every refusal raises `WebAuthnError` with a short `reason` for logs and events
("no_challenge", "expired", "malformed", "invalid", "sign_count"); show users one generic
message, never the reason. The challenge is kept in the Django session under a key per
`purpose` (e.g. "passkey-signin", "passkey-enrol", "mfa"), so two ceremonies of different
kinds do not overwrite each other; it is removed by the first finish_* call whatever the
outcome (single use: a captured answer cannot be replayed) and refused after
CHALLENGE_LIFETIME (a challenge left in a session is not good forever).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import webauthn
from django.conf import settings
from webauthn.helpers import options_to_json, parse_authentication_credential_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from bibid.common import clock

# Long enough for a person to find a security key or type a PIN, short enough that a
# challenge forgotten in a session is soon worthless. The browser gets the same timeout.
CHALLENGE_LIFETIME = timedelta(minutes=5)
_SESSION_PREFIX = "bibid_webauthn:"


class WebAuthnError(Exception):
    """A ceremony refused; `reason` is for logs and events, never for the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class Registered:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]
    user_verified: bool
    backed_up: bool


@dataclass(frozen=True)
class Assertion:
    credential_id: bytes
    user_handle: bytes | None
    parsed: AuthenticationCredential


@dataclass(frozen=True)
class Authenticated:
    credential_id: bytes
    new_sign_count: int
    user_verified: bool
    backed_up: bool


def relying_party(name: str | None = None) -> RelyingParty:
    """Return this service's relying party: RP id = public URL host, origin = exact public URL."""
    public = settings.BIBID_PUBLIC_URLS[settings.SERVICE]
    parts = urlsplit(public)
    origin = f"{parts.scheme}://{parts.netloc}"
    return RelyingParty(id=parts.hostname or "", name=name or "Bibid", origin=origin)


def b64url(data: bytes) -> str:
    """Encode bytes as unpadded base64url (the form WebAuthn's JSON uses)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """Decode unpadded base64url; raise WebAuthnError("malformed") on garbage."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise WebAuthnError("malformed") from exc


def _uv(passkey: bool) -> UserVerificationRequirement:
    return (
        UserVerificationRequirement.REQUIRED if passkey else UserVerificationRequirement.PREFERRED
    )


def _timeout_ms() -> int:
    return int(CHALLENGE_LIFETIME.total_seconds() * 1000)


def _store_challenge(request, purpose: str, challenge: bytes, *, passkey: bool) -> None:
    request.session[_SESSION_PREFIX + purpose] = {
        "challenge": b64url(challenge),
        "expires": (clock.now() + CHALLENGE_LIFETIME).timestamp(),
        "uv": passkey,
    }


def _take_challenge(request, purpose: str) -> tuple[bytes, bool]:
    """Remove and return (challenge, user verification required); refuse a missing or old one."""
    # Popped before any check, so a refused answer also spends the challenge.
    stored = request.session.pop(_SESSION_PREFIX + purpose, None)
    if not isinstance(stored, dict) or "challenge" not in stored:
        raise WebAuthnError("no_challenge")
    if clock.now().timestamp() > float(stored.get("expires", 0)):
        raise WebAuthnError("expired")
    return from_b64url(stored["challenge"]), bool(stored.get("uv", True))


def begin_registration(
    request,
    *,
    purpose: str,
    user_handle: bytes,
    user_name: str,
    user_display_name: str = "",
    exclude_credential_ids: Sequence[bytes] = (),
    passkey: bool = True,
    rp_name: str | None = None,
) -> dict[str, Any]:
    """Return creation options for navigator.credentials.create() and keep the challenge."""
    rp = relying_party(rp_name)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=user_display_name or user_name,
        timeout=_timeout_ms(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=(
                ResidentKeyRequirement.REQUIRED if passkey else ResidentKeyRequirement.DISCOURAGED
            ),
            user_verification=_uv(passkey),
        ),
        # Excluding the account's own credentials stops one authenticator being added twice.
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in exclude_credential_ids],
    )
    _store_challenge(request, purpose, options.challenge, passkey=passkey)
    # Through py_webauthn's own JSON (enums become their plain values) and back to a dict.
    return json.loads(options_to_json(options))


# A browser's answer is a few kilobytes; a bigger body is not one (and is not parsed).
POSTED_MAX = 64 * 1024


def posted(request) -> dict:
    """The JSON object bibid/webauthn.js posted (the browser's answer and the form's fields);
    {} for anything else, so the caller refuses it with its one generic message."""
    if len(request.body) > POSTED_MAX:
        return {}
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _load(credential: str | dict | bytes) -> dict:
    if isinstance(credential, dict):
        return credential
    try:
        loaded = json.loads(credential)
    except (ValueError, TypeError) as exc:
        raise WebAuthnError("malformed") from exc
    if not isinstance(loaded, dict):
        raise WebAuthnError("malformed")
    return loaded


def finish_registration(request, *, purpose: str, credential: str | dict) -> Registered:
    """Verify the browser's answer to begin_registration; return what to store."""
    challenge, passkey = _take_challenge(request, purpose)
    rp = relying_party()
    try:
        verified = webauthn.verify_registration_response(
            credential=_load(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=passkey,
        )
    except WebAuthnException as exc:
        raise WebAuthnError("invalid") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise WebAuthnError("malformed") from exc
    transports = _load(credential).get("response", {}).get("transports") or []
    known = {t.value for t in AuthenticatorTransport}
    return Registered(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t for t in transports if isinstance(t, str) and t in known],
        user_verified=verified.user_verified,
        backed_up=verified.credential_backed_up,
    )


def begin_authentication(
    request,
    *,
    purpose: str,
    credential_ids: Sequence[bytes] | None = None,
    passkey: bool = True,
) -> dict[str, Any]:
    """Return request options for navigator.credentials.get() and keep the challenge."""
    rp = relying_party()
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        timeout=_timeout_ms(),
        allow_credentials=(
            [PublicKeyCredentialDescriptor(id=c) for c in credential_ids]
            if credential_ids
            else None
        ),
        user_verification=_uv(passkey),
    )
    _store_challenge(request, purpose, options.challenge, passkey=passkey)
    return json.loads(options_to_json(options))


def read_assertion(credential: str | dict) -> Assertion:
    """Parse the browser's answer to navigator.credentials.get() without verifying it."""
    try:
        parsed = parse_authentication_credential_json(json.dumps(_load(credential)))
    except (WebAuthnException, KeyError, ValueError, TypeError) as exc:
        raise WebAuthnError("malformed") from exc
    return Assertion(
        credential_id=parsed.raw_id,
        user_handle=parsed.response.user_handle or None,
        parsed=parsed,
    )


def finish_authentication(
    request, *, purpose: str, assertion: Assertion, public_key: bytes, sign_count: int
) -> Authenticated:
    """Verify an assertion against the session's challenge and the stored key and sign count.

    When no stored key matches the assertion, call `discard_challenge` instead, so the
    challenge is spent on that path too."""
    challenge, passkey = _take_challenge(request, purpose)
    rp = relying_party()
    try:
        verified = webauthn.verify_authentication_response(
            credential=assertion.parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=passkey,
        )
    except InvalidAuthenticationResponse as exc:
        # A sign count that did not go up may mean a cloned authenticator (WebAuthn §6.1.1):
        # refused, and told apart so the caller can record it.
        if "sign count" in str(exc).lower():
            raise WebAuthnError("sign_count") from exc
        raise WebAuthnError("invalid") from exc
    except WebAuthnException as exc:
        raise WebAuthnError("invalid") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise WebAuthnError("malformed") from exc
    return Authenticated(
        credential_id=verified.credential_id,
        new_sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
        backed_up=verified.credential_backed_up,
    )


def discard_challenge(request, *, purpose: str) -> None:
    """Spend a ceremony's challenge without verifying (e.g. the credential is unknown)."""
    request.session.pop(_SESSION_PREFIX + purpose, None)
