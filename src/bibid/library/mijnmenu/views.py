"""Mijn Menu's pages: thin; find the library and the customer, render what the library has.

Reading one's own data is not a staff action: it records no audit event.
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from bibid.common.rp import services as rp
from bibid.common.rp.access import patron_required
from bibid.common.rp.patron import Patron
from bibid.library.tenants.models import Library

from . import selectors

logger = logging.getLogger("bibid.mijnmenu")
REPORTED_KEY = "mijnmenu_reported"


def with_library(view):
    """An unknown library is a 404 before anything else, also before the sign-in."""

    @wraps(view)
    def wrapper(request: HttpRequest, library: str, **kwargs):
        found = selectors.library_by_code(library)
        if found is None:
            raise Http404
        request.library = found
        return view(request, library=library, **kwargs)

    return wrapper


def _fresh_patron(request: HttpRequest) -> Patron | None:
    """The patron as the login service sees them now; None when that session has ended.

    Asking on every visit is how Mijn Menu notices that the identity session is gone (the
    seed's AUTHENTICATION.LOGOUT_DETECTED). When the login service cannot be asked at all,
    the page still shows what the library itself knows, with the rights read at sign-in:
    the library's data does not depend on the login service.
    """
    try:
        return rp.refresh_rights(request)
    except Exception:  # a side check must not take the library's own data away
        logger.warning("could not read the patron's rights again", exc_info=True)
        return request.patron


def _report_once(request: HttpRequest, kind: str, details: dict[str, Any]) -> None:
    """Tell the login service (for the helpdesk) once per session and library, not per visit."""
    key = f"{request.library.code}:{kind}"
    reported = request.session.get(REPORTED_KEY, [])
    if key in reported:
        return
    try:
        rp.report_event(request, kind, details)
    except Exception:  # evidence for the helpdesk, never a reason to fail the page
        logger.warning("could not report %s", kind, exc_info=True)
        return
    request.session[REPORTED_KEY] = [*reported, key]


def _links(request: HttpRequest) -> dict[str, str]:
    urls = settings.BIBID_PUBLIC_URLS
    return {
        # The login service's own pages for the account (password, e-mail, username); it
        # asks the patron to sign in there if needed.
        "account_url": f"{urls['identity']}/",
        # Through its sign-in: the patron arrives signed in (single sign-on, no password),
        # instead of on a public start page with an "Inloggen" link.
        "reading_url": f"{urls['reading']}/inloggen/?next=/",
        "logout_url": reverse("rp:logout", kwargs={"library": request.library.code}),
    }


@never_cache
@require_safe
@with_library
@patron_required
def home(request: HttpRequest, library: str) -> HttpResponse:
    lib = request.library
    patron = _fresh_patron(request)
    if patron is None:
        return redirect("rp:logout_detected", library=lib.code)
    request.patron = patron
    context: dict[str, Any] = {"library": lib, "patron": patron, **_links(request)}
    customer = selectors.customer_of_account(library=lib, account_id=patron.sub)
    if customer is None:
        elsewhere = [
            x.get("name") for x in patron.libraries if x.get("code") != lib.code and x.get("name")
        ]
        linked_here = any(x.get("code") == lib.code for x in patron.libraries)
        _report_once(
            request, "not_linked", {"library": lib.code, "linked_at_identity": linked_here}
        )
        return render(
            request,
            "mijnmenu/not_linked.html",
            {
                **context,
                "elsewhere": elsewhere,
                "signup_allowed": lib.allows(Library.Flow.SIGNUP),
            },
        )
    overview = selectors.overview(customer)
    missing = selectors.missing_at_identity(overview.rights, patron)
    if missing:
        _report_once(
            request,
            "rights_missing",
            {"library": lib.code, "rights": sorted({r.code for r in missing})},
        )
    latest = overview.subscriptions[0] if overview.subscriptions else None
    return render(
        request,
        "mijnmenu/home.html",
        {
            **context,
            "customer": customer,
            "overview": overview,
            "latest": latest,
            "missing": missing,
        },
    )
