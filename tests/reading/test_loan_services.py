"""Borrow, renew, give back: what they write, that a refusal writes nothing, and that borrows
of one patron at the same moment never take more places than the rights give."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from bibid.common.problems import Problem
from bibid.common.rp.patron import PatronRight
from bibid.reading.loans import services
from bibid.reading.loans.models import Loan, Reader

from .patrons import ANNA, LOTTE, OTTO, PIET

pytestmark = pytest.mark.django_db


def test_borrow_lends_for_three_weeks(clock, make_title):
    title = make_title(kind="audiobook")
    loan = services.borrow(sub=PIET.sub, rights=PIET.rights, title=title)
    assert (loan.sub, loan.title, loan.kind) == (PIET.sub, title, "audiobook")
    assert loan.started_at == clock.current
    assert loan.due_at == clock.current + timedelta(days=21)
    assert not loan.renewed and loan.returned_at is None
    assert Reader.objects.filter(sub=PIET.sub).count() == 1


def test_a_refused_borrow_writes_nothing(make_title):
    with pytest.raises(Problem) as refused:
        services.borrow(sub=LOTTE.sub, rights=LOTTE.rights, title=make_title(youth=False))
    assert refused.value.code == "youth_only"
    assert not Loan.objects.exists() and not Reader.objects.exists()


def test_borrow_needs_a_patron():
    with pytest.raises(ValueError):
        services.borrow(sub="", rights=PIET.rights, title=None)


def test_renew_adds_three_weeks_once(clock, make_title):
    loan = services.borrow(sub=PIET.sub, rights=PIET.rights, title=make_title())
    clock.advance(days=18)
    renewed = services.renew(sub=PIET.sub, loan=loan)
    assert renewed.due_at == loan.due_at + timedelta(days=21)
    assert renewed.renewed and renewed.renewed_at == clock.current
    with pytest.raises(Problem) as again:
        services.renew(sub=PIET.sub, loan=loan)  # a stale object: the row decides
    assert again.value.code == "renew_once"


def test_give_back_ends_the_loan_now(clock, make_title):
    loan = services.borrow(sub=PIET.sub, rights=PIET.rights, title=make_title())
    clock.advance(hours=5)
    returned = services.give_back(sub=PIET.sub, loan=loan)
    assert returned.returned_at == clock.current and not returned.is_active(clock.current)
    with pytest.raises(Problem) as twice:
        services.give_back(sub=PIET.sub, loan=loan)
    assert twice.value.code == "loan_ended"


def test_nobody_renews_or_gives_back_anothers_loan(make_title):
    loan = services.borrow(sub=PIET.sub, rights=PIET.rights, title=make_title())
    for operation in (services.renew, services.give_back):
        with pytest.raises(Problem) as refused:
            operation(sub=ANNA.sub, loan=loan)
        assert refused.value.code == "not_your_loan"
    loan.refresh_from_db()
    assert loan.returned_at is None and not loan.renewed


def test_a_compact_year_counts_given_back_loans(clock, make_title):
    for _ in range(6):
        loan = services.borrow(sub=OTTO.sub, rights=OTTO.rights, title=make_title())
        services.give_back(sub=OTTO.sub, loan=loan)
    with pytest.raises(Problem) as full:
        services.borrow(sub=OTTO.sub, rights=OTTO.rights, title=make_title())
    assert full.value.code == "limit_reached"
    clock.advance(days=366)
    services.borrow(sub=OTTO.sub, rights=OTTO.rights, title=make_title())


# -- many borrows at the same moment -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("period", ["concurrent", "year"])
def test_simultaneous_borrows_never_pass_the_limit(make_title, period):
    limit, attempts = 3, 8
    rights = (PatronRight(code="ebooks", limits={"loans": limit, "period": period}),)
    sub = "sub-racer"
    titles = [make_title() for _ in range(attempts)]
    start = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(title):
        try:
            start.wait(timeout=10)
            services.borrow(sub=sub, rights=rights, title=title)
            result = "ok"
        except Problem as problem:
            result = problem.code
        except Exception as error:  # reported in the assertion below
            result = f"error: {error!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in titles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == sorted(["ok"] * limit + ["limit_reached"] * (attempts - limit)), (
        outcomes
    )
    assert Loan.objects.filter(sub=sub).count() == limit
    assert Reader.objects.filter(sub=sub).count() == 1
    assert connection.vendor in ("sqlite", "postgresql")
