"""The second factor's operations: enrol and verify one-time codes (pyotp), recovery codes,
the guessing limits of the second step, and a reset by a manager or operator.

States of a user: no factor (must enrol at the next sign-in) -> at least one factor (every
sign-in asks for one of them, or for an unused recovery code). A reset removes all factors
and codes, so the next sign-in enrols again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pyotp
from django.db import transaction
from django.db.models import Count
from django.utils.crypto import constant_time_compare, salted_hmac

from bibid.common import clock, sealing
from bibid.common.db import quick_commit
from bibid.common.guard import lanes as guard

from . import events
from .models import Authenticator, MfaEvent, RecoveryCode

ISSUER = "Bibid"
RECOVERY_COUNT = 10
# 12 characters from a 32-letter alphabet without look-alikes: 60 bits, so that even the
# keyed hash stored for a code gives nothing to a guesser with a copy of the database.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 12

# Guessing limits of the second step, lanes of their own (names differ from the password's
# lanes, so a blocked password does not block the second step and the other way round).
# A six-digit code accepted in three time steps is guessed with 3 in a million per try;
# three free tries, then 2, 4, 8, ... seconds up to 15 minutes, at most 20 per hour per
# account, keeps that near one in ten thousand a day. The address lane is generous: a branch
# shares one address.
ACCOUNT = guard.Policy("mfa_acct", free=3, max_delay=900, cap=20)
ADDRESS = guard.Policy("mfa_addr", free=20, max_delay=60)


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str  # ok | wrong_code | replayed | throttled | no_factor
    method: str = ""  # totp | recovery | webauthn
    retry_after: int | None = None


# -- state ------------------------------------------------------------------------------


def has_factor(user) -> bool:
    return Authenticator.objects.filter(user=user).exists()


def factors(user) -> list[Authenticator]:
    return list(Authenticator.objects.filter(user=user))


def recovery_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@dataclass(frozen=True)
class ResetNotice:
    by: str  # the name of who reset it (their username when no name was recorded)
    at: object  # datetime


def last_reset(user) -> ResetNotice | None:
    """The reset that left `user` without a factor, if that is why they enrol now: told at
    the next sign-in too, so a staff member without mail (or who missed it) still learns it,
    and one who never asked for it can raise the alarm."""
    if has_factor(user):
        return None
    event = MfaEvent.objects.filter(user=user, action="reset").order_by("-at", "-pk").first()
    if event is None:
        return None
    return ResetNotice(by=str(event.detail.get("by_name") or event.actor), at=event.at)


# -- guessing limits --------------------------------------------------------------------


def account_lane(user, scope: str) -> guard.Lane:
    return guard.lane(ACCOUNT, f"{scope}:{user.pk}")


def lanes(*, user, scope: str, ip: str) -> list[guard.Lane]:
    """The account lane (per user of this service) and the address lane of a second step."""
    return [account_lane(user, scope), guard.network_lane(ADDRESS, ip)]


def block(user, scope: str) -> guard.BlockInfo:
    """The second step's account lane of `user` now: failures this hour and any wait."""
    return guard.lane_block(account_lane(user, scope))


# At most three lifts per user per hour, counted by the guard itself (one atomic statement,
# so two managers clicking at once cannot both get a fourth). Why a limit at all: a guesser
# who has the password and talks a manager into "unblocking" again and again would
# otherwise turn the slow-down into no limit; and why the failures stay: the attempt after a
# lift that fails again waits again, longer, and the hourly cap still holds.
LIFTS = guard.Policy("mfa_lift", free=3, max_delay=3600, cap=3)


def lift_block(*, user, scope: str, actor: str, detail: dict | None = None) -> str:
    """End the current wait of `user`'s second step (a manager or operator who helps):
    lifted | nothing (no wait, or the lane is at its hourly cap) | limit (three lifts this
    hour already). The caller checks that `actor` may do this. Every try on a lane that
    was waiting is audited, lifted or refused; with no wait there is nothing to change."""
    if guard.lane_block(account_lane(user, scope)).blocked_until is None:
        return "nothing"
    if guard.reserve([guard.lane(LIFTS, f"{scope}:{user.pk}")]) is not None:
        outcome = "limit"
    else:
        outcome = "lifted" if guard.lift_delay(account_lane(user, scope)) else "nothing"
    events.record(
        user=user,
        action="block_lifted",
        result="ok" if outcome == "lifted" else "refused",
        actor=actor,
        detail={**(detail or {}), "outcome": outcome},
    )
    return outcome


def refusals_since(users, since) -> dict[int, int]:
    """Refused second steps per user id since `since` (the audit trail, one query)."""
    rows = (
        MfaEvent.objects.filter(user__in=users, action="second_factor_refused", at__gte=since)
        .values("user_id")
        .annotate(n=Count("pk"))
    )
    return {row["user_id"]: row["n"] for row in rows}


def recovery_left_of(users) -> dict[int, int]:
    """Unused recovery codes per user id (one query)."""
    rows = (
        RecoveryCode.objects.filter(user__in=users, used_at__isnull=True)
        .values("user_id")
        .annotate(n=Count("pk"))
    )
    return {row["user_id"]: row["n"] for row in rows}


