"""Personal API tokens for the library REST API: shown once, stored as a SHA-256 digest."""

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


def _digest(raw: str) -> str:
    # A 256-bit random token needs no slow hash; SHA-256 makes a stolen table useless.
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def create_token(*, actor: Actor, staff: Staff, name: str) -> tuple[str, ApiToken]:
    """Issue a token for `staff` (yourself, or as the system); the text is returned once."""
    require(actor, Perm.MANAGE_TOKENS)
    if actor.staff is not None and actor.staff.pk != staff.pk:
        raise Problem(403, "not_allowed", _("Je kunt alleen voor jezelf een token maken."))
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(staff=staff, name=name, prefix=raw[:12], digest=_digest(raw))
    audit.record(
        actor=actor,
        action="token_create",
        library=staff.library,
        result="ok",
        detail={"token": token.prefix, "for": staff.username},
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
    """The active staff member a token belongs to, or None."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.select_related("staff__library", "staff__customer")
        .filter(digest=_digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.staff.is_active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # not on every call
    return token.staff
