"""Writing the audit trail: who did what, to which customer, when, and how it went."""

from __future__ import annotations

from .models import AuditEvent
from .permissions import Actor


def record(
    *,
    actor: Actor,
    action: str,
    result: str,
    customer=None,
    library=None,
    detail: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        library=library or (customer.library if customer else actor.library),
        staff=actor.staff,
        who=actor.label,
        via=actor.via,
        action=action,
        customer=customer,
        card_number=customer.card_number if customer else "",
        result=result,
        detail=detail or {},
    )
