"""Sign-in and sign-out pages: parse the form, call the flow, render the answer."""

import copy
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render, resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils.datastructures import MultiValueDict
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bibid.common import webauthn as wa
from bibid.common.http import client_ip, user_agent
from bibid.identity.accounts.usernames import username_key

from . import device, flow, passkey, session
from .forms import LoginForm


def safe_next(request: HttpRequest, target: str | None = None) -> str:
    """The page to go to after signing in: only a path on this very host (no open redirect).
    `target`: the value to check (the passkey path's JSON); else the request's `next`."""
    if target is None:
        target = request.POST.get("next") or request.GET.get("next") or ""
    if not isinstance(target, str):
        return ""
    if (
        url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return ""


# The pages a sign-in may answer in place of a redirect to them (continue_in_place).
IN_PLACE = frozenset({"oauth2_provider:authorize"})


def continue_in_place(request: HttpRequest, next_url: str) -> HttpResponse | None:
    """The answer of the page after signing in, when that page is the authorization endpoint
    and answers with a redirect (the code, or an error, for the service): given now, in the
    sign-in's own response, instead of a redirect to the endpoint that the browser would
    follow at once. Why: that was a whole request of its own (a round trip on a patron's
    phone, and a request's share of the server's work) in every sign-in to a service.

    The endpoint sees what it would have seen from the browser's next request: a GET of that
    very URL (`next`, checked by safe_next to be a path on this host), by the patron just
    signed in, with this session. Nothing is skipped: it validates the whole request as
    always. Any other answer (a page: an error page, the consent page) is discarded and the
    browser is sent to the endpoint as before, so that the page shows at its own address;
    such answers change nothing."""
    if not next_url:
        return None
    parts = urlsplit(next_url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.view_name not in IN_PLACE:
        return None
    inner = copy.copy(request)
    inner.method = "GET"
    inner.path = inner.path_info = parts.path
    inner.META = {
        **request.META,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
    }
    # A browser's GET after the redirect carries no body and (same origin) no Origin.
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_ORIGIN"):
        inner.META.pop(name, None)
    inner.GET = QueryDict(parts.query)
    inner.POST = QueryDict()
    inner._files = MultiValueDict()
    inner.resolver_match = match
    response = match.func(inner, *match.args, **match.kwargs)
    if response.status_code != 302:
        return None
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request)
    if request.method == "GET" and request.user.is_authenticated and not next_url:
        return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))

    form = LoginForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "next": next_url, "failed": False, "retry_after": None}
    status = 200
    if request.method == "POST" and form.is_valid():
        seen_device = device.read(request)

        def start_session(account) -> None:
            if request.user.is_authenticated and request.user.pk != account.pk:
                # Someone else was signed in here (a shared library computer): sign them
                # out properly, so the services they signed in to are told as well.
                auth.logout(request)
            auth.login(request, account)
            session.started(request.session, passkey=False)  # pops a passkey's "amr"
            request.session.save()  # inside the sign-in's transaction; not again at the end

        result = flow.sign_in(
            flow.Attempt(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
                user_agent=user_agent(request),
                device=seen_device,
            ),
            on_success=start_session,
        )
        if result.ok:
            response = continue_in_place(request, next_url) or HttpResponseRedirect(
                next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
            )
            # Remember the name as typed (a card number, say) as well as the username.
            typed = username_key(form.cleaned_data["username"])
            device.remember(response, seen_device, typed, result.account.username_key)
            return response
        if result.throttled:
            context["retry_after"] = result.retry_after
            status = 429
        else:
            context["failed"] = True
    response = render(request, "signin/login.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(context["retry_after"])
    return response


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation (a link or image must not sign anyone out); POST signs out."""
    if request.method == "POST":
        if request.user.is_authenticated:
            flow.record_logout(
                account=request.user, ip=client_ip(request), user_agent=user_agent(request)
            )
        auth.logout(request)
        return HttpResponseRedirect(reverse("signin:logged_out"))
    if not request.user.is_authenticated:
        return HttpResponseRedirect(reverse("signin:logged_out"))
    return render(request, "signin/logout_confirm.html")


@never_cache
@require_http_methods(["GET"])
def logged_out_view(request: HttpRequest) -> HttpResponse:
    return render(request, "signin/logged_out.html")


@require_http_methods(["GET"])
def help_view(request: HttpRequest) -> HttpResponse:
    """The patron's side of the helpdesk advice (the seed): what to try before calling."""
    return render(request, "signin/help.html")


# -- passkeys -------------------------------------------------------------------------------


def _passkey_failed() -> str:
    # One text for every refusal (unknown or removed passkey, bad signature, inactive
    # account): the answer must not tell whether an account or a passkey exists.
    return _(
        "Inloggen met deze passkey is niet gelukt. Log in met je gebruikersnaam en "
        "wachtwoord, of probeer een andere passkey."
    )


@csrf_protect
@never_cache
@require_POST
def passkey_begin(request: HttpRequest) -> JsonResponse:
    """The options for the browser's passkey dialogue; the challenge stays in the session."""
    return JsonResponse({"publicKey": passkey.begin(request)})


@csrf_protect
@never_cache
@require_POST
def passkey_login(request: HttpRequest) -> JsonResponse:
    """Check the browser's passkey answer and sign in as the password path does."""
    body = wa.posted(request)
    fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
    next_url = safe_next(request, fields.get("next", ""))
    seen_device = device.read(request)

    def start_session(account) -> None:
        if request.user.is_authenticated and request.user.pk != account.pk:
            auth.logout(request)  # as on the password path: a shared computer
        auth.login(request, account)
        session.started(request.session, passkey=True)  # "amr": ["hwk", "user"]
        request.session.save()

    result = passkey.sign_in(
        request,
        body.get("credential") if isinstance(body.get("credential"), dict) else {},
        ip=client_ip(request),
        user_agent=user_agent(request),
        on_success=start_session,
    )
    if result.ok:
        response = JsonResponse({"redirect": next_url or resolve_url(settings.LOGIN_REDIRECT_URL)})
        device.remember(response, seen_device, result.account.username_key)
        return response
    if result.throttled:
        response = JsonResponse(
            {
                "error": ngettext(
                    "Er is te vaak geprobeerd in te loggen. Probeer het over %(s)d seconde "
                    "opnieuw.",
                    "Er is te vaak geprobeerd in te loggen. Probeer het over %(s)d seconden "
                    "opnieuw.",
                    result.retry_after,
                )
                % {"s": result.retry_after}
            },
            status=429,
        )
        response["Retry-After"] = str(result.retry_after)
        return response
    return JsonResponse({"error": _passkey_failed()}, status=400)
