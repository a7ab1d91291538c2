"""The patron's own pages: "Mijn inlogaccount"."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from bibid.identity.signin.selectors import recent_events


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/home.html",
        {"account": request.user, "events": recent_events(request.user.pk, limit=10)},
    )
