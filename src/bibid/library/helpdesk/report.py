"""Reads over one library's helpdesk cases: the report (what occurs, what works, where cases
end) counted in the database in a fixed number of queries, and one case for its chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.loginaccounts import menu
from bibid.library.staff.permissions import Actor, Perm, require

from . import definitions
from .diagnosis import PROBLEMS
from .models import Case

PERIODS = (7, 30, 365)
DEFAULT_DAYS = 30
# The fixes' names, from the Inlogaccount menu's one table.
OPERATIONS = {item.operation_id: item.label for item in menu.MENU}


@dataclass(frozen=True)
class Row:
    key: str  # a finding code or the node a case ended at
    label: str
    count: int
    share: int  # per cent of the problem's cases


@dataclass(frozen=True)
class FixRow:
    operation: str
    label: str
    tried: int
    worked: int
    waiting: int = 0  # carried out, the effect not known yet (the patron's turn, a push)

    @property
    def share(self) -> int:
        # Of the fixes whose effect is known: a reset mail the patron has not used yet is
        # neither a success nor a failure.
        return _percent(self.worked, self.tried - self.waiting)


@dataclass
class ProblemReport:
    problem: str
    title: str
    procedure: str | None  # the definition, for a link to its chart
    cases: int = 0
    first_findings: list[Row] = field(default_factory=list)
    fixes: list[FixRow] = field(default_factory=list)
    ends: list[Row] = field(default_factory=list)


@dataclass
class Report:
    days: int
    since: datetime
    until: datetime
    cases: int
    problems: list[ProblemReport]


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def period(value: object) -> int:
    """The number of days asked for, if it is one of PERIODS; otherwise the default."""
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        return DEFAULT_DAYS
    return days if days in PERIODS else DEFAULT_DAYS


def _library_id(actor: Actor) -> int:
    # Only ever the actor's own library: there is no parameter to ask for another one.
    require(actor, Perm.VIEW)
    if actor.staff is None or actor.staff.library_id is None:
        raise Problem(403, "no_library", _("Alleen medewerkers van een bibliotheek zien dit."))
    return actor.staff.library_id


def _procedure(problem: str) -> definitions.Definition | None:
    try:
        return definitions.procedure_for(problem)
    except KeyError:
        return None


def build(*, actor: Actor, days: int = DEFAULT_DAYS) -> Report:
    """Count the cases of the actor's library over the last `days` days, per problem.

    A case that follows another (the diagnosis run again after a fix) is no new problem:
    first findings count the cases that start a story, ends the cases that finish one (not
    followed by another). Fixes count every case where one was carried out. Three queries,
    however many cases."""
    days = period(days)
    until = clock.now()
    since = until - timedelta(days=days)
    cases = Case.objects.filter(
        library_id=_library_id(actor), created_at__gte=since, created_at__lte=until
    )
    starts = (
        cases.filter(follows__isnull=True)
        .values("problem", "first_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    fixes = (
        cases.exclude(fix_operation="")
        .values("problem", "fix_operation")
        .annotate(
            tried=Count("id"),
            worked=Count("id", filter=Q(fix_worked=True)),
            waiting=Count("id", filter=Q(fix_worked__isnull=True)),
        )
        .order_by()
    )
    ends = (
        cases.filter(followed_by__isnull=True)
        .values("problem", "procedure", "ended")
        .annotate(n=Count("id"))
        .order_by()
    )

    problems: dict[str, ProblemReport] = {}

    def get(problem: str) -> ProblemReport:
        if problem not in problems:
            definition = _procedure(problem)
            problems[problem] = ProblemReport(
                problem,
                definition.title if definition else problem,
                definition.id if definition else None,
            )
        return problems[problem]

    for row in starts:
        report = get(row["problem"])
        report.cases += row["n"]
        report.first_findings.append(Row(row["first_code"], row["first_code"], row["n"], 0))
    for row in fixes:
        get(row["problem"]).fixes.append(
            FixRow(
                row["fix_operation"],
                str(OPERATIONS.get(row["fix_operation"], row["fix_operation"])),
                row["tried"],
                row["worked"],
                row["waiting"],
            )
        )
    for row in ends:
        report = get(row["problem"])
        node = None
        if row["procedure"] in definitions.all_definitions():
            node = definitions.get(row["procedure"]).nodes.get(row["ended"])
        label = node.title if node else (row["ended"] or str(_("(onbekend)")))
        report.ends.append(Row(row["ended"], label, row["n"], 0))

    for report in problems.values():
        # Shares of the cases that start (findings) and finish (ends) a story, each of its
        # own total, so that each column adds up to 100.
        total_ends = sum(r.count for r in report.ends)
        report.first_findings = sorted(
            (
                Row(r.key, r.label, r.count, _percent(r.count, report.cases))
                for r in report.first_findings
            ),
            key=lambda r: (-r.count, r.key),
        )
        report.ends = sorted(
            (Row(r.key, r.label, r.count, _percent(r.count, total_ends)) for r in report.ends),
            key=lambda r: (-r.count, r.key),
        )
        report.fixes.sort(key=lambda f: (-f.tried, f.operation))
    rank = {problem: i for i, problem in enumerate(PROBLEMS)}
    ordered = sorted(problems.values(), key=lambda p: (rank.get(p.problem, len(rank)), p.problem))
    return Report(
        days=days, since=since, until=until, cases=sum(p.cases for p in ordered), problems=ordered
    )


def own_case(*, actor: Actor, pk: object) -> Case | None:
    """The case `pk` if it belongs to the actor's library; None otherwise (another
    library's case does not exist for this actor, whatever its number)."""
    try:
        number = int(str(pk))
    except (TypeError, ValueError):
        return None
    if number < 1 or number > 2**62:
        return None
    return Case.objects.filter(pk=number, library_id=_library_id(actor)).first()
