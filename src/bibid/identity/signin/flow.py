"""The sign-in journey as a state machine: one decision per attempt, every attempt recorded.

States (nothing is stored between them; the journey is one request):

    form ──► throttled   the guard refused: wait `retry_after` seconds (no password check)
         ├─► failed      one generic answer; the event keeps the real reason:
         │               unknown_username | wrong_password | no_password | inactive
         └─► signed_in   the view starts the session

Never revealing whether an account exists is a step, not an afterthought: the guard is keyed
on the typed name whether or not it exists, and every attempt that gets past the guard costs
exactly one Argon2 verification, against a dummy hash when there is no account or no
password, so all failures look and take the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.contrib.auth.hashers import check_password, get_hasher, make_password

from bibid.common import clock, fastsql, metrics
from bibid.common.db import quick_commit
from bibid.common.guard import lanes as guard
from bibid.identity.accounts.models import Account
from bibid.identity.accounts.usernames import username_key
from bibid.identity.libraries.selectors import account_by_card_number

from .device import Device
from .models import LoginEvent

Reason = LoginEvent.Reason


@dataclass(frozen=True)
class Attempt:
    username: str
    password: str
    ip: str
    user_agent: str = ""
    device: Device | None = None


@dataclass(frozen=True)
class Result:
    reason: str
    account: Account | None = None
    retry_after: int | None = None
    lanes: tuple[guard.Lane, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason == Reason.OK

    @property
    def throttled(self) -> bool:
        return self.reason == Reason.THROTTLED


@cache
def _dummy_hash(hasher_id: str) -> str:
    # Made once per process with the current hasher, so a check against it costs what a
    # check against a real hash costs.
    return make_password(secrets.token_urlsafe(24))


def _verify(account: Account | None, password: str) -> bool:
    if account is not None and account.has_usable_password():
        return account.check_password(password)
    check_password(password, _dummy_hash(get_hasher().algorithm))
    return False


def lanes_for(key: str, attempt: Attempt) -> list[guard.Lane]:
    if attempt.device is not None and attempt.device.knows(key):
        return [guard.device_lane(attempt.device.id, key)]
    return [guard.address_lane(attempt.ip), guard.account_lane(key)]


def sign_in(attempt: Attempt, *, on_success: Callable[[Account], None] | None = None) -> Result:
    """Decide one attempt: throttled, failed (with its real reason) or signed in.

    Everything written after the password check (the guard's count taken back, the session
    that `on_success` starts, the record of the attempt) is one transaction: one commit per
    sign-in instead of one per statement.
    """
    key = username_key(attempt.username)
    lanes = lanes_for(key, attempt)
    denied = guard.reserve(lanes)
    if denied is not None:
        # Looked up only so that the helpdesk sees the refused attempt on the account; the
        # answer is the same, and the lookup happens whether or not the account exists.
        account = Account.objects.filter(username_key=key).first()
        result = Result(Reason.THROTTLED, account=account, retry_after=denied.retry_after)
        with quick_commit():
            record(attempt, result)
        return result

    account = Account.objects.filter(username_key=key).first()
    by_card = None
    if attempt.username.strip().isalnum():
        # Patrons may sign in with their card number (domain.md, flow 1). A card number
        # belongs to the library whose range holds it: when a link there says whose it is,
        # that account is meant, even if some account has the number as its username (made
        # before usernames in card ranges were refused).
        by_card = account_by_card_number(attempt.username.strip())
        if by_card is not None and account is not None and by_card.pk == account.pk:
            by_card = None  # the same account either way
    if by_card is not None:
        account = by_card
        trusted = any(lane.policy is guard.DEVICE for lane in lanes)
        if not trusted:
            # Every name an account answers to counts against the account's own lane, so a
            # card number is not a second set of guesses at the same password.
            extra = guard.account_lane(account.username_key)
            denied = guard.reserve([extra])
            if denied is not None:
                guard.release(lanes)  # this attempt never got to the password
                result = Result(Reason.THROTTLED, account=account, retry_after=denied.retry_after)
                with quick_commit():
                    record(attempt, result)
                return result
            lanes = [*lanes, extra]
    password_ok = _verify(account, attempt.password)
    if account is None:
        reason = Reason.UNKNOWN_USERNAME
    elif not account.has_usable_password():
        reason = Reason.NO_PASSWORD
    elif not password_ok:
        reason = Reason.WRONG_PASSWORD
    elif not account.is_active:
        reason = Reason.INACTIVE
    else:
        reason = Reason.OK
    result = Result(reason, account=account, lanes=tuple(lanes))
    with quick_commit():
        if result.ok:
            guard.succeed(lanes)
            account.last_login = clock.now()
            fastsql.update(Account, account.pk, last_login=account.last_login)
            if on_success is not None:
                on_success(account)
        record(attempt, result)
    return result


def _printable(text: str, limit: int) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def record(attempt: Attempt, result: Result) -> None:
    """Write the attempt to the log the helpdesk reads: one INSERT."""
    metrics.SIGNINS.labels(result.reason).inc()
    fastsql.insert(
        LoginEvent,
        at=clock.now(),
        kind=LoginEvent.Kind.LOGIN,
        account_id=result.account.pk if result.account else None,
        username=_printable(attempt.username, 150),
        outcome=LoginEvent.Outcome.SUCCESS if result.ok else LoginEvent.Outcome.FAILURE,
        reason=result.reason,
        ip=attempt.ip or None,
        user_agent=_printable(attempt.user_agent, 300),
    )


def record_logout(*, account: Account, ip: str, user_agent: str) -> None:
    fastsql.insert(
        LoginEvent,
        at=clock.now(),
        kind=LoginEvent.Kind.LOGOUT,
        account_id=account.pk,
        username=account.username,
        outcome=LoginEvent.Outcome.SUCCESS,
        reason=Reason.OK,
        ip=ip or None,
        user_agent=_printable(user_agent, 300),
    )
