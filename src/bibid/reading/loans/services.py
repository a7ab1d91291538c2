"""Changes to loans: borrow, renew, give back. Each one checks the rules and writes inside one
transaction; a refusal raises a Problem and changes nothing.

The loan rows are the record of what happened (who, which title, started, renewed, given
back, all with their times), so there is no separate audit table; each change is logged too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction

from bibid.common import clock
from bibid.common.rp.patron import PatronRight
from bibid.reading.catalogue.models import Title

from . import rules, selectors
from .models import Loan, Reader

log = logging.getLogger("bibid.reading.loans")


def _lock_reader(sub: str) -> None:
    """Queue this patron's borrows one behind the other.

    Counting the loans and adding one must not interleave with another borrow of the same
    patron (two tabs, a double click, a script), or both could take the last free place.
    PostgreSQL: the patron's reader row is locked until the transaction ends. SQLite ignores
    row locks, but the project opens every transaction with BEGIN IMMEDIATE (common settings),
    which takes the database's write lock at once, so writers already run one at a time.
    """
    # INSERT .. ON CONFLICT DO NOTHING: no error to recover from when the row exists or a
    # concurrent borrow creates it first (that one then holds it, and we wait below).
    Reader.objects.bulk_create([Reader(sub=sub)], ignore_conflicts=True)
    Reader.objects.select_for_update().get(sub=sub)


def borrow(*, sub: str, rights: Sequence[PatronRight], title: Title) -> Loan:
    """Lend the title to the patron for 3 weeks if their rights allow it; else raise Problem."""
    if not sub:
        raise ValueError("a loan needs the patron's account id")
    with transaction.atomic():
        _lock_reader(sub)
        now = clock.now()  # read after the lock: the time of the borrow, not of the wait
        loans = selectors.recent(sub, now=now, kind=title.kind)
        problem = rules.check_borrow(title=title, rights=rights, loans=loans, now=now)
        if problem is not None:
            raise problem
        loan = Loan.objects.create(
            sub=sub, title=title, kind=title.kind, started_at=now, due_at=rules.due_for(now)
        )
    log.info("loan %s: %s borrowed %s until %s", loan.pk, sub, title.slug, loan.due_at.isoformat())
    return loan


def _locked(loan: Loan) -> Loan:
    fresh = Loan.objects.select_for_update().get(pk=loan.pk)
    if "title" in loan._state.fields_cache:  # keep the title the caller already read
        fresh.title = loan.title
    return fresh


def renew(*, sub: str, loan: Loan) -> Loan:
    """Extend the loan by 3 weeks: once, from 3 days before its end; else raise Problem."""
    with transaction.atomic():
        fresh = _locked(loan)
        now = clock.now()
        problem = rules.check_renew(sub=sub, loan=fresh, now=now)
        if problem is not None:
            raise problem
        fresh.due_at = fresh.due_at + rules.LOAN_PERIOD
        fresh.renewed, fresh.renewed_at = True, now
        fresh.save(update_fields=["due_at", "renewed", "renewed_at"])
    log.info("loan %s: %s renewed until %s", fresh.pk, sub, fresh.due_at.isoformat())
    return fresh


def give_back(*, sub: str, loan: Loan) -> Loan:
    """End the loan now (the place is free at once); raise Problem if it already ended."""
    with transaction.atomic():
        fresh = _locked(loan)
        now = clock.now()
        problem = rules.check_give_back(sub=sub, loan=fresh, now=now)
        if problem is not None:
            raise problem
        fresh.returned_at = now
        fresh.save(update_fields=["returned_at"])
    log.info("loan %s: %s gave it back", fresh.pk, sub)
    return fresh
