"""The loan pages and forms: borrow, renew, give back, Mijn leenplank. Thin: each form reads the
patron, calls one operation and sends the patron on (post, redirect, get) with a message; a
refusal answers with its reason and changes nothing."""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bibid.common import clock, words
from bibid.common.problems import Problem
from bibid.common.rp import services as rp
from bibid.common.rp.access import patron_required
from bibid.common.rp.patron import Patron, get_patron
from bibid.reading.catalogue.models import Title
from bibid.reading.loans import rules, selectors, services
from bibid.reading.loans.models import Loan

from .catalogue_views import render_title

log = logging.getLogger("bibid.reading.loans")

RIGHTS_MISSING = ("no_right", "youth_only")


def _language() -> str:
    return (get_language() or "nl")[:2]


def _login_redirect(request: HttpRequest, back: str) -> HttpResponse:
    return HttpResponseRedirect(reverse("rp:login") + "?" + urlencode({"next": back}))


def _back(request: HttpRequest, title: Title | None = None) -> str:
    """Where a form sends the patron afterwards: the title page or the shelf (never a URL
    from the form, so there is nothing to redirect elsewhere with)."""
    if title is not None and request.POST.get("terug") != "leenplank":
        return reverse("catalogue:detail", args=[title.slug])
    return reverse("loans:shelf")


def form_patron_required(view):
    """patron_required for the forms. A visitor who is not signed in (the session ended
    while the page was open) signs in and comes back to the page the form was on, not to
    an address that only takes POST; everything else is patron_required's."""
    guarded = patron_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if get_patron(request) is None:
            title = Title.objects.filter(slug=kwargs.get("slug", "")).first()
            return _login_redirect(request, _back(request, title))
        return guarded(request, *args, **kwargs)

    return wrapper


def _fresh_patron(request: HttpRequest) -> Patron | None:
    """The patron with rights read again at identity, so that a library's authorization of a
    minute ago counts now. None: the identity session ended.

    If identity cannot be asked (down, a timeout), the rights read at sign-in still stand:
    identity vouched for them, and refusing every loan while it is away would be worse.
    """
    try:
        return rp.refresh_rights(request)
    except Exception:
        log.warning("rights could not be read again; using those from sign-in", exc_info=True)
        return request.patron


def _report(request: HttpRequest, kind: str, details: dict[str, Any]) -> None:
    """Tell identity for the helpdesk; a failure here must never cost the patron the page."""
    try:
        rp.report_event(request, kind, details)
    except Exception:
        log.warning("could not report %s to identity", kind, exc_info=True)


# -- borrowing -------------------------------------------------------------------------------


@require_POST
@form_patron_required
def borrow(request: HttpRequest, slug: str) -> HttpResponse:
    """Borrow one title. Also the "Opnieuw controleren" button: the same form again."""
    title = get_object_or_404(Title, slug=slug)
    patron = _fresh_patron(request)
    if patron is None:
        return _login_redirect(request, _back(request, title))
    request.patron = patron
    try:
        loan = services.borrow(sub=patron.sub, rights=patron.rights, title=title)
    except Problem as problem:
        if problem.code in RIGHTS_MISSING:
            return _rights_missing(request, patron, title, problem)
        return render_title(request, title, problem=problem, status=problem.status)
    messages.success(
        request,
        _("Je hebt “%(title)s” geleend tot %(due)s.")
        % {"title": title.title, "due": rules.moment_text(loan.due_at)},
    )
    return HttpResponseRedirect(_back(request, title))


def _rights_missing(
    request: HttpRequest, patron: Patron, title: Title, problem: Problem
) -> HttpResponse:
    needed = rules.needed_right(title.kind)
    valid = patron.rights_on()
    _report(
        request,
        "rights_missing",
        {
            "title": title.slug,
            "needed": needed,
            "had": sorted({r.code for r in valid}),
            "reason": problem.code,
        },
    )
    return render(
        request,
        "loans/rights_missing.html",
        {
            "title": title,
            "problem": problem,
            "problem_text": problem.text(_language()),
            "needed_name": rules.right_name(needed),
            "rights": valid,
            "youth_only": problem.code == "youth_only",
        },
        status=problem.status,
    )


# -- renewing and giving back ----------------------------------------------------------------


