"""The helpdesk in the staff console: diagnose a customer's login problem, carry out the fix
it offers, answer its questions. Thin: each view parses, calls one helpdesk operation and
renders the diagnosis; every change is a POST, and a refusal is a page, never a 500."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bibid.common.problems import Problem
from bibid.library.helpdesk import diagnosis as helpdesk
from bibid.library.helpdesk.models import Case
from bibid.library.loginaccounts import menu

from .forms import LinkConfirmForm
from .helpdesk_forms import LABELS, AnswerForm, DiagnoseForm, FixForm, LinkStepForm
from .views import (
    RETRY_CONFIRM,
    CustomerNotFound,
    _customer,
    _keep_link_request,
    _link_request,
    _not_found,
    staff_required,
)

TEMPLATE = "console/helpdesk_diagnosis.html"
# After a fix: whether its effect is confirmed, in the staff member's words.
FIX_STATES = {
    helpdesk.FixState.WORKED: gettext_lazy("Gecontroleerd: de oorzaak is weg."),
    helpdesk.FixState.NOT_WORKED: gettext_lazy(
        "Uitgevoerd, maar de oorzaak is er nog; zie hieronder."
    ),
    helpdesk.FixState.WAITING_FOR_PATRON: gettext_lazy(
        "Uitgevoerd; nu is de klant aan zet (mail openen of bevestigen)."
    ),
    helpdesk.FixState.WAITING_FOR_PUSH: gettext_lazy(
        "Uitgevoerd; de nieuwe rechten zijn nog niet bij de inlogdienst aangekomen. Ze worden "
        "automatisch doorgegeven; controleer het zo opnieuw."
    ),
}


def _language() -> str:
    return (get_language() or "nl")[:2]


def _status(problem: Problem) -> int:
    # A page says what went wrong with the status it has; anything of the login service's
    # own making is "unavailable" here, so the console never answers 500 for it.
    return problem.status if 400 <= problem.status < 500 else 503


def _form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


# -- what the page shows -------------------------------------------------------------------


def _step_result(step, node) -> str:
    if step.kind == "check":
        return _("in orde") if step.result == "ok" else _("niet in orde")
    if step.kind == "action":
        return _("nu te doen") if step.result == "fix" else _("gedaan")
    if step.kind == "question":
        return (
            _("vraag het de klant")
            if step.result == "ask"
            else _("antwoord: %(a)s") % {"a": step.result}
        )
    if step.kind == "end":
        return _("opgelost") if step.result == "solved" else _("doorzetten naar de helpdesk")
    return _("advies")


def _chart(found: helpdesk.Diagnosis) -> dict | None:
    """The flowchart with this case's path (helpdesk.charts); left out while that part of
    the service is not there."""
    if found.case is None:
        return None
    query = f"?case={found.case.pk}"
    try:
        svg = reverse("helpdesk:chart_svg", args=[found.procedure.id]) + query
        page = reverse("helpdesk:chart", args=[found.procedure.id]) + query
    except NoReverseMatch:
        return None
    return {
        "svg": svg,
        "page": page,
        "alt": _(
            "Stroomschema %(title)s, met de gevolgde stappen gemarkeerd; dezelfde stappen staan "
            "hierboven als lijst."
        )
        % {"title": found.procedure.title},
    }


def _context(
    found,
    result: helpdesk.Diagnosis | None,
    *,
    problem: str = "",
    username: str = "",
    done=None,
    fixed: str = "",
    error: str = "",
    needs_confirm: bool = False,
    form: DiagnoseForm | None = None,
    fix_state: str = "",
    link_request: dict | None = None,
) -> dict:
    context = {
        "customer": found,
        "diagnosis": result,
        "done": done,
        "fixed": fixed,
        "error": error,
        "needs_confirm": needs_confirm,
        "link_request": link_request,
        "fix_state": FIX_STATES.get(fix_state, ""),
        "confirm_url": reverse("console:helpdesk_link_confirm", args=[found.card_number]),
        "hidden": [
            ("problem", problem or (result.problem if result else "")),
            ("username", username),
            ("case", result.case.pk if result is not None and result.case else ""),
        ],
        "label": LABELS.get(problem, ""),
        "form": form or DiagnoseForm(initial={"username": username}),
    }
    if result is None:
        return context
    nodes = result.procedure.nodes
    steps = [
        {
            "node": s.node,
            "title": nodes[s.node].title,
            "kind": s.kind,
            "result": _step_result(s, nodes[s.node]),
            "text": nodes[s.node].text if s.kind == "advice" else "",
            "last": i == len(result.path) - 1,
        }
        for i, s in enumerate(result.path)
    ]
    # What to do now is the engine's `next`, the same as the REST API's and the command
    # line's: a fix (under the cause when it is the cause's, else as the next step), a
    # question, or an end.
    step = result.next
    question = nodes[step.node] if step.kind == "question" and result.case is not None else None
    cause = result.cause
    fix_finding = step.finding if step.kind == "fix" and step.fix is not None else None
    cause_fix = fix_finding is not None and cause is not None and fix_finding.code == cause.code
    next_fix = None
    if fix_finding is not None and not cause_fix:
        next_fix = {"finding": fix_finding, "allowed": result.may_fix.get(fix_finding.code, False)}
    context.update(
        {
            "label": LABELS.get(result.problem, result.problem),
            "cause": cause,
            "cause_fix": cause_fix,
            "later": result.findings[1:],
            "others": result.also_seen,
            "may_fix": bool(cause_fix and result.may_fix.get(cause.code)),
            "steps": steps,
            "question": question,
            "next_fix": next_fix,
            "question_node": step.node if question else "",
            "end": step if step.kind == "end" else None,
            "chart": _chart(result),
            "username": result.typed_username or "",
            "after_fix": done is not None,
        }
    )
    return context


def _page(request: HttpRequest, found, result, status: int = 200, **extra) -> HttpResponse:
    return render(request, TEMPLATE, _context(found, result, **extra), status=status)


def _refused(request: HttpRequest, found, refused: Problem, **extra) -> HttpResponse:
    if refused.status == 404:
        return _not_found(request, found.card_number)
    return _page(
        request, found, None, status=_status(refused), error=refused.text(_language()), **extra
    )


def _found(request: HttpRequest, card_number: str):
    try:
        return _customer(request, card_number)
    except CustomerNotFound:
        return None


# -- the three posts -------------------------------------------------------------------------


@staff_required
@require_POST
def diagnose(request: HttpRequest, card_number: str) -> HttpResponse:
    """One of the Helpdesk box's buttons: run the procedure, show the cause and the fix."""
    found = _found(request, card_number)
    if found is None:
        return _not_found(request, card_number)
    form = DiagnoseForm(request.POST)
    if not form.is_valid():
        return _page(request, found, None, status=400, error=_form_errors(form), form=form)
    problem, username = form.cleaned_data["problem"], form.cleaned_data["username"]
    try:
        result = helpdesk.run(
            actor=request.actor, customer=found, problem=problem, username=username or None
        )
    except Problem as refused:
        return _refused(request, found, refused, problem=problem, username=username)
    return _page(request, found, result, problem=problem, username=username)


