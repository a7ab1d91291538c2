"""The reading service's start page: what it is, a search box and a few shelves of titles."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from bibid.reading.catalogue import selectors
from bibid.reading.catalogue.forms import SearchForm

from .catalogue_views import with_loan_states

SHELF_SIZE = 6


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    list_url = reverse("catalogue:list")
    shelves = [
        (
            _("E-books"),
            f"{list_url}?soort=e-book&voor=volwassenen",
            selectors.shelf(kind="ebook", youth=False, size=SHELF_SIZE),
        ),
        (
            _("Luisterboeken"),
            f"{list_url}?soort=luisterboek&voor=volwassenen",
            selectors.shelf(kind="audiobook", youth=False, size=SHELF_SIZE),
        ),
        (_("Jeugd"), f"{list_url}?voor=jeugd", selectors.shelf(youth=True, size=SHELF_SIZE)),
    ]
    # One query for the patron's loans of every title on the page, not one per shelf.
    cards = dict(with_loan_states(request, [t for _h, _u, titles in shelves for t in titles]))
    return render(
        request,
        "home/home.html",
        {
            "form": SearchForm(),
            "shelves": [
                {"heading": heading, "url": url, "cards": [(t, cards[t]) for t in titles]}
                for heading, url, titles in shelves
            ],
        },
    )
