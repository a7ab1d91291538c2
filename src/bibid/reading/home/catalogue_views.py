"""The catalogue's pages: search, one title, covers. Open to everyone; a signed-in patron also
sees which titles they have borrowed. Pages live in `home`, above the loans and the catalogue
they show (the reading service's layers)."""

from __future__ import annotations

import hashlib

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.common.rp.patron import get_patron
from bibid.reading.catalogue import covers, selectors
from bibid.reading.catalogue.forms import SearchForm
from bibid.reading.catalogue.models import Title
from bibid.reading.loans import rules as loan_rules
from bibid.reading.loans import selectors as loans

COVER_MAX_AGE = 365 * 24 * 3600  # a cover changes only with its title; the ETag covers that


def with_loan_states(request: HttpRequest, titles: list[Title]) -> list[tuple[Title, object]]:
    """Each title with the signed-in patron's running loan of it (one query for the page)."""
    patron = get_patron(request)
    states = loans.states(patron.sub, [t.pk for t in titles]) if patron else {}
    return [(title, states.get(title.pk)) for title in titles]


@require_GET
def title_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    filters = form.filters()
    page = Paginator(selectors.search(**filters), selectors.PAGE_SIZE).get_page(
        request.GET.get("pagina")
    )
    return render(
        request,
        "catalogue/list.html",
        {
            "form": form,
            "page": page,
            "cards": with_loan_states(request, list(page)),
            "searching": any(v not in ("", None) for v in filters.values()),
            "nav": "catalogue",
        },
    )


def render_title(
    request: HttpRequest, title: Title, *, problem: Problem | None = None, status: int = 200
) -> HttpResponse:
    """The title page; also used to answer a refused loan action with its reason."""
    patron = get_patron(request)
    loan = renew_problem = None
    if patron is not None:
        loan = loans.states(patron.sub, [title.pk]).get(title.pk)
        if loan is not None:
            loan.title = title  # already read: the buttons name it
            renew_problem = loan_rules.check_renew(sub=patron.sub, loan=loan, now=clock.now())
    return render(
        request,
        "catalogue/detail.html",
        {
            "title": title,
            "loan": loan,
            "renew_problem": renew_problem,
            "renew_opens_at": loan_rules.renew_opens_at(loan) if loan else None,
            "problem": problem,
            "problem_text": problem.text((get_language() or "nl")[:2]) if problem else "",
            "nav": "catalogue",
        },
        status=status,
    )


@require_GET
def title_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return render_title(request, get_object_or_404(Title, slug=slug))


@require_GET
def cover(request: HttpRequest, slug: str) -> HttpResponse:
    """The title's cover as SVG: drawn from its slug, title and author; cached for long."""
    row = Title.objects.filter(slug=slug).values("title", "author", "kind").first()
    if row is None:
        raise Http404
    svg = covers.cover_svg(
        slug=slug,
        title=row["title"],
        author=row["author"],
        audiobook=row["kind"] == Title.Kind.AUDIOBOOK,
    )
    etag = '"' + hashlib.sha256(svg.encode()).hexdigest()[:32] + '"'
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=COVER_MAX_AGE)
    return response
