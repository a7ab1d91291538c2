"""Personal API tokens for the library REST API: shown once, stored as a SHA-256 digest,
scoped to a role no higher than their owner's, ending by themselves, revocable.

A token works without the second step (a script cannot touch a security key), so what it
can do is kept small: its scope is a role chosen when it is made (never above its owner's,
and never above the owner's role of today), and it expires (90 days unless chosen, at most
365). docs/security/threat-model.md says what a stolen token can and cannot do.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.problems import Problem

from . import audit
from .models import ApiToken, Staff
from .permissions import Actor, Perm, require

PREFIX = "bibid_"
DEFAULT_DAYS = 90
MAX_DAYS = 365
# Lowest first: a token's effective role is the lower of its scope and its owner's role.
RANKS = [Staff.Role.DESK, Staff.Role.HELPDESK, Staff.Role.MANAGER]


def _digest(raw: str) -> str:
    # A 256-bit random token needs no slow hash; SHA-256 makes a stolen table useless.
    return hashlib.sha256(raw.encode()).hexdigest()


def _rank(role: str) -> int:
    return RANKS.index(role) if role in RANKS else -1


def lower_role(a: str, b: str) -> str:
    """The lower of two roles (an unknown role counts as nothing: the desk's rights at most)."""
    return a if _rank(a) <= _rank(b) else b


@transaction.atomic
def create_token(
    *,
    actor: Actor,
    staff: Staff,
    name: str,
    role: str | None = None,
    days: int = DEFAULT_DAYS,
) -> tuple[str, ApiToken]:
    """Issue a token for `staff` (yourself, or as the system); the text is returned once."""
    require(actor, Perm.MANAGE_TOKENS)
    if actor.staff is not None and actor.staff.pk != staff.pk:
        raise Problem(403, "not_allowed", _("Je kunt alleen voor jezelf een token maken."))
    role = role or staff.role
    if role not in RANKS or _rank(role) > _rank(staff.role):
        raise Problem(
            400, "invalid_scope", _("Een token kan niet meer dan jouw eigen rol."), field="role"
        )
    if not 1 <= days <= MAX_DAYS:
        raise Problem(
            400,
            "invalid_expiry",
            _("Een token geldt minstens 1 en hoogstens 365 dagen."),
            field="days",
        )
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        staff=staff,
        name=name,
        prefix=raw[:12],
        digest=_digest(raw),
        role=role,
        expires_at=clock.now() + timedelta(days=days),
    )
    audit.record(
        actor=actor,
        action="token_create",
        library=staff.library,
        result="ok",
        detail={"token": token.prefix, "for": staff.username, "role": role, "days": days},
    )
    return raw, token


@transaction.atomic
def revoke_token(*, actor: Actor, token: ApiToken) -> None:
    require(actor, Perm.MANAGE_TOKENS)
    if actor.staff is not None and actor.staff.pk != token.staff_id:
        raise Problem(404, "not_found", _("Niet gevonden."))
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())
    audit.record(
        actor=actor,
        action="token_revoke",
        library=token.staff.library,
        result="ok",
        detail={"token": token.prefix},
    )


def staff_for(raw: str) -> Staff | None:
    """The active staff member a token belongs to, with the token's scope as their role for
    this request; None for an unknown, revoked or expired token."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        return None
    now = clock.now()
    token = (
        ApiToken.objects.select_related("staff__library", "staff__customer")
        .filter(digest=_digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.staff.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # not on every call
    staff = token.staff
    # The scope is applied where every operation looks: the role on this in-memory object
    # (permissions.can reads it). The row itself is never saved from here.
    staff.role = lower_role(token.role, staff.role)
    staff.token_scoped = True
    return staff
