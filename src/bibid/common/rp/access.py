"""Pages only a signed-in patron sees: the decorator that checks the identity session first.

Above services.py (it asks whether the identity session still exists) and patron.py (who is
signed in), which know nothing of views: the relying party's layers point one way."""

from __future__ import annotations

from functools import wraps

from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse

from . import services
from .patron import client_kwargs, get_patron, login_url


def patron_required(view):
    """Sends a visitor who is not signed in to the identity service first, then back here;
    one whose identity session ended to the LOGOUT_DETECTED page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        services.check_session(request)  # done already when the middleware is installed
        if get_patron(request) is None:
            if getattr(request, "rp_logout_detected", False):
                # The identity session ended (signed out elsewhere, a new password,
                # expired): say so (AUTHENTICATION.LOGOUT_DETECTED), not just "sign in".
                return redirect(reverse("rp:logout_detected", kwargs=client_kwargs(request)))
            return redirect(login_url(request))
        request.patron = get_patron(request)
        return view(request, *args, **kwargs)

    return wrapper
