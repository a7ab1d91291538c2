"""Tokens for links in e-mails: signed, short-lived, single use.

A token names the account (its public id), the purpose, and a fingerprint of the account's
state (password hash, recovery address, state, and for the links that set a password the last
sign-in). Using the link changes that state (a password is chosen, an address confirmed), so
the same link cannot work twice; changing the password voids every outstanding link. Expiry is
the signature's age. The "Dit was ik niet" link (undo a library's change of the recovery
address) is here too, at the bottom: every link token is made and checked in this one module,
below the pages, the mail and the libraries that use them (the identity service's layers).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.core import signing
from django.utils.crypto import salted_hmac

from bibid.common import clock
from bibid.identity.accounts.models import Account, AccountEvent


class Purpose(StrEnum):
    ACTIVATION = "activation"  # choose the first password, confirm the address
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password
    EMAIL_CHANGE = "email_change"
    # "Dit was ik niet": undo a library's change of the recovery address (sent to the
    # previous address); void once the address changes again.
    UNDO_LIBRARY_CHANGE = "undo_library_change"


LIFETIME = {
    Purpose.ACTIVATION: timedelta(hours=24),
    Purpose.PASSWORD_RESET: timedelta(minutes=30),
    Purpose.EMAIL_CHANGE: timedelta(hours=24),
    Purpose.UNDO_LIBRARY_CHANGE: timedelta(days=7),
}
# The salts keep the names of the modules these tokens were first made in: a changed salt
# would void every link already mailed.
_SALT = "bibid.selfservice.token"


class TimestampedSigner(signing.TimestampSigner):
    """Django's timestamp signer, on our clock (so tests can move time forward)."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(clock.now().timestamp()))

    def unsign(self, value: str, max_age=None) -> str:
        result = signing.Signer.unsign(self, value)
        value, timestamp = result.rsplit(self.sep, 1)
        if max_age is not None:
            seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
            age = clock.now().timestamp() - signing.b62_decode(timestamp)
            if age > seconds:
                raise signing.SignatureExpired(f"Signature age {age} > {seconds} seconds")
        return value


def _fingerprint(account: Account, purpose: Purpose, extra: str = "") -> str:
    # A sign-in voids an open reset link (as Django's own reset tokens do): the patron has
    # shown they hold the account, and a forgotten link in a mailbox is one less way in.
    # A confirmation link for a new address is not voided by it: the patron asked for the
    # change while signed in and often signs in again (on the phone) before clicking; the
    # link can only confirm the address it names, and stays single use because confirming
    # changes the recovery address in this fingerprint.
    if purpose == Purpose.UNDO_LIBRARY_CHANGE:
        # "Dit was ik niet" depends on the recovery address alone (the current one and the
        # one it replaced). Not on the password, the state or the last sign-in: whoever the
        # library gave the account to could otherwise kill the previous owner's undo link by
        # confirming the new address, choosing a password or signing in. The undo puts the
        # previous address back, which changes this fingerprint: the link works once; a
        # further change of the address voids it too.
        previous = getattr(account, "previous_recovery_email", "")
        state = f"{account.recovery_email}|{previous}|{extra}"
        return salted_hmac(f"bibid.token.{purpose}", state, algorithm="sha256").hexdigest()[:24]
    last = ""
    if purpose != Purpose.EMAIL_CHANGE and account.last_login:
        last = account.last_login.isoformat()
    state = f"{account.password}|{account.recovery_email}|{account.state}|{last}|{extra}"
    return salted_hmac(f"bibid.token.{purpose}", state, algorithm="sha256").hexdigest()[:24]


def make(account: Account, purpose: Purpose, *, new_email: str = "") -> str:
    payload = {
        "a": str(account.public_id),
        "p": str(purpose),
        "f": _fingerprint(account, purpose, new_email),
    }
    if new_email:
        payload["e"] = new_email
    return TimestampedSigner(salt=_SALT).sign_object(payload, compress=True)


class TokenError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "expired" | "invalid" | "used"


def check(token: str, purpose: Purpose) -> tuple[Account, str]:
    """The account the token is for (and the new address, for an e-mail change)."""
    if not token or len(token) > 600:
        raise TokenError("invalid")
    signer = TimestampedSigner(salt=_SALT)
    try:
        payload = signer.unsign_object(token, max_age=LIFETIME[purpose])
    except signing.SignatureExpired:
        raise TokenError("expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise TokenError("invalid") from None
    if not isinstance(payload, dict) or payload.get("p") != str(purpose):
        raise TokenError("invalid")
    account = Account.objects.filter(public_id=payload.get("a")).first()
    if account is None:
        raise TokenError("invalid")
    new_email = payload.get("e", "")
    if payload.get("f") != _fingerprint(account, purpose, new_email):
        raise TokenError("used")
    return account, new_email


# -- "Dit was ik niet" ---------------------------------------------------------------------

UNDO_LIFETIME = timedelta(days=7)
_UNDO_SALT = "bibid.libraries.undo"


def undo_token(account: Account, event_id: int) -> str:
    """The link in the notice to the previous address. Not tied to the password or to
    sign-ins (as other links are): whoever changed the address may well have changed the
    password next, and the link must still work then. Single use through the event."""
    return signing.dumps(
        {"a": str(account.public_id), "e": event_id}, salt=_UNDO_SALT, compress=True
    )


def undo_event(token: str) -> tuple[Account, AccountEvent]:
    """The account and the library's change of its address that an undo link names."""
    if not token or len(token) > 400:
        raise TokenError("invalid")
    try:
        payload = signing.loads(token, salt=_UNDO_SALT, max_age=UNDO_LIFETIME.total_seconds())
    except signing.SignatureExpired:
        raise TokenError("expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise TokenError("invalid") from None
    if not isinstance(payload, dict):
        raise TokenError("invalid")
    account = Account.objects.filter(public_id=payload.get("a")).first()
    event = AccountEvent.objects.filter(
        pk=payload.get("e"),
        kind=AccountEvent.Kind.RECOVERY_EMAIL_SET,
        account_public_id=payload.get("a"),
    ).first()
    if account is None or event is None or not (event.data or {}).get("previous"):
        raise TokenError("invalid")
    if (event.data or {}).get("undone"):
        raise TokenError("used")
    # Time runs on our clock, as every other link's does (tests move it).
    if clock.now() - event.at > UNDO_LIFETIME:
        raise TokenError("expired")
    return account, event
