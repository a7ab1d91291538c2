"""Staff and the second step: who may reset a colleague's second factor, and every second
step written into the staff audit trail as well (bibid.common.mfa keeps its own record)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.mfa import events
from bibid.common.mfa import services as mfa
from bibid.common.problems import Problem

from .models import AuditEvent, Staff
from .permissions import Actor
from .tasks import tell_second_factor_reset

SCOPE = "staff"  # the console's lane scope (console.views.CONSOLE_FLOW)


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
    sign-in. The staff member is told: by mail when they have an address (a task queued
    once the reset is committed: never a mail for a reset that rolled back, and never a
    mail server inside the transaction or the request), and at their next sign-in by the
    setup page (bibid.common.mfa.services.last_reset) in any case."""
    if not may_reset(actor, staff):
        raise Problem(404, "not_found", _("Niet gevonden."))
    by = actor.staff.name if actor.staff is not None else actor.label
    removed = mfa.reset(user=staff, actor=actor.label, detail={"by": actor.label, "by_name": by})
    at = clock.now().isoformat()
    transaction.on_commit(lambda: tell_second_factor_reset.enqueue(staff.pk, by, at))
    return removed


def block(staff: Staff):
    """The guard's wait on the staff member's second step (the console's lane)."""
    return mfa.block(staff, SCOPE)


def lift_block(*, actor: Actor, staff: Staff) -> str:
    """End the wait of a colleague's second step: lifted | nothing | limit. Not a reset: the
    failures stay counted and at most three lifts an hour (bibid.common.mfa.services.LIFTS),
    so a guesser with the password gains no unblock loop; the staff member still needs a
    correct code."""
    if not may_reset(actor, staff):
        raise Problem(404, "not_found", _("Niet gevonden."))
    return mfa.lift_block(user=staff, scope=SCOPE, actor=actor.label, detail={"by": actor.label})


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