def reserve(lanes_: list[guard.Lane]) -> guard.Denied | None:
    return guard.reserve(lanes_)


def settle(lanes_: list[guard.Lane], ok: bool) -> None:
    """A correct second step: the account's lane starts afresh, the shared address lane only
    takes this attempt back (others behind that address may be guessing)."""
    if ok:
        with quick_commit():
            guard.release([lane for lane in lanes_ if lane.policy is ADDRESS])
            guard.succeed([lane for lane in lanes_ if lane.policy is ACCOUNT])


# -- one-time codes (TOTP) --------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, account: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code `code` is: this one, or one either side (clock drift)."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    current = totp.timecode(now)
    found = None
    for offset in (-1, 0, 1):
        # Compare every candidate (no early exit), in constant time.
        if constant_time_compare(totp.at(now, counter_offset=offset), code):
            found = current + offset
    return found


def check_new_totp(secret: str, code: str) -> int | None:
    """The step of a first code typed while enrolling, or None when it does not match."""
    return _matching_step(secret, code)


@transaction.atomic
def enrol_totp(*, user, secret: str, step: int, name: str, actor: str = "") -> Authenticator:
    """Keep a confirmed authenticator app; its confirming code's step counts as used."""
    authenticator = Authenticator.objects.create(
        user=user,
        kind=Authenticator.Kind.TOTP,
        name=name[:100],
        secret_sealed=sealing.seal(secret),
        last_step=step,
        last_used_at=clock.now(),
    )
    events.record(user=user, action="enrolled", result="ok", actor=actor, detail={"kind": "totp"})
    return authenticator


def _verify_totp(user, code: str) -> str:
    """ok | replayed | wrong_code, against each of the user's authenticator apps."""
    replayed = False
    for authenticator in Authenticator.objects.filter(user=user, kind=Authenticator.Kind.TOTP):
        step = _matching_step(sealing.unseal(authenticator.secret_sealed), code)
        if step is None:
            continue
        # One conditional UPDATE: of two requests with the same code, only one moves the
        # step forward; the other (and any later replay) finds last_step >= step.
        moved = Authenticator.objects.filter(pk=authenticator.pk, last_step__lt=step).update(
            last_step=step, last_used_at=clock.now()
        )
        if moved:
            return "ok"
        replayed = True
    return "replayed" if replayed else "wrong_code"


# -- recovery codes ---------------------------------------------------------------------


def _recovery_digest(user, code: str) -> str:
    # Keyed with the service's SECRET_KEY and bound to the user: the table alone says nothing.
    normal = "".join(code.lower().split()).replace("-", "")
    return salted_hmac("bibid.mfa.recovery", f"{user.pk}:{normal}", algorithm="sha256").hexdigest()


@transaction.atomic
def new_recovery_codes(*, user, actor: str = "") -> list[str]:
    """Replace all recovery codes by ten new ones; the texts are returned once, never kept."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _i in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _j in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, digest=_recovery_digest(user, code)) for code in codes
    )
    events.record(user=user, action="recovery_codes_new", result="ok", actor=actor)
    return codes


def _use_recovery(user, code: str) -> bool:
    # Conditional UPDATE: a code is used once, even by two requests at the same moment.
    return bool(
        RecoveryCode.objects.filter(
            user=user, digest=_recovery_digest(user, code), used_at__isnull=True
        ).update(used_at=clock.now())
    )


def looks_like_recovery(code: str) -> bool:
    return len("".join(code.split()).replace("-", "")) == RECOVERY_LENGTH


# -- the second step --------------------------------------------------------------------


def verify_code(*, user, code: str, scope: str, ip: str) -> Check:
    """Check a one-time code or a recovery code typed in the second step, guarded and
    recorded; the caller shows one answer for every refusal."""
    lanes_ = lanes(user=user, scope=scope, ip=ip)
    denied = reserve(lanes_)
    if denied is not None:
        check = Check(False, "throttled", retry_after=denied.retry_after)
    elif looks_like_recovery(code):
        used = _use_recovery(user, code)
        check = Check(used, "ok" if used else "wrong_code", "recovery")
    else:
        reason = _verify_totp(user, code)
        check = Check(reason == "ok", reason, "totp")
    settle(lanes_, check.ok)
    finish(user=user, check=check, ip=ip)
    return check


def finish(*, user, check: Check, ip: str) -> None:
    """Record a second step's outcome (any method)."""
    with quick_commit():
        if check.ok:
            events.record(
                user=user, action="second_factor_ok", result="ok", detail={"method": check.method}
            )
            if check.method == "recovery":
                events.record(
                    user=user,
                    action="recovery_code_used",
                    result="ok",
                    detail={"left": recovery_left(user)},
                )
        else:
            events.record(
                user=user,
                action="second_factor_refused",
                result="refused",
                detail={"reason": check.reason, "method": check.method, "ip": ip},
            )


@transaction.atomic
def reset(*, user, actor: str, detail: dict | None = None) -> int:
    """Remove every factor and recovery code of `user`: the next sign-in enrols again. The
    caller checks that `actor` may do this (a manager of the same library, an operator)."""
    removed, _kinds = Authenticator.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    events.record(
        user=user,
        action="reset",
        result="ok",
        actor=actor,
        detail={**(detail or {}), "removed": removed},
    )
    return removed
