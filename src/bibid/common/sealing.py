"""Sealing secrets we must be able to read back (a client secret we send to another service).

Fernet (AES-128-CBC with HMAC-SHA256, from the cryptography package) with a key derived from
the service's SECRET_KEY, so that a copy of the database alone does not give the secrets
away. Passwords are never sealed: they are hashed.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"bibid.common.sealing"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def unseal(token: str) -> str:
    """The sealed value; an empty string when it cannot be read (another SECRET_KEY)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""
