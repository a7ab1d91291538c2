"""Staff and the second step: who may reset a colleague's second factor, and every second
step written into the staff audit trail as well (bibid.common.mfa keeps its own record)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common.mfa import events
from bibid.common.mfa import services as mfa
from bibid.common.problems import Problem

from .models import AuditEvent, Staff
from .permissions import Actor


def may_reset(actor: Actor, staff: Staff) -> bool:
    """A manager of the same library, or an operator of the library system (superuser)."""
    me = actor.staff
    if me is None or not me.is_active:
        return False
    if me.is_superuser:
        return True
    return (
        me.role == Staff.Role.MANAGER
        and me.library_id is not None
        and me.library_id == staff.library_id
    )


def colleague(actor: Actor, pk: int) -> Staff:
    """A staff member the actor may manage; another library's is "not found" (404), so a
    manager cannot even learn who works elsewhere."""
    staff = Staff.objects.filter(pk=pk).select_related("library").first()
    if staff is None or not may_reset(actor, staff):
        raise Problem(404, "not_found", _("Niet gevonden."))
    return staff


@transaction.atomic
def reset_second_factor(*, actor: Actor, staff: Staff) -> int:
    """Remove the staff member's factors and recovery codes; they enrol at their next
    sign-in. The library system sends no e-mail of its own (identity's outbox is identity's),
    so the page tells the manager to inform the colleague; the audit trail has it."""
    if not may_reset(actor, staff):
        raise Problem(404, "not_found", _("Niet gevonden."))
    return mfa.reset(user=staff, actor=actor.label, detail={"by": actor.label})


def _mirror(sender, event, user, **kwargs) -> None:
    """Each second-step event also lands in the staff audit trail (the helpdesk reads it)."""
    if user is not None and not isinstance(user, Staff):
        return
    AuditEvent.objects.create(
        library=user.library if user is not None else None,
        staff=user,
        who=event.actor[:120],
        via="console",
        action=event.action,
        result=event.result,
        detail={**event.detail, "staff": event.who},
    )


def connect() -> None:
    events.recorded.connect(_mirror, dispatch_uid="bibid.library.staff.second_factor")