def _own_loan(request: HttpRequest, loan_id: int) -> Loan:
    loan = selectors.own_loan(request.patron.sub, loan_id)
    if loan is None:  # someone else's loan: no different from one that does not exist
        raise Http404
    return loan


def _answer_refusal(request: HttpRequest, loan: Loan, problem: Problem) -> HttpResponse:
    if request.POST.get("terug") == "leenplank":
        return render_shelf(request, problem=problem, status=problem.status)
    return render_title(request, loan.title, problem=problem, status=problem.status)


@require_POST
@form_patron_required
def renew(request: HttpRequest, loan_id: int) -> HttpResponse:
    loan = _own_loan(request, loan_id)
    try:
        loan = services.renew(sub=request.patron.sub, loan=loan)
    except Problem as problem:
        return _answer_refusal(request, loan, problem)
    messages.success(
        request,
        _("“%(title)s” is verlengd tot %(due)s.")
        % {"title": loan.title.title, "due": rules.moment_text(loan.due_at)},
    )
    return HttpResponseRedirect(_back(request, loan.title))


@require_POST
@form_patron_required
def give_back(request: HttpRequest, loan_id: int) -> HttpResponse:
    loan = _own_loan(request, loan_id)
    try:
        loan = services.give_back(sub=request.patron.sub, loan=loan)
    except Problem as problem:
        return _answer_refusal(request, loan, problem)
    messages.success(request, _("Je hebt “%(title)s” ingeleverd.") % {"title": loan.title.title})
    return HttpResponseRedirect(_back(request, loan.title))


# -- Mijn leenplank --------------------------------------------------------------------------


def _label(code: str) -> str:
    return capfirst(words.right_name(code))


def describe(usage: rules.Usage) -> dict[str, Any]:
    """One right in plain words: "E-books: 3 van 10 tegelijk", and what else to know."""
    limits = usage.limits
    values = {"used": usage.used, "limit": limits.loans}
    if limits.loans is None:
        count = _("%(used)s geleend, geen maximum") % values
    elif limits.period == rules.PER_YEAR:
        count = _("%(used)s van %(limit)s in de afgelopen 365 dagen") % values
    else:
        count = _("%(used)s van %(limit)s tegelijk") % values
    notes = []
    if limits.youth:
        notes.append(_("alleen jeugdtitels"))
    if usage.full and usage.frees_at:
        notes.append(
            _("weer een plek vrij op %(date)s") % {"date": rules.moment_text(usage.frees_at)}
        )
    return {
        "label": _label(usage.code),
        "count": count,
        "notes": notes,
        "full": usage.full,
        "library": usage.right.library,
        "valid_until": usage.right.valid_until,
    }


def render_shelf(
    request: HttpRequest, *, problem: Problem | None = None, status: int = 200
) -> HttpResponse:
    patron = request.patron
    now = clock.now()
    current = [
        {
            "loan": loan,
            "renew_problem": rules.check_renew(sub=patron.sub, loan=loan, now=now),
            "renew_opens_at": rules.renew_opens_at(loan),
        }
        for loan in selectors.current(patron.sub, now=now)
    ]
    response = render(
        request,
        "loans/shelf.html",
        {
            "current": current,
            "past": selectors.past(patron.sub, now=now),
            "rights": [describe(u) for u in selectors.usages(patron.sub, patron.rights, now=now)],
            "rights_read_at": patron.rights_read_at,
            "problem": problem,
            "problem_text": problem.text(_language()) if problem else "",
            "nav": "shelf",
        },
        status=status,
    )
    return response


@never_cache
@require_GET
@patron_required
def shelf(request: HttpRequest) -> HttpResponse:
    return render_shelf(request)


@never_cache
@require_POST
@form_patron_required
def check_rights(request: HttpRequest) -> HttpResponse:
    """Read the rights again at identity (after the library has authorized them anew)."""
    try:
        patron = rp.refresh_rights(request)
    except Exception:
        log.warning("rights could not be read again", exc_info=True)
        messages.error(
            request,
            _(
                "Je rechten konden nu niet worden opgehaald. Probeer het over "
                "een paar minuten opnieuw."
            ),
        )
        return HttpResponseRedirect(reverse("loans:shelf"))
    if patron is None:
        return _login_redirect(request, reverse("loans:shelf"))
    messages.success(request, _("Je rechten zijn opnieuw opgehaald bij de inlogdienst."))
    return HttpResponseRedirect(reverse("loans:shelf"))
