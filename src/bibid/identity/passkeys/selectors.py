"""Reads of the passkeys context."""

from __future__ import annotations

from django.utils.crypto import salted_hmac

from bibid.identity.accounts.models import Account

from .models import Passkey, PasskeyUser, RemovedPasskey


def credential_hash(credential_id: str) -> str:
    """A keyed hash of a credential id (base64url): how events and removed passkeys name a
    credential without holding it."""
    return salted_hmac("bibid.passkeys.credential", credential_id, algorithm="sha256").hexdigest()[
        :40
    ]


def passkeys_for(account: Account) -> list[Passkey]:
    return list(Passkey.objects.filter(account=account).order_by("created_at", "id"))


def passkey_of(account: Account, passkey_id: int) -> Passkey | None:
    """One of the account's own passkeys; None for any other id (never another's)."""
    return Passkey.objects.filter(account=account, pk=passkey_id).first()


def by_credential(credential_id: str) -> Passkey | None:
    return Passkey.objects.select_related("account").filter(credential_id=credential_id).first()


def removed(credential_id: str) -> RemovedPasskey | None:
    return RemovedPasskey.objects.filter(credential_hash=credential_hash(credential_id)).first()


def handle_of(account: Account) -> bytes | None:
    row = PasskeyUser.objects.filter(account=account).values_list("handle", flat=True).first()
    return bytes(row) if row is not None else None
