"""A fast hash for machine secrets (OAuth2 client secrets), never for people's passwords."""

import hashlib
import secrets

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop as _


class HighEntropySecretHasher(BasePasswordHasher):
    """Salted SHA-256, for secrets we generate with 128 random characters.

    A slow hash protects guessable secrets; a 128-character random secret cannot be guessed,
    so checking it need not cost 20 ms of Argon2 per token request (OWASP Password Storage:
    "high-entropy" secrets). Used through OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] only:
    make_password uses the first hasher in PASSWORD_HASHERS (Argon2id) for passwords.
    """

    algorithm = "sha256-secret"

    def salt(self) -> str:
        return secrets.token_hex(16)

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        digest = hashlib.sha256((salt + password).encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            _("algorithm"): decoded["algorithm"],
            _("salt"): mask_hash(decoded["salt"]),
            _("hash"): mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass
