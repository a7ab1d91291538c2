"""Reads over one library's helpdesk cases: the report (what occurs, what works, where cases
end) counted in the database in a fixed number of queries, and one case for its chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import models
from django.db.models import Count, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.loginaccounts import menu
from bibid.library.staff.permissions import Actor, Perm, require

from . import definitions
from .diagnosis import PROBLEMS
from .findings import finding_words
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
class Weekly:
    """Cases per week for one chart: the weeks (their Mondays, every week of the period, an
    empty one too), the categories in the order of the legend (key, words) and the counts
    per week and key."""

    weeks: list[date]
    categories: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[date, dict[str, int]] = field(default_factory=dict)

    def count(self, week: date, key: str) -> int:
        return self.counts.get(week, {}).get(key, 0)

    def total(self, week: date) -> int:
        return sum(self.counts.get(week, {}).values())

    def rows(self) -> list[tuple[date, list[int], int]]:
        """Per week: its Monday, the counts in the legend's order, the total (the table
        that says what the chart shows)."""
        return [
            (week, [self.count(week, key) for key, _words in self.categories], self.total(week))
            for week in self.weeks
        ]


@dataclass
class ProblemReport:
    problem: str
    title: str
    procedure: str | None  # the definition, for a link to its chart
    cases: int = 0
    first_findings: list[Row] = field(default_factory=list)
    fixes: list[FixRow] = field(default_factory=list)
    ends: list[Row] = field(default_factory=list)
    # Per week: the first findings of the cases that start a story, and how the stories
    # ended (the kind of step they ended at).
    findings_by_week: Weekly | None = None
    ends_by_week: Weekly | None = None


# How a story ended, by the kind of step it stopped at: a handful of words for a chart's
# legend (the table beside it names each step).
END_KINDS = {
    "solved": _("opgelost"),
    "escalate": _("doorgezet"),
    "action": _("bij een oplossing"),
    "question": _("bij een vraag aan de klant"),
    "advice": _("met een advies"),
    "other": _("elders"),
}
# A chart shows the most frequent first findings; the rest share one colour.
TOP_FINDINGS = 5
OTHER = "other"


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


def _weeks(since: datetime, until: datetime) -> list[date]:
    """The Mondays of every week the period touches, in the library's time zone."""
    first, last = timezone.localdate(since), timezone.localdate(until)
    first -= timedelta(days=first.weekday())
    last -= timedelta(days=last.weekday())
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def _week_of(weeks: list[date]) -> models.Case:
    """The number of a case's week in `weeks`, counted by the database.

    Compared with each week's start (local midnight on Monday, so a summer-time week is
    right), not by TruncWeek: on SQLite that calls back into Python for every case, which
    made a year's report seven times slower; plain comparisons stay in the database."""
    zone = timezone.get_current_timezone()
    starts = [datetime.combine(w, datetime.min.time(), tzinfo=zone) for w in weeks[1:]]
    return models.Case(
        *(When(created_at__lt=start, then=Value(i)) for i, start in enumerate(starts)),
        default=Value(len(weeks) - 1),
        output_field=IntegerField(),
    )


def _end_kind(node: definitions.Node | None) -> str:
    if node is None:
        return "other"
    if node.kind == "end":
        return node.result or "escalate"
    return node.kind if node.kind in END_KINDS else "other"


def _add(weekly: Weekly, week: date, key: str, n: int) -> None:
    counts = weekly.counts.setdefault(week, {})
    counts[key] = counts.get(key, 0) + n


def _procedure(problem: str) -> definitions.Definition | None:
    try:
        return definitions.procedure_for(problem)
    except KeyError:
        return None


def build(*, actor: Actor, days: int = DEFAULT_DAYS) -> Report:
    """Count the cases of the actor's library over the last `days` days, per problem.

    A case that follows another (the diagnosis run again after a fix) is no new problem:
    first findings count the cases that start a story, ends the cases that finish one (not
    followed by another). Fixes count every case where one was carried out. Both are also
    counted per week, for the charts. Three queries, however many cases."""
    days = period(days)
    until = clock.now()
    since = until - timedelta(days=days)
    cases = Case.objects.filter(
        library_id=_library_id(actor), created_at__gte=since, created_at__lte=until
    )
    weeks = _weeks(since, until)
    starts = (
        cases.filter(follows__isnull=True)
        .annotate(week=_week_of(weeks))
        .values("problem", "first_code", "week")
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
        .annotate(week=_week_of(weeks))
        .values("problem", "procedure", "ended", "week")
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
                findings_by_week=Weekly(weeks),
                ends_by_week=Weekly(weeks),
            )
        return problems[problem]

    first: dict[str, dict[str, int]] = {}  # problem -> first finding -> cases
    for row in starts:
        report = get(row["problem"])
        report.cases += row["n"]
        totals = first.setdefault(row["problem"], {})
        totals[row["first_code"]] = totals.get(row["first_code"], 0) + row["n"]
        _add(report.findings_by_week, weeks[row["week"]], row["first_code"], row["n"])
    for problem, totals in first.items():
        get(problem).first_findings = [
            Row(code, finding_words(code), n, 0) for code, n in totals.items()
        ]
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
    last: dict[tuple[str, str, str], int] = {}  # (problem, procedure, node) -> cases
    for row in ends:
        report = get(row["problem"])
        node = None
        if row["procedure"] in definitions.all_definitions():
            node = definitions.get(row["procedure"]).nodes.get(row["ended"])
        key = (row["problem"], row["procedure"], row["ended"])
        last[key] = last.get(key, 0) + row["n"]
        _add(report.ends_by_week, weeks[row["week"]], _end_kind(node), row["n"])
    labels: dict[tuple[str, str], tuple[str, int]] = {}  # (problem, node) -> (words, cases)
    for (problem, procedure, ended), n in last.items():
        node = None
        if procedure in definitions.all_definitions():
            node = definitions.get(procedure).nodes.get(ended)
        label = node.title if node else (ended or str(_("(onbekend)")))
        words, before = labels.get((problem, ended), (label, 0))
        labels[(problem, ended)] = (words, before + n)
    for (problem, ended), (label, n) in labels.items():
        get(problem).ends.append(Row(ended, label, n, 0))

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
        _categories(report)
    rank = {problem: i for i, problem in enumerate(PROBLEMS)}
    ordered = sorted(problems.values(), key=lambda p: (rank.get(p.problem, len(rank)), p.problem))
    return Report(
        days=days, since=since, until=until, cases=sum(p.cases for p in ordered), problems=ordered
    )


def _categories(report: ProblemReport) -> None:
    """The legends: the most frequent first findings (the rest as one), and the kinds of
    end that occur, in a fixed order."""
    findings = report.findings_by_week
    if findings is not None:
        top = [r.key for r in report.first_findings[:TOP_FINDINGS]]
        rest = {r.key for r in report.first_findings[TOP_FINDINGS:]}
        findings.categories = [(key, finding_words(key)) for key in top]
        if rest:
            findings.categories.append((OTHER, str(_("overige bevindingen"))))
            for counts in findings.counts.values():
                other = sum(counts.pop(key) for key in list(counts) if key in rest)
                if other:
                    counts[OTHER] = other
    ends = report.ends_by_week
    if ends is not None:
        seen = {key for counts in ends.counts.values() for key in counts}
        ends.categories = [(key, str(words)) for key, words in END_KINDS.items() if key in seen]


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
