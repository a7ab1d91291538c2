"""A passkey authenticator in software, for tests: it creates and signs real WebAuthn answers
(what a browser would send after navigator.credentials.create() / .get()), with a real P-256
key per credential, so py_webauthn on the server checks them as it checks a browser's.

Shared by the in-process tests (tests/identity) and the walk over HTTP against the running
system (tests/e2e/test_helpdesk_flows): the browser's part is only JSON, so no browser is
needed. py_webauthn does not refuse an IP address as relying party id (only browsers do),
so a system at http://127.0.0.1:<port> can be answered with rp_id "127.0.0.1".

Base64url and CBOR come from py_webauthn's helpers and cbor2, the signatures from
cryptography: nothing here encodes or signs by hand.
"""

from __future__ import annotations

import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url


class SoftAuthenticator:
    """A passkey authenticator in software (test only): one P-256 key per credential.

    origin and rp_id default to identity's own relying party (bibid.common.webauthn, which
    needs Django's settings: only in-process); a test against a running system passes them."""

    def __init__(self, *, origin: str | None = None, rp_id: str | None = None):
        if origin is None or rp_id is None:
            from bibid.common import webauthn as wa

            rp = wa.relying_party()
            origin, rp_id = origin or rp.origin, rp_id or rp.id
        self.origin = origin
        self.rp_id = rp_id
        self.credentials: dict[bytes, dict] = {}

    def _client_data(self, kind: str, options: dict) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": options["challenge"], "origin": self.origin},
            separators=(",", ":"),
        ).encode()

    def create(self, options: dict) -> dict:
        """The browser's JSON for navigator.credentials.create() (attestation "none")."""
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        credential_id = secrets.token_bytes(16)
        user_handle = base64url_to_bytes(options["user"]["id"])
        self.credentials[credential_id] = {"key": key, "count": 0, "user": user_handle}
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + (0).to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(credential_id).to_bytes(2, "big")
            + credential_id
            + cose
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": bytes_to_base64url(credential_id),
            "rawId": bytes_to_base64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(self._client_data("webauthn.create", options)),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, credential_id: bytes | None = None, *, count=None) -> dict:
        """The browser's JSON for navigator.credentials.get() with a discoverable credential."""
        credential_id = credential_id or next(iter(self.credentials))
        held = self.credentials[credential_id]
        held["count"] = held["count"] + 1 if count is None else count
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([0x05])  # user present, user verified
            + held["count"].to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options)
        signature = held["key"].sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": bytes_to_base64url(credential_id),
            "rawId": bytes_to_base64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(held["user"]),
            },
            "clientExtensionResults": {},
        }

    def impostor(self, credential_id: bytes | None = None) -> SoftAuthenticator:
        """Another authenticator that answers for this one's credential (same id, same user
        handle) but signs with a key of its own: a bad signature for a registered passkey."""
        credential_id = credential_id or next(iter(self.credentials))
        other = SoftAuthenticator(origin=self.origin, rp_id=self.rp_id)
        held = self.credentials[credential_id]
        other.credentials[credential_id] = {
            **held,
            "key": ec.generate_private_key(ec.SECP256R1()),
        }
        return other
