"""The handover page: the patron agrees to a library's link request by signing in on it.

Shown on the desk's screen (opened from the staff console in a new tab) or on the patron's
phone. It is the identity service's own page: the library's console cannot read it (another
origin; X-Frame-Options DENY, so it cannot be framed either). Signing in here checks the
password under the sign-in page's guessing limits but starts no session: a desk computer
must not stay signed in as the patron. A sign-in page, so it lives with sign-in, above the
libraries' linking it calls (the identity service's layers).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from bibid.common.http import client_ip, user_agent
from bibid.common.problems import Problem
from bibid.identity.libraries import linking

from . import flow
from .forms import LoginForm

TEMPLATE = "handover/link.html"


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, request_id) -> HttpResponse:
    pending = linking.pending_request(request_id)
    if pending is None:
        return render(request, "handover/gone.html", status=410)
    language = (getattr(request, "LANGUAGE_CODE", "") or "nl")[:2]
    form = LoginForm(request.POST if request.POST.get("action") == "approve" else None)
    context = {
        "pending": pending,
        "library": pending.library.name,
        "form": form,
        "failed": False,
        "retry_after": None,
        "error": "",
    }
    status = 200
    if request.method == "POST" and request.POST.get("action") == "decline":
        linking.decline(request_id=pending.pk)
        return render(
            request, "handover/done.html", {"declined": True, "library": pending.library.name}
        )
    if request.method == "POST" and form.is_valid():
        result = flow.sign_in(
            flow.Attempt(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
                user_agent=user_agent(request),
            )
        )
        if result.ok:
            try:
                linking.approve(request_id=pending.pk, account=result.account)
            except Problem as problem:
                context["error"], status = problem.text(language), problem.status
            else:
                return render(
                    request,
                    "handover/done.html",
                    {"declined": False, "library": pending.library.name},
                )
        elif result.throttled:
            context["retry_after"], status = result.retry_after, 429
        else:
            context["failed"], status = True, 400
    elif request.method == "POST":
        status = 400
    response = render(request, TEMPLATE, context, status=status)
    if context["retry_after"]:
        response["Retry-After"] = str(context["retry_after"])
    return response
