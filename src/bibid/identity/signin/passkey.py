"""Signing in with a passkey: one decision per attempt, every attempt recorded.

States (the journey is two requests: `begin` puts a challenge in the session, `sign_in`
spends it, whatever the outcome):

    answer ──► throttled   the guard refused this network: wait `retry_after` seconds
           ├─► failed      one generic answer; the event keeps the real reason:
           │               passkey_unknown | passkey_removed | passkey_invalid | inactive
           └─► signed_in   the view starts the session exactly as the password path does

No username is asked (discoverable credentials), so nothing here can tell anyone whether an
account exists or has a passkey: an unknown credential, a removed one, a bad signature and
an inactive account all get the same answer, and every answer costs one guard reservation.
The guard counts per network only: there is no name to count against, and a passkey cannot
be guessed (it is a signature), so the limit is against hammering, not guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bibid.common import clock, fastsql, metrics
from bibid.common import webauthn as wa
from bibid.common.db import quick_commit
from bibid.common.guard import lanes as guard
from bibid.identity.accounts.models import Account
from bibid.identity.passkeys import selectors as passkeys
from bibid.identity.passkeys import services as passkey_services

from .models import LoginEvent

Reason = LoginEvent.Reason
PURPOSE = "passkey-signin"
# As generous as the password path's address lane (a library branch behind one address).
PER_NETWORK = guard.Policy("pkaddr", free=20, max_delay=60)


@dataclass(frozen=True)
class Result:
    reason: str
    account: Account | None = None
    retry_after: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason == Reason.OK

    @property
    def throttled(self) -> bool:
        return self.reason == Reason.THROTTLED


def begin(request) -> dict:
    """The options for the browser's passkey dialogue (no allowCredentials: discoverable)."""
    return wa.begin_authentication(request, purpose=PURPOSE, passkey=True)


def sign_in(
    request,
    credential: dict | str,
    *,
    ip: str,
    user_agent: str,
    on_success: Callable[[Account], None] | None = None,
) -> Result:
    """Decide one passkey answer. `request` carries the session that holds the challenge."""
    lanes = [guard.network_lane(PER_NETWORK, ip)]
    denied = guard.reserve(lanes)
    if denied is not None:
        wa.discard_challenge(request, purpose=PURPOSE)
        result = Result(Reason.THROTTLED, retry_after=denied.retry_after)
        with quick_commit():
            record(result, ip=ip, user_agent=user_agent)
        return result
    result = _decide(request, credential)
    with quick_commit():
        if result.ok:
            guard.succeed(lanes)
            account = result.account
            account.last_login = clock.now()
            fastsql.update(Account, account.pk, last_login=account.last_login)
            if on_success is not None:
                on_success(account)
        record(result, ip=ip, user_agent=user_agent)
    return result


def _decide(request, credential) -> Result:
    try:
        assertion = wa.read_assertion(credential)
    except wa.WebAuthnError as error:
        wa.discard_challenge(request, purpose=PURPOSE)
        return Result(Reason.PASSKEY_INVALID, details={"check": error.reason})
    credential_id = wa.b64url(assertion.credential_id)
    hashed = passkeys.credential_hash(credential_id)
    details = {"credential": hashed}
    passkey = passkeys.by_credential(credential_id)
    if passkey is None:
        # Spent here too: the challenge is single use whatever the answer.
        wa.discard_challenge(request, purpose=PURPOSE)
        gone = passkeys.removed(credential_id)
        if gone is not None:
            account = Account.objects.filter(pk=gone.account_id).first()
            return Result(Reason.PASSKEY_REMOVED, account=account, details=details)
        return Result(Reason.PASSKEY_UNKNOWN, details=details)
    account = passkey.account
    # WebAuthn §7.2 step 6: the user handle the authenticator returns must be the owner's.
    if assertion.user_handle is not None and assertion.user_handle != passkeys.handle_of(account):
        wa.discard_challenge(request, purpose=PURPOSE)
        return Result(
            Reason.PASSKEY_INVALID, account=account, details={**details, "check": "user_handle"}
        )
    try:
        verified = wa.finish_authentication(
            request,
            purpose=PURPOSE,
            assertion=assertion,
            public_key=bytes(passkey.public_key),
            sign_count=passkey.sign_count,
        )
    except wa.WebAuthnError as error:
        return Result(
            Reason.PASSKEY_INVALID, account=account, details={**details, "check": error.reason}
        )
    # The passkey did prove itself: its use is recorded even when the account may not sign in.
    passkey_services.record_use(passkey=passkey, sign_count=verified.new_sign_count)
    if not account.is_active:
        return Result(Reason.INACTIVE, account=account, details=details)
    return Result(Reason.OK, account=account, details={**details, "name": passkey.name})


def record(result: Result, *, ip: str, user_agent: str) -> None:
    """Write the attempt to the log the helpdesk reads; details["method"] marks a passkey."""
    metrics.SIGNINS.labels(result.reason).inc()
    account = result.account
    fastsql.insert(
        LoginEvent,
        at=clock.now(),
        kind=LoginEvent.Kind.LOGIN,
        account_id=account.pk if account else None,
        # Nothing was typed: the account's own name, when known, so the helpdesk's history
        # reads alike for both ways in.
        username=account.username if account else "",
        outcome=LoginEvent.Outcome.SUCCESS if result.ok else LoginEvent.Outcome.FAILURE,
        reason=result.reason,
        ip=ip or None,
        user_agent="".join(ch for ch in user_agent if ch.isprintable())[:300],
        service="",
        details={"method": "passkey", **result.details},
    )