@staff_required
@require_POST
def fix(request: HttpRequest, card_number: str) -> HttpResponse:
    """The fix button: carry out what a fresh diagnosis offers, then show it again."""
    found = _found(request, card_number)
    if found is None:
        return _not_found(request, card_number)
    form = FixForm(request.POST)
    if not form.is_valid():
        return _page(request, found, None, status=400, error=_form_errors(form))
    data = form.cleaned_data
    problem, code, username = data["problem"], data["code"], data["username"] or None
    try:
        seen = (
            Case.objects.filter(pk=data["case"], customer=found).first() if data["case"] else None
        )
        # A fix that moves an account between people needs the staff member's tick first.
        done, after, state = helpdesk.apply_fix(
            actor=request.actor,
            customer=found,
            problem=problem,
            code=code,
            username=username,
            case=seen,
            confirmed=data["bevestig"],
        )
    except helpdesk.ConfirmFirst as wait:
        return _page(
            request,
            found,
            wait.diagnosis,
            status=400,
            needs_confirm=True,
            problem=problem,
            username=username or "",
            error=wait.text(_language()),
        )
    except helpdesk.NoSuchFix as gone:
        # The message says the diagnosis was done again: show it.
        return _page(
            request,
            found,
            gone.diagnosis,
            status=409,
            error=gone.text(_language()),
            problem=problem,
            username=username or "",
        )
    except Problem as refused:
        return _refused(request, found, refused, problem=problem, username=username or "")
    link_request = None
    if done.action == "link":
        # Not done yet: the patron confirms the link request (rule L2); the page shows the
        # same code and handover step as the Inlogaccount menu.
        link_request = {**done.data, "error": ""}
        _keep_link_request(request, card_number, link_request)
    return _page(
        request,
        found,
        after,
        done=done,
        fixed=_fix_label(done),
        fix_state=state,
        problem=problem,
        username=username or "",
        link_request=link_request,
    )


