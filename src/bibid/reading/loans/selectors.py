"""Reading loans: one patron's current and past loans, the state of titles on a page, usage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.utils import timezone

from bibid.common import clock
from bibid.common.rp.patron import PatronRight

from . import rules
from .models import Loan

PAST_LIMIT = 50


def recent(sub: str, *, now: datetime, kind: str | None = None) -> list[Loan]:
    """The patron's loans started in the last 365 days: all that the rules look at."""
    loans = Loan.objects.filter(sub=sub, started_at__gt=now - rules.YEAR)
    if kind:
        loans = loans.filter(kind=kind)
    return list(loans)


def current(sub: str, *, now: datetime | None = None) -> list[Loan]:
    """The patron's running loans with their titles, the one that ends first on top."""
    now = now or clock.now()
    return list(
        Loan.objects.filter(sub=sub, returned_at__isnull=True, due_at__gt=now)
        .select_related("title")
        .order_by("due_at", "pk")
    )


def past(sub: str, *, now: datetime | None = None, limit: int = PAST_LIMIT) -> list[Loan]:
    """Loans that ended (given back or due), the most recent first."""
    now = now or clock.now()
    ended = Loan.objects.filter(sub=sub).exclude(returned_at__isnull=True, due_at__gt=now)
    return list(ended.select_related("title").order_by("-started_at", "-pk")[:limit])


def states(sub: str, title_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, Loan]:
    """The patron's running loan per title, for the titles on one page (one query)."""
    now = now or clock.now()
    ids = list(title_ids)
    if not ids:
        return {}
    loans = Loan.objects.filter(sub=sub, title_id__in=ids, returned_at__isnull=True, due_at__gt=now)
    return {loan.title_id: loan for loan in loans}


def own_loan(sub: str, loan_id: int) -> Loan | None:
    """One of the patron's loans; someone else's is as good as none."""
    return Loan.objects.filter(sub=sub, pk=loan_id).select_related("title").first()


def usages(
    sub: str, rights: Sequence[PatronRight], *, now: datetime | None = None
) -> list[rules.Usage]:
    """How much of each valid lending right the patron uses, e-books first (rights for
    other services, if identity reports any, are not ours to show)."""
    now = now or clock.now()
    today = timezone.localdate(now)
    valid = [r for r in rights if r.code in rules.RIGHT_NAMES and r.valid_on(today)]
    if not valid:
        return []
    loans = recent(sub, now=now)
    order = {"ebooks": 0, "audiobooks": 1}
    valid.sort(key=lambda r: (order.get(r.code, 9), r.code, r.library))
    return [rules.usage(right=r, loans=loans, now=now) for r in valid]
