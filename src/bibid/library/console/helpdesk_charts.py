"""The helpdesk's pages in the staff console: the flowcharts (with a case's path) and the
report. Thin: each parses its input, calls one read of the helpdesk, renders the answer.
Every staff page lives in the console; the helpdesk engine below it knows no pages."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from bibid.library.helpdesk import charts, definitions, findings, report, report_charts
from bibid.library.helpdesk.engine import PathStep
from bibid.library.helpdesk.models import Case

from .views import staff_required

RESULTS = {
    "ok": _("in orde"),
    "fix": _("oplossing aangeboden"),
    "done": _("uitgevoerd"),
    "ask": _("gevraagd aan de klant"),
    "advice": _("advies gegeven"),
    "solved": _("opgelost"),
    "escalate": _("doorzetten"),
    "system": _("het systeem"),
    "patron": _("de klant"),
    "staff": _("de medewerker"),
}
KINDS = {
    "check": _("controle"),
    "action": _("actie"),
    "question": _("vraag"),
    "advice": _("advies"),
    "end": _("einde"),
    "system": _("systeem"),
    "patron": _("klant"),
    "staff": _("medewerker"),
}


def _definition(definition_id: str) -> definitions.Definition:
    found = definitions.all_definitions().get(definition_id)
    if found is None:
        raise Http404
    return found


def _case(request: HttpRequest) -> Case | None:
    """The case of ?case=, of the staff member's own library; anything else is a 404."""
    if "case" not in request.GET:
        return None
    case = report.own_case(actor=request.actor, pk=request.GET["case"])
    if case is None:
        raise Http404
    return case


def _elsewhere(case: Case, definition: definitions.Definition, name: str):
    """A case walks one procedure: asked on another chart, go to the case's own."""
    if case.procedure != definition.id and case.procedure in definitions.all_definitions():
        url = reverse(name, args=[case.procedure])
        return HttpResponseRedirect(f"{url}?case={case.pk}")
    return None


@staff_required
def chart_list(request: HttpRequest) -> HttpResponse:
    found = list(definitions.all_definitions().values())
    return render(
        request,
        "console/helpdesk_charts.html",
        {
            "procedures": [d for d in found if d.kind == "procedure"],
            "flows": [d for d in found if d.kind == "flow"],
        },
    )


def _outline(definition: definitions.Definition) -> list[dict]:
    """Every step in words, for those who do not see the chart (and for search)."""
    leads: dict[str, list[tuple[str, str]]] = {}
    for source, target, label in charts.edges(definition):
        leads.setdefault(source, []).append((label, definition.nodes[target].title))
    return [
        {
            "name": name,
            "node": node,
            "kind": KINDS.get(node.kind, node.kind),
            "leads": leads.get(name, []),
        }
        for name, node in definition.nodes.items()
    ]


def _result_words(result: str) -> str:
    """A step's result as words: a finding by its words, never its code; an answer is stored
    as the words the staff member chose."""
    if result in RESULTS:
        return str(RESULTS[result])
    if result in findings.CODES:
        return findings.finding_words(result)
    if result in KINDS:
        return str(KINDS[result])
    return result


def _walked(definition: definitions.Definition, path: list[PathStep]) -> list[dict]:
    return [
        {
            "title": definition.nodes[step.node].title
            if step.node in definition.nodes
            else step.node,
            "result": _result_words(step.result),
            "known": step.node in definition.nodes,
        }
        for step in path
    ]


@staff_required
def chart(request: HttpRequest, definition_id: str) -> HttpResponse:
    definition = _definition(definition_id)
    case = _case(request)
    if case is not None and (moved := _elsewhere(case, definition, "helpdesk:chart")):
        return moved
    path = charts.case_path(case.path) if case is not None else []
    # The SVG is ours: every text from a definition in it was escaped by render_svg.
    svg = mark_safe(charts.render_svg(definition, path=path, title=False))  # noqa: S308
    return render(
        request,
        "console/helpdesk_chart.html",
        {
            "definition": definition,
            "svg": svg,
            "case": case,
            "walked": _walked(definition, path),
            "outline": _outline(definition),
            "outdated": case is not None and case.procedure_version != definition.version,
        },
    )


@staff_required
def chart_svg(request: HttpRequest, definition_id: str) -> HttpResponse:
    definition = _definition(definition_id)
    case = _case(request)
    if case is not None and (moved := _elsewhere(case, definition, "helpdesk:chart_svg")):
        return moved
    path = charts.case_path(case.path) if case is not None else []
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + charts.render_svg(definition, path=path)
    response = HttpResponse(body, content_type="image/svg+xml; charset=utf-8")
    name = definition.id + (f"-zaak-{case.pk}" if case is not None else "")
    response["Content-Disposition"] = f'inline; filename="{name}.svg"'
    return response


def _report_chart(p: report.ProblemReport, i: int, *, ends: bool) -> dict:
    weekly = p.ends_by_week if ends else p.findings_by_week
    chart_id = f"{'ends' if ends else 'findings'}-{i}"
    caption = _("Hoe zaken eindigden, per week") if ends else _("Eerste bevinding per week")
    svg = report_charts.bar_chart(
        weekly, chart_id=chart_id, title=f"{p.title}: {caption}", ends=ends
    )
    return {
        "id": chart_id,
        "caption": caption,
        "weekly": weekly,
        # The chart is ours: every text in it was escaped by report_charts.
        "svg": mark_safe(svg),  # noqa: S308
    }


@staff_required
def report_page(request: HttpRequest) -> HttpResponse:
    days = report.period(request.GET.get("dagen"))
    built = report.build(actor=request.actor, days=days)
    sections = [
        {"problem": p, "charts": [_report_chart(p, i, ends=False), _report_chart(p, i, ends=True)]}
        for i, p in enumerate(built.problems, start=1)
    ]
    return render(
        request,
        "console/helpdesk_report.html",
        {"report": built, "sections": sections, "periods": report.PERIODS},
    )
