"""The lending rules, without a database: every refusal, both periods, youth, two rights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from bibid.common.rp.patron import PatronRight
from bibid.reading.loans import rules

from .patrons import COMPACT, COMPLEET, JEUGD, right

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ME, SOMEONE = "sub-me", "sub-someone"


@dataclass
class T:
    pk: int
    kind: str = "ebook"
    youth: bool = False


@dataclass
class L:
    title_id: int
    kind: str = "ebook"
    started_at: datetime = NOW - DAY
    due_at: datetime | None = None
    renewed: bool = False
    returned_at: datetime | None = None
    sub: str = ME

    def __post_init__(self):
        if self.due_at is None:
            self.due_at = self.started_at + rules.LOAN_PERIOD


EBOOK, AUDIO, YOUTH_EBOOK = T(1), T(2, "audiobook"), T(3, youth=True)


def running(n: int, kind: str = "ebook", *, first_id: int = 100, ago: timedelta = DAY):
    return [L(first_id + i, kind, started_at=NOW - ago - i * timedelta(hours=1)) for i in range(n)]


def check(title=EBOOK, rights=COMPLEET, loans=(), now=NOW):
    return rules.check_borrow(title=title, rights=list(rights), loans=list(loans), now=now)


def code(problem):
    return problem.code if problem else None


# -- which right ---------------------------------------------------------------------------


def test_each_kind_needs_its_own_right():
    assert rules.needed_right("ebook") == "ebooks"
    assert rules.needed_right("audiobook") == "audiobooks"
    assert check(EBOOK) is None and check(AUDIO) is None
    ebooks_only = [COMPLEET[0]]
    assert check(EBOOK, ebooks_only) is None
    problem = check(AUDIO, ebooks_only)
    assert problem.code == "no_right" and problem.status == 403
    assert "luisterboeken" in problem.text("nl")


def test_no_rights_at_all_names_the_missing_right():
    problem = check(EBOOK, [])
    assert code(problem) == "no_right"
    assert problem.text("nl") == "Je hebt geen recht om e-books te lenen."
    assert problem.extra["needed"] == "ebooks"


def test_a_right_counts_only_while_it_is_valid():
    today = NOW.date()
    ended = right(COMPLEET[0].as_claim(), valid_until=today - DAY)
    future = right(COMPLEET[0].as_claim(), valid_from=today + DAY)
    last_day = right(COMPLEET[0].as_claim(), valid_until=today)
    assert code(check(EBOOK, [ended])) == "no_right"
    assert code(check(EBOOK, [future])) == "no_right"
    assert check(EBOOK, [last_day]) is None


def test_validity_is_judged_on_the_dutch_date():
    # 22:30 UTC on 31 March is already 1 April in Amsterdam (summer time): a right until
    # 31 March is over.
    late = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
    until_march = right(COMPLEET[0].as_claim(), valid_until=date(2026, 3, 31))
    assert code(check(EBOOK, [until_march], now=late)) == "no_right"
    assert check(EBOOK, [until_march], now=late - timedelta(hours=1)) is None


# -- concurrent: Compleet ------------------------------------------------------------------


def test_concurrent_allows_up_to_the_limit_at_the_same_time():
    assert check(EBOOK, COMPLEET, running(9)) is None
    problem = check(EBOOK, COMPLEET, running(10))
    assert problem.code == "limit_reached" and problem.status == 409
    text = problem.text("nl")
    assert "10" in text and "tegelijk" in text
    # The place that frees up first: the loan that ends first.
    first_due = min(loan.due_at for loan in running(10))
    assert problem.extra["date"] == rules.moment_text(first_due)


def test_concurrent_counts_neither_given_back_nor_ended_loans():
    given_back = [L(200 + i, returned_at=NOW - DAY) for i in range(5)]
    ended = [L(300 + i, started_at=NOW - 30 * DAY) for i in range(5)]
    assert check(EBOOK, COMPLEET, running(9) + given_back + ended) is None


def test_ebooks_and_audiobooks_are_counted_apart():
    assert check(AUDIO, COMPLEET, running(10, "ebook")) is None
    assert code(check(AUDIO, COMPLEET, running(10, "audiobook"))) == "limit_reached"
    assert check(EBOOK, COMPLEET, running(10, "audiobook")) is None


# -- per year: Compact ---------------------------------------------------------------------


def test_year_counts_loans_started_in_the_last_365_days_even_when_given_back():
    returned = [
        L(100 + i, started_at=NOW - (i + 1) * 30 * DAY, returned_at=NOW - 200 * DAY)
        for i in range(5)
    ]
    assert check(EBOOK, COMPACT, returned) is None  # 5 of 6
    sixth = [*returned, L(110, started_at=NOW - 2 * DAY, returned_at=NOW - DAY)]
    problem = check(EBOOK, COMPACT, sixth)
    assert problem.code == "limit_reached"
    assert "365 dagen" in problem.text("nl") and "6" in problem.text("nl")
    # A place frees up a year after the oldest of them started.
    oldest = min(loan.started_at for loan in sixth)
    assert problem.extra["date"] == rules.moment_text(oldest + rules.YEAR)


def test_year_forgets_loans_older_than_365_days():
    old = [L(100 + i, started_at=NOW - 366 * DAY, returned_at=NOW - 345 * DAY) for i in range(6)]
    assert check(EBOOK, COMPACT, old) is None
    edge = [L(100 + i, started_at=NOW - 365 * DAY + timedelta(minutes=1)) for i in range(6)]
    assert code(check(EBOOK, COMPACT, edge)) == "limit_reached"


def test_year_counts_audiobooks_apart_too():
    six_ebooks = running(6, "ebook")
    assert check(AUDIO, COMPACT, six_ebooks) is None
    assert code(check(EBOOK, COMPACT, six_ebooks)) == "limit_reached"


# -- youth: Jeugd --------------------------------------------------------------------------


def test_youth_right_lends_youth_titles_only():
    assert check(YOUTH_EBOOK, JEUGD) is None
    problem = check(EBOOK, JEUGD)
    assert problem.code == "youth_only" and problem.status == 403
    assert "jeugdtitels" in problem.text("nl")
    assert code(check(T(4, "audiobook"), JEUGD)) == "youth_only"
    assert check(T(5, "audiobook", youth=True), JEUGD) is None


def test_youth_titles_are_for_everyone():
    assert check(YOUTH_EBOOK, COMPLEET) is None
    assert check(YOUTH_EBOOK, COMPACT) is None


def test_youth_only_comes_after_no_right():
    # No audiobook right at all: that is the thing to fix, not the kind of title.
    assert code(check(AUDIO, [JEUGD[0]])) == "no_right"


# -- two rights (two libraries) ------------------------------------------------------------


def test_any_one_right_that_allows_the_borrow_is_enough():
    compact_full = running(6)  # 6 this year: Compact is full, Compleet (10 at once) is not
    assert code(check(EBOOK, COMPACT, compact_full)) == "limit_reached"
    assert check(EBOOK, COMPACT + COMPLEET, compact_full) is None


def test_an_adult_right_beside_a_youth_right_lends_adult_titles():
    assert check(EBOOK, JEUGD + COMPACT) is None
    # ... and when the adult right is full, the youth right does not help for adult titles.
    assert code(check(EBOOK, JEUGD + COMPACT, running(6))) == "limit_reached"
    assert check(YOUTH_EBOOK, JEUGD + COMPACT, running(6)) is None


def test_when_every_right_is_full_the_first_free_place_is_told():
    loans = running(10, ago=2 * DAY)
    problem = check(EBOOK, COMPACT + COMPLEET, loans)
    assert problem.code == "limit_reached"
    # Compleet frees a place when the first loan ends (in 19 days); Compact only in a year.
    assert problem.extra["date"] == rules.moment_text(min(loan.due_at for loan in loans))
    assert problem.extra["limit"] == 10


# -- already borrowed ----------------------------------------------------------------------


def test_a_title_cannot_be_borrowed_twice_at_once():
    loan = L(EBOOK.pk)
    problem = check(EBOOK, COMPLEET, [loan])
    assert problem.code == "already_borrowed" and problem.status == 409
    assert problem.extra["due"] == rules.moment_text(loan.due_at)
    assert check(EBOOK, COMPLEET, [L(EBOOK.pk, returned_at=NOW - DAY)]) is None
    assert check(EBOOK, COMPLEET, [L(EBOOK.pk, started_at=NOW - 22 * DAY)]) is None


# -- odd limits ----------------------------------------------------------------------------


def test_a_right_without_a_number_sets_no_limit():
    free = PatronRight(code="ebooks")
    assert check(EBOOK, [free], running(50)) is None
    assert rules.Limits.of(free) == rules.Limits(loans=None, period="concurrent", youth=False)


@pytest.mark.parametrize("value", ["10", 2.5, True, -3])
def test_a_broken_number_lends_nothing(value):
    broken = PatronRight(code="ebooks", limits={"loans": value})
    problem = check(EBOOK, [broken])
    assert code(problem) == "limit_reached"
    assert "date" not in problem.extra


def test_an_unknown_period_counts_as_concurrent():
    odd = PatronRight(code="ebooks", limits={"loans": 2, "period": "fortnight"})
    assert rules.Limits.of(odd).period == rules.CONCURRENT


# -- renewing ------------------------------------------------------------------------------


def test_renewing_opens_three_days_before_the_end():
    loan = L(1, started_at=NOW - 10 * DAY)
    problem = rules.check_renew(sub=ME, loan=loan, now=NOW)
    assert problem.code == "renew_too_early" and problem.status == 409
    assert problem.extra["date"] == rules.moment_text(loan.due_at - 3 * DAY)
    opens = rules.renew_opens_at(loan)
    assert (
        rules.check_renew(sub=ME, loan=loan, now=opens - timedelta(seconds=1)).code
        == "renew_too_early"
    )
    assert rules.check_renew(sub=ME, loan=loan, now=opens) is None
    assert rules.check_renew(sub=ME, loan=loan, now=loan.due_at - timedelta(seconds=1)) is None


def test_renewing_once_only():
    loan = L(1, started_at=NOW - 19 * DAY, renewed=True)
    assert rules.check_renew(sub=ME, loan=loan, now=NOW).code == "renew_once"


def test_an_ended_loan_is_not_renewed_or_given_back():
    given_back = L(1, started_at=NOW - 19 * DAY, returned_at=NOW - DAY)
    expired = L(2, started_at=NOW - 21 * DAY)  # due exactly now: over
    for loan in (given_back, expired):
        assert rules.check_renew(sub=ME, loan=loan, now=NOW).code == "loan_ended"
        assert rules.check_give_back(sub=ME, loan=loan, now=NOW).code == "loan_ended"


def test_someone_elses_loan():
    loan = L(1, started_at=NOW - 19 * DAY, sub=SOMEONE)
    assert rules.check_renew(sub=ME, loan=loan, now=NOW).code == "not_your_loan"
    problem = rules.check_give_back(sub=ME, loan=loan, now=NOW)
    assert problem.code == "not_your_loan" and problem.status == 404


def test_giving_back_is_always_allowed_while_the_loan_runs():
    assert rules.check_give_back(sub=ME, loan=L(1), now=NOW) is None


# -- usage, for the shelf ------------------------------------------------------------------


def test_usage_counts_per_right():
    loans = running(3) + running(1, "audiobook", first_id=500)
    ebooks = rules.usage(right=COMPLEET[0], loans=loans, now=NOW)
    assert (ebooks.used, ebooks.limits.loans, ebooks.full, ebooks.frees_at) == (3, 10, False, None)
    audio = rules.usage(right=COMPACT[1], loans=loans, now=NOW)
    assert (audio.used, audio.limits.loans, audio.limits.period) == (1, 6, "year")
    full = rules.usage(right=COMPACT[0], loans=running(6), now=NOW)
    assert full.full and full.frees_at == min(x.started_at for x in running(6)) + rules.YEAR


def test_messages_speak_english_too():
    from django.utils import translation

    problem = check(EBOOK, [])
    with translation.override("en"):
        assert problem.text("en")  # rendered in English when the catalogue has it
    assert problem.text("nl").startswith("Je hebt geen recht")
