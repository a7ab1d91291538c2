"""The lending rules, as pure functions: what the patron's rights allow, given their loans.

No database and no request: the callers pass the title, the rights identity vouches for, the
patron's loans and the time. Each refusal is a Problem with a stable code and a plain Dutch
message (English through the translation catalogue).

The plans (docs/domain.md): Compact lends 6 e-books + 6 audiobooks per year, Compleet 10 + 10
at the same time, Jeugd 10 + 10 at the same time and youth titles only. A right says so in
its limits: {"loans": N, "period": "concurrent" | "year", "youth": true | false}.

- "concurrent": at most N loans of that kind running at the same time.
- "year": at most N loans of that kind started in the last 365 days (a rolling year, so no
  rush on the first of January; returned loans still count, renewals do not).
- "youth": youth titles only.
- No "loans" in the limits: the library set no number, so none is enforced. A number that is
  not a whole number counts as 0 (a broken right lends nothing rather than everything).

E-books and audiobooks are counted apart, each against the rights of its own code. When the
patron has several valid rights for a kind (e.g. from two libraries), any one that allows the
borrow is enough. A loan lasts 3 weeks and can be renewed once, from 3 days before its end,
by another 3 weeks; the domain sets no limits on renewing beyond that, nor on giving back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.utils import formats, timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from bibid.common import words
from bibid.common.problems import Problem
from bibid.common.rp.patron import PatronRight

LOAN_PERIOD = timedelta(days=21)
RENEW_WINDOW = timedelta(days=3)  # renewing opens this long before the end
YEAR = timedelta(days=365)

RIGHT_FOR_KIND = {"ebook": "ebooks", "audiobook": "audiobooks"}
CONCURRENT, PER_YEAR = "concurrent", "year"

# The rights the Online Bibliotheek lends by, with their words from the one table of
# rights (bibid.common.words), so this page and the library's pages say the same.
RIGHT_NAMES = {code: words.RIGHT_NAMES[code] for code in RIGHT_FOR_KIND.values()}


class TitleLike(Protocol):
    pk: Any
    kind: str
    youth: bool


class LoanLike(Protocol):
    sub: str
    title_id: Any
    kind: str
    started_at: datetime
    due_at: datetime
    renewed: bool
    returned_at: datetime | None


@dataclass(frozen=True)
class Limits:
    loans: int | None  # None: no number set
    period: str  # CONCURRENT or PER_YEAR
    youth: bool

    @classmethod
    def of(cls, right: PatronRight) -> Limits:
        raw = right.limits or {}
        loans: int | None = None
        if "loans" in raw and raw["loans"] is not None:
            value = raw["loans"]
            loans = max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else 0
        period = PER_YEAR if raw.get("period") == PER_YEAR else CONCURRENT
        return cls(loans=loans, period=period, youth=raw.get("youth") is True)


@dataclass(frozen=True)
class Usage:
    """How much of one right is used: for the shelf ("E-books: 3 van 10 tegelijk")."""

    right: PatronRight
    limits: Limits
    used: int
    frees_at: datetime | None  # when the next place frees up, if the right is full

    @property
    def code(self) -> str:
        return self.right.code

    @property
    def full(self) -> bool:
        return self.limits.loans is not None and self.used >= self.limits.loans


# -- small facts -----------------------------------------------------------------------------


# Lazy: a refusal is rendered later, in the language of its page or problem document.
right_name = lazy(words.right_name, str)


def needed_right(kind: str) -> str:
    """The right code a title of this kind needs: "ebooks" or "audiobooks"."""
    return RIGHT_FOR_KIND[kind]


def is_active(loan: LoanLike, now: datetime) -> bool:
    return loan.returned_at is None and loan.due_at > now


def due_for(started_at: datetime) -> datetime:
    return started_at + LOAN_PERIOD


def renew_opens_at(loan: LoanLike) -> datetime:
    return loan.due_at - RENEW_WINDOW


def counting(loans: Iterable[LoanLike], *, limits: Limits, now: datetime) -> list[LoanLike]:
    """The loans that use up places of a right with these limits (loans of its kind only)."""
    if limits.period == PER_YEAR:
        return [loan for loan in loans if loan.started_at > now - YEAR]
    return [loan for loan in loans if is_active(loan, now)]


def _frees_at(counted: Sequence[LoanLike], limits: Limits, now: datetime) -> datetime | None:
    """When the count drops below the limit without anything else happening."""
    if not limits.loans or len(counted) < limits.loans:
        return None
    if limits.period == PER_YEAR:
        moments = sorted(loan.started_at + YEAR for loan in counted)
    else:
        moments = sorted(loan.due_at for loan in counted)
    return moments[len(counted) - limits.loans]


def usage(*, right: PatronRight, loans: Iterable[LoanLike], now: datetime) -> Usage:
    """How much of this right the loans use (pass all the patron's loans of the last year)."""
    limits = Limits.of(right)
    kinds = {kind for kind, code in RIGHT_FOR_KIND.items() if code == right.code}
    counted = counting([loan for loan in loans if loan.kind in kinds], limits=limits, now=now)
    return Usage(
        right=right, limits=limits, used=len(counted), frees_at=_frees_at(counted, limits, now)
    )


# -- words -----------------------------------------------------------------------------------


def _moment(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "j F Y, H:i")


# Rendered when the message is, so that a date comes out in the language of the page.
moment_text = lazy(_moment, str)


def _problem(status: int, code: str, message, **extra) -> Problem:
    return Problem(status, code, message, extra=extra)


# -- the rules -------------------------------------------------------------------------------


def check_borrow(
    *, title: TitleLike, rights: Sequence[PatronRight], loans: Sequence[LoanLike], now: datetime
) -> Problem | None:
    """None when the patron may borrow the title now, else the reason why not.

    `loans` are the patron's loans started in the last 365 days, of any kind (older ones
    count for nothing: a loan lasts at most six weeks).
    """
    code = needed_right(title.kind)
    what = right_name(code)
    same_kind = [loan for loan in loans if loan.kind == title.kind]
    for loan in same_kind:
        if loan.title_id == title.pk and is_active(loan, now):
            return _problem(
                409,
                "already_borrowed",
                _("Je hebt deze titel al geleend, tot %(due)s."),
                due=moment_text(loan.due_at),
            )
    today = timezone.localdate(now)
    valid = [r for r in rights if r.code == code and r.valid_on(today)]
    if not valid:
        return _problem(
            403, "no_right", _("Je hebt geen recht om %(what)s te lenen."), what=what, needed=code
        )
    suitable = [r for r in valid if title.youth or not Limits.of(r).youth]
    if not suitable:
        return _problem(
            403,
            "youth_only",
            _("Met je abonnement kun je alleen jeugdtitels lenen, en dit is geen jeugdtitel."),
            what=what,
            needed=code,
        )
    uses = [usage(right=r, loans=same_kind, now=now) for r in suitable]
    if any(not u.full for u in uses):
        return None
    return _limit_reached(uses, what)


def _limit_reached(uses: list[Usage], what) -> Problem:
    # Of the full rights, tell about the one where a place frees up first.
    def order(u: Usage) -> tuple[bool, float]:
        return (u.frees_at is None, u.frees_at.timestamp() if u.frees_at else 0.0)

    first = min(uses, key=order)
    extra = {"what": what, "limit": first.limits.loans, "used": first.used}
    if first.frees_at is None:
        return _problem(
            409,
            "limit_reached",
            _("Je abonnement geeft geen ruimte voor meer dan %(limit)s %(what)s."),
            **extra,
        )
    if first.limits.period == PER_YEAR:
        message = _(
            "Je hebt in de afgelopen 365 dagen al %(used)s %(what)s geleend; je "
            "abonnement geeft recht op %(limit)s per jaar. Op %(date)s komt er weer "
            "een plek vrij."
        )
    else:
        message = _(
            "Je hebt al %(used)s %(what)s tegelijk geleend; meer staat je abonnement "
            "niet toe (%(limit)s tegelijk). Er komt een plek vrij als je er een "
            "inlevert, en uiterlijk op %(date)s."
        )
    return _problem(409, "limit_reached", message, date=moment_text(first.frees_at), **extra)


def _own_and_running(*, sub: str, loan: LoanLike, now: datetime) -> Problem | None:
    if loan.sub != sub:
        return _problem(404, "not_your_loan", _("Deze lening is niet van jou."))
    if not is_active(loan, now):
        return _problem(409, "loan_ended", _("Deze lening is al afgelopen."))
    return None


def check_renew(*, sub: str, loan: LoanLike, now: datetime) -> Problem | None:
    """None when the patron may renew this loan now: once, from 3 days before its end."""
    problem = _own_and_running(sub=sub, loan=loan, now=now)
    if problem is not None:
        return problem
    if loan.renewed:
        return _problem(
            409, "renew_once", _("Je hebt deze lening al een keer verlengd; dat kan maar één keer.")
        )
    opens = renew_opens_at(loan)
    if now < opens:
        return _problem(
            409,
            "renew_too_early",
            _("Verlengen kan vanaf 3 dagen voor het einde van de lening: vanaf %(date)s."),
            date=moment_text(opens),
        )
    return None


def check_give_back(*, sub: str, loan: LoanLike, now: datetime) -> Problem | None:
    """None when the patron may give this loan back: always, while it runs."""
    return _own_and_running(sub=sub, loan=loan, now=now)
