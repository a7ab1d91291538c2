"""Self-service sign-up pages (public)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bibid.common.http import client_ip
from bibid.common.problems import Problem
from bibid.library.subscriptions.models import SubscriptionType
from bibid.library.tenants.models import Library

from . import services
from .forms import SignupForm


def choose(request: HttpRequest) -> HttpResponse:
    libraries = [lib for lib in Library.objects.all() if lib.allows(Library.Flow.SIGNUP)]
    return render(request, "signup/choose.html", {"libraries": libraries})


@never_cache
@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest, code: str) -> HttpResponse:
    library = Library.objects.filter(code=code).first()
    if library is None or not library.allows(Library.Flow.SIGNUP):
        raise Http404
    types = SubscriptionType.objects.filter(
        pk__in=[t.pk for t in services.types_for_signup(library)]
    ).order_by("price")
    form = SignupForm(request.POST or None, types=types)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.sign_up(
                library=library,
                ip=client_ip(request),
                application=services.Application(
                    name=data["name"],
                    birth_date=data["birth_date"],
                    email=data["email"],
                    type=data["subscription_type"],
                    language=(get_language() or "nl")[:2],
                ),
            )
        except Problem as problem:
            if problem.code == "signup_unconfirmed":
                # Not an error in the form, and maybe not an error at all (see sign_up).
                return render(
                    request,
                    "signup/unconfirmed.html",
                    {
                        "library": library,
                        "email": data["email"],
                        "message": problem.text((get_language() or "nl")[:2]),
                    },
                    status=202,
                )
            field = problem.field if problem.field in form.fields else None
            form.add_error(field, problem.text((get_language() or "nl")[:2]))
            status = problem.status if problem.status >= 500 or problem.status == 429 else 400
        else:
            return render(request, "signup/sent.html", {"library": library, "email": data["email"]})
    elif request.method == "POST":
        status = 400
    return render(request, "signup/form.html", {"library": library, "form": form}, status=status)
