"""The staff console's pages: thin; each parses, calls one operation, renders the answer."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bibid.common.http import client_ip
from bibid.common.problems import Problem
from bibid.library import desk
from bibid.library.customers import selectors
from bibid.library.customers.services import CustomerData
from bibid.library.loginaccounts import services as login
from bibid.library.staff import signin, tokens
from bibid.library.staff.models import ApiToken, AuditEvent
from bibid.library.staff.permissions import Actor, Perm, can
from bibid.library.subscriptions.rights import current_membership, latest_membership

from .forms import (
    GenerateForm,
    LinkForm,
    MemberFormSet,
    RegistrationForm,
    SearchForm,
    StaffLoginForm,
    TokenForm,
)

RESULT_KEY = "console_result"


def staff_required(view):
    """Signed in as staff of a library; system operators without one use the admin."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            # The whole address (a chart's ?case= too), encoded as Django's own login
            # redirect does: slashes kept, the query's ? and & escaped.
            return redirect_to_login(request.get_full_path(), reverse("console:login"))
        if user.library_id is None:
            return render(request, "bibid/error.html", {"status": 403}, status=403)
        request.actor = Actor(user, via="console")
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


# -- signing in and out -------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()) \
            and target.startswith("/") and not target.startswith("//"):
        return target
    return ""


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = StaffLoginForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "next": _safe_next(request), "failed": False, "retry_after": None}
    status = 200
    if request.method == "POST" and form.is_valid():
        result = signin.sign_in(username=form.cleaned_data["username"],
                                password=form.cleaned_data["password"], ip=client_ip(request))
        if result.ok:
            auth.login(request, result.staff)
            return HttpResponseRedirect(context["next"] or reverse(settings.LOGIN_REDIRECT_URL))
        if result.reason == "throttled":
            context["retry_after"], status = result.retry_after, 429
        else:
            context["failed"] = True
    return render(request, "console/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    return HttpResponseRedirect(reverse("console:login"))


# -- finding customers --------------------------------------------------------------------


@staff_required
def home(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        results = selectors.search(request.user.library, form.cleaned_data["q"])
        if len(results) == 1 and results[0].card_number == form.cleaned_data["q"].strip():
            # A scanned card goes straight to the customer.
            return HttpResponseRedirect(reverse("console:customer", args=[results[0].card_number]))
    return render(request, "console/home.html", {"form": form, "results": results})


# -- the customer page with the Inlogaccount menu ------------------------------------------

READS = {
    "gegevens": (login.show, Perm.LOGIN_SHOW),
    "rechten": (login.rights, Perm.LOGIN_RIGHTS),
    "geschiedenis": (login.history, Perm.LOGIN_HISTORY),
}
ACTIONS = {
    "activeren": (login.activate, Perm.LOGIN_ACTIVATE),
    "autoriseren": (login.authorize, Perm.LOGIN_AUTHORIZE),
    "herstel-e-mail": (login.reset_recovery_email, Perm.LOGIN_RECOVERY_EMAIL),
    "wachtwoord-herstel": (login.send_password_reset, Perm.LOGIN_PASSWORD_RESET),
    "deblokkeren": (login.unblock, Perm.LOGIN_UNBLOCK),
    "ontkoppelen": (login.unlink, Perm.LOGIN_UNLINK),
}


class CustomerNotFound(Exception):
    pass


def _customer(request: HttpRequest, card_number: str):
    customer = selectors.by_card(request.user.library, card_number)
    if customer is None:
        raise CustomerNotFound
    return customer


def _not_found(request: HttpRequest, card_number: str) -> HttpResponse:
    """Another library's customer is no customer: said inside the console, menu and all."""
    return render(request, "console/not_found.html", {"card_number": card_number}, status=404)


def _result(outcome=None, problem: Problem | None = None, action: str = "") -> dict:
    if problem is not None:
        return {"ok": False, "action": action, "code": problem.code,
                "summary": problem.text((get_language() or "nl")[:2]), "data": {}}
    return {"ok": True, "action": outcome.action, "summary": outcome.summary,
            "data": outcome.data}


@staff_required
def customer(request: HttpRequest, card_number: str) -> HttpResponse:
    try:
        found = _customer(request, card_number)
    except CustomerNotFound:
        return _not_found(request, card_number)
    result = request.session.pop(RESULT_KEY, None)
    if result and result.get("card") != card_number:
        result = None
    return render(request, "console/customer.html", _customer_context(request, found, result))


def _customer_context(request: HttpRequest, found, result: dict | None, **extra) -> dict:
    actor = request.actor
    membership = current_membership(found) or latest_membership(found)
    family = []
    if membership is not None:
        family = [m for m in membership.subscription.memberships.all()
                  if m.customer_id != found.pk]
    private = found.is_private and actor.staff.customer_id != found.pk
    menu = {name.replace("-", "_"): can(actor, perm)
            for name, (_op, perm) in {**READS, **ACTIONS}.items()}
    menu["genereren"] = can(actor, Perm.LOGIN_GENERATE)
    menu["koppelen"] = can(actor, Perm.LOGIN_LINK)
    return {
        "customer": found, "membership": membership, "family": family, "private": private,
        "result": result, "menu": menu,
        # Prefixes: two forms on one page must not share field ids (labels would point at
        # the wrong field).
        "generate_form": extra.get("generate_form") or GenerateForm(prefix="genereer"),
        "link_form": extra.get("link_form") or LinkForm(prefix="koppel"),
        "audit": AuditEvent.objects.filter(customer=found).select_related("staff")[:10],
    }


@staff_required
@require_POST
def login_action(request: HttpRequest, card_number: str, action: str) -> HttpResponse:
    """One Inlogaccount menu item; the answer shows on the customer page (post, redirect,
    get), so that a reload does not repeat it and asking again always asks again."""
    try:
        found = _customer(request, card_number)
    except CustomerNotFound:
        return _not_found(request, card_number)
    language = (get_language() or "nl")[:2]
    if action in ("genereren", "koppelen"):
        form_class, prefix = ((GenerateForm, "genereer") if action == "genereren"
                              else (LinkForm, "koppel"))
        form = form_class(request.POST, prefix=prefix)
        if not form.is_valid():
            extra = {"generate_form" if action == "genereren" else "link_form": form}
            return render(request, "console/customer.html",
                          _customer_context(request, found, None, **extra), status=400)
        try:
            if action == "genereren":
                outcome = login.generate(
                    actor=request.actor, customer=found,
                    username=form.cleaned_data["username"] or None,
                    recovery_email=form.cleaned_data["recovery_email"] or None,
                    language=language)
            else:
                outcome = login.link(actor=request.actor, customer=found,
                                     username=form.cleaned_data["username"])
            result = _result(outcome)
        except Problem as problem:
            result = _result(problem=problem, action=action)
    elif action in ACTIONS or action in READS:
        operation, _perm = {**ACTIONS, **READS}[action]
        try:
            result = _result(operation(actor=request.actor, customer=found))
        except Problem as problem:
            result = _result(problem=problem, action=action)
        if action in READS:
            result["show"] = action
    else:
        raise Http404
    request.session[RESULT_KEY] = {**result, "card": card_number}
    return HttpResponseRedirect(reverse("console:customer", args=[card_number]) + "#resultaat")


# -- the desk: a new member ---------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    library = request.user.library
    data = request.POST if request.method == "POST" else None
    form = RegistrationForm(data, library=library)
    members = MemberFormSet(data, prefix="gezin")
    if request.method == "POST" and form.is_valid() and members.is_valid():
        c = form.cleaned_data
        new_members = tuple(
            desk.NewMember(CustomerData(name=m["name"], birth_date=m["birth_date"],
                                        email=m.get("email") or ""),
                           role=m["role"], login_account=m.get("login_account", False))
            for m in members.cleaned_data if m.get("name")
        )
        try:
            done = desk.register(actor=request.actor, registration=desk.NewRegistration(
                main=CustomerData(name=c["name"], birth_date=c["birth_date"],
                                  email=c["email"] or "", phone=c["phone"] or ""),
                type=c["subscription_type"], start=c["start"], members=new_members,
                login_account=c["login_account"], username=c["username"] or None,
                recovery_email=c["email"] or None, activate_now=c["activate_now"],
                language=(get_language() or "nl")[:2]))
        except Problem as problem:
            form.add_error(problem.field or None, problem.text((get_language() or "nl")[:2]))
        else:
            return render(request, "console/registered.html", {"done": done})
    return render(request, "console/register.html", {"form": form, "members": members},
                  status=400 if request.method == "POST" else 200)


# -- API tokens ---------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if "name" in request.POST else None)
    created = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = ApiToken.objects.filter(pk=request.POST.get("revoke"),
                                            staff=request.user).first()
            if token is not None:
                tokens.revoke_token(actor=request.actor, token=token)
            return HttpResponseRedirect(reverse("console:tokens"))
        if form.is_valid():
            created, _token = tokens.create_token(actor=request.actor, staff=request.user,
                                                  name=form.cleaned_data["name"])
            form = TokenForm()
    return render(request, "console/tokens.html", {
        "form": form, "created": created,
        "tokens": request.user.api_tokens.order_by("-created_at"),
    })


