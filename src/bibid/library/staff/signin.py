"""Staff sign-in at the console: the same guessing protection as patrons get, every attempt
in the audit trail, one generic answer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from django.contrib.auth.hashers import check_password, get_hasher, make_password

from bibid.common.db import quick_commit
from bibid.common.guard import lanes as guard

from .models import AuditEvent, Staff


@dataclass(frozen=True)
class Result:
    staff: Staff | None
    reason: str  # ok | unknown | wrong_password | inactive | throttled
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


@cache
def _dummy(hasher: str) -> str:
    return make_password(secrets.token_urlsafe(24))


def sign_in(*, username: str, password: str, ip: str) -> Result:
    key = username.strip().lower()
    lanes = [guard.address_lane(ip), guard.account_lane(f"staff:{key}")]
    denied = guard.reserve(lanes)
    if denied is not None:
        result = Result(None, "throttled", denied.retry_after)
    else:
        staff = Staff.objects.filter(username=key).select_related("library").first()
        if staff is not None and staff.has_usable_password():
            ok = staff.check_password(password)
        else:
            check_password(password, _dummy(get_hasher().algorithm))  # same cost either way
            ok = False
        if staff is None:
            result = Result(None, "unknown")
        elif not ok:
            result = Result(staff, "wrong_password")
        elif not staff.is_active:
            result = Result(staff, "inactive")
        else:
            result = Result(staff, "ok")
    with quick_commit():
        if result.ok:
            guard.succeed(lanes)
        AuditEvent.objects.create(
            library=result.staff.library if result.staff else None,
            staff=result.staff,
            who=key[:120],
            via="console",
            action="staff_sign_in",
            result="ok" if result.ok else "refused",
            detail={"reason": result.reason, "ip": ip},
        )
    return result