@staff_required
@require_POST
def confirm_link(request: HttpRequest, card_number: str) -> HttpResponse:
    """Step 2 of the account_link fix: the patron's code, or their confirmation on the
    handover page; then the diagnosis again. A wrong code keeps the step open."""
    found = _found(request, card_number)
    if found is None:
        return _not_found(request, card_number)
    form, step = LinkStepForm(request.POST), LinkConfirmForm(request.POST)
    if not form.is_valid():
        return _page(request, found, None, status=400, error=_form_errors(form))
    data = form.cleaned_data
    problem, username = data["problem"], data["username"] or None
    seen = Case.objects.filter(pk=data["case"], customer=found).first() if data["case"] else None
    pending = _link_request(request, card_number)
    if not step.is_valid():
        return _link_step_again(
            request, found, problem, username, seen, pending, _form_errors(step)
        )
    code = "" if step.cleaned_data["without_code"] else step.cleaned_data["code"]
    try:
        done, after, state = helpdesk.confirm_link(
            actor=request.actor,
            customer=found,
            problem=problem,
            request_id=str(step.cleaned_data["request_id"]),
            code=code or None,
            username=username,
            case=seen,
            # From this staff member's own session (the fix they ticked), never the form.
            move_from=(pending or {}).get("move_from")
            if (pending or {}).get("request_id") == str(step.cleaned_data["request_id"])
            else None,
        )
    except Problem as refused:
        if refused.code in RETRY_CONFIRM and pending:
            return _link_step_again(
                request, found, problem, username, seen, pending, refused.text(_language())
            )
        _keep_link_request(request, card_number, None)
        return _refused(request, found, refused, problem=problem, username=username or "")
    _keep_link_request(request, card_number, None)
    return _page(
        request,
        found,
        after,
        done=done,
        fixed=_fix_label(done),
        fix_state=state,
        problem=problem,
        username=username or "",
    )


def _link_step_again(request, found, problem, username, seen, pending, text):
    """The code was wrong (or the patron has not confirmed yet): the same diagnosis, the
    step open again with the error inside it."""
    if not pending:
        return _page(request, found, None, status=400, error=text)
    try:
        now = helpdesk.run(
            actor=request.actor,
            customer=found,
            problem=problem,
            username=username,
            record=seen is None,
        )
    except Problem as again:
        return _refused(request, found, again, problem=problem, username=username or "")
    now.case = seen or now.case
    return _page(
        request,
        found,
        now,
        status=400,
        problem=problem,
        username=username or "",
        link_request={**pending, "error": text},
    )


def _fix_label(done) -> str:
    item = menu.by_key(done.action)
    return str(item.label) if item else done.action


@staff_required
@require_POST
def answer(request: HttpRequest, card_number: str, case: int) -> HttpResponse:
    """An answer button of the next question: resume the case's path there."""
    found = _found(request, card_number)
    if found is None:
        return _not_found(request, card_number)
    # A case of another customer (or library) is no case here.
    record = Case.objects.filter(pk=case, customer=found).first()
    if record is None:
        return _not_found(request, card_number)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            found,
            None,
            status=400,
            error=_form_errors(form),
            problem=record.problem,
            username=record.typed_username,
        )
    try:
        result = helpdesk.answer(
            actor=request.actor,
            case=record,
            node=form.cleaned_data["node"],
            label=form.cleaned_data["label"],
        )
    except helpdesk.QuestionGone as gone:
        return _page(
            request,
            found,
            gone.diagnosis,
            status=409,
            error=gone.text(_language()),
            problem=record.problem,
            username=record.typed_username,
        )
    except Problem as refused:
        return _refused(
            request, found, refused, problem=record.problem, username=record.typed_username
        )
    return _page(request, found, result, problem=record.problem, username=record.typed_username)
