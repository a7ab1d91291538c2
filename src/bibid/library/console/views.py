"""The staff console's pages: thin; each parses, calls one operation, renders the answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bibid.common.http import client_ip
from bibid.common.mfa import flow as mfa_flow
from bibid.common.mfa import services as mfa
from bibid.common.mfa.models import Authenticator
from bibid.common.problems import Problem
from bibid.library import desk
from bibid.library.customers import selectors
from bibid.library.customers.services import CustomerData
from bibid.library.loginaccounts import menu
from bibid.library.loginaccounts import services as login
from bibid.library.loginaccounts.unconfirmed import open_calls
from bibid.library.staff import second_factor, signin, tokens
from bibid.library.staff.models import ApiToken, AuditEvent, Staff
from bibid.library.staff.permissions import Actor, can
from bibid.library.subscriptions.rights import current_membership, latest_membership

from .forms import (
    GenerateForm,
    LinkConfirmForm,
    LinkForm,
    MemberFormSet,
    RegistrationForm,
    SearchForm,
    StaffLoginForm,
    TokenForm,
)

RESULT_KEY = "console_result"


def _signed_in_fully(request: HttpRequest) -> HttpResponse | None:
    """None when the session is a staff member's who passed the second step; else the way
    to the sign-in. Defence in depth: the console signs in only after the second step, but
    a session signed in some other way (a bug elsewhere, a session made by a tool, one from
    before the second step existed) must not reach a page with a password alone; such a
    session is ended, not kept half-trusted."""
    if request.user.is_authenticated and not mfa_flow.is_verified(request):
        auth.logout(request)
    if not request.user.is_authenticated:
        # The whole address (a chart's ?case= too), encoded as Django's own login
        # redirect does: slashes kept, the query's ? and & escaped.
        return redirect_to_login(request.get_full_path(), reverse("console:login"))
    return None


def staff_required(view):
    """Signed in as staff of a library, second step passed; system operators without a
    library use the admin."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        refused = _signed_in_fully(request)
        if refused is not None:
            return refused
        user = request.user
        if user.library_id is None:
            return render(request, "bibid/error.html", {"status": 403}, status=403)
        request.actor = Actor(user, via="console")
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


# -- signing in and out -------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
        and target.startswith("/")
        and not target.startswith("//")
    ):
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
        result = signin.sign_in(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
        )
        if result.ok:
            # Not signed in yet: the password only opens the second step (bibid.common.mfa).
            mfa_flow.begin(request, result.staff, context["next"])
            return HttpResponseRedirect(reverse("console:mfa_second_step"))
        if result.reason == "throttled":
            context["retry_after"], status = result.retry_after, 429
        else:
            context["failed"] = True
    return render(request, "console/login.html", context, status=status)


def _pending_staff(request: HttpRequest):
    return mfa_flow.pending_user(request)


def _complete(request: HttpRequest, staff, method: str) -> str:
    """The second step succeeded: only now is the staff member signed in."""
    next_url = mfa_flow.pending_next(request)
    auth.login(request, staff)  # cycles the session key
    mfa_flow.mark_verified(request, staff)
    return next_url or reverse(settings.LOGIN_REDIRECT_URL)


def _verified_staff(request: HttpRequest):
    return request.user if mfa_flow.is_verified(request) else None


CONSOLE_FLOW = mfa_flow.Flow(
    scope="staff",
    base_template="console/base.html",
    namespace="console",
    issuer="Bibid bibliotheek",
    user=_pending_staff,
    complete=_complete,
    start_url=lambda request: reverse("console:login"),
    verified_user=_verified_staff,
)


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

# The Inlogaccount menu's items by URL slug, from the one table (loginaccounts.menu).
READS = {item.slug: item for item in menu.of_kind("read")}
ACTIONS = {item.slug: item for item in menu.of_kind("change")}
LINK_KEY = "console_link_requests"  # the open link request per card, while the patron confirms


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
        return {
            "ok": False,
            "action": action,
            "code": problem.code,
            "summary": problem.text((get_language() or "nl")[:2]),
            "data": {},
        }
    return {"ok": True, "action": outcome.action, "summary": outcome.summary, "data": outcome.data}


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
        family = [m for m in membership.subscription.memberships.all() if m.customer_id != found.pk]
    private = found.is_private and actor.staff.customer_id != found.pk
    # Every item of the table, each shown only to a role that may use it (the operation
    # checks again: hiding a button is a courtesy, not the rule).
    allowed = {item.key: can(actor, item.perm) for item in menu.entries()}
    return {
        "customer": found,
        "membership": membership,
        "family": family,
        "private": private,
        "result": result,
        "menu": {item.slug.replace("-", "_"): allowed[item.key] for item in menu.entries()},
        "reads": [item for item in menu.of_kind("read") if allowed[item.key]],
        "changes": [item for item in menu.of_kind("change") if allowed[item.key]],
        "generate_item": menu.by_key("generate"),
        "link_item": menu.by_key("link"),
        # Prefixes: two forms on one page must not share field ids (labels would point at
        # the wrong field).
        "generate_form": extra.get("generate_form") or GenerateForm(prefix="genereer"),
        "link_form": extra.get("link_form") or LinkForm(prefix="koppel"),
        "link_request": None if private else _link_request(request, found.card_number),
        # Always shown, for colleagues too: it says who did what and how it went, never
        # login data, and what a library saw once must not vanish when the kind changes.
        "audit": AuditEvent.objects.filter(customer=found).select_related("staff")[:10],
        # Changes the login service has not confirmed yet: staff see that they are being
        # checked (loginaccounts.unconfirmed), not a guess either way.
        "unconfirmed": list(open_calls(found)),
    }


def _link_request(request: HttpRequest, card_number: str) -> dict | None:
    return (request.session.get(LINK_KEY) or {}).get(card_number)


def _keep_link_request(request: HttpRequest, card_number: str, data: dict | None) -> None:
    requests = dict(request.session.get(LINK_KEY) or {})
    if data is None:
        requests.pop(card_number, None)
    else:
        requests[card_number] = data
    request.session[LINK_KEY] = requests


# A confirmation that failed for one of these leaves the request open: ask again.
RETRY_CONFIRM = {"wrong_code", "waiting_for_patron", "identity_unavailable", "identity_busy"}


@staff_required
@require_POST
def login_action(request: HttpRequest, card_number: str, action: str) -> HttpResponse:
    """One Inlogaccount menu item; the answer shows on the customer page (post, redirect,
    get), so that a reload does not repeat it and asking again always asks again."""
    try:
        found = _customer(request, card_number)
    except CustomerNotFound:
        return _not_found(request, card_number)
    item = menu.by_slug(action)
    if item is None:
        raise Http404
    language = (get_language() or "nl")[:2]
    anchor = "#resultaat"
    if item.key in ("generate", "link"):
        form_class, prefix = (
            (GenerateForm, "genereer") if item.key == "generate" else (LinkForm, "koppel")
        )
        form = form_class(request.POST, prefix=prefix)
        if not form.is_valid():
            extra = {"generate_form" if item.key == "generate" else "link_form": form}
            return render(
                request,
                "console/customer.html",
                _customer_context(request, found, None, **extra),
                status=400,
            )
        try:
            if item.key == "generate":
                outcome = login.generate(
                    actor=request.actor,
                    customer=found,
                    username=form.cleaned_data["username"] or None,
                    recovery_email=form.cleaned_data["recovery_email"] or None,
                    language=language,
                )
            else:
                outcome = login.link(
                    actor=request.actor,
                    customer=found,
                    username=form.cleaned_data["username"] or None,
                )
                # The step box (code, handover, "confirmed") is the answer: no result box.
                _keep_link_request(request, card_number, {**outcome.data, "error": ""})
                return HttpResponseRedirect(
                    reverse("console:customer", args=[card_number]) + "#koppelen"
                )
            result = _result(outcome)
        except Problem as problem:
            result = _result(problem=problem, action=action)
    elif item.key == "link_confirm":
        result, anchor = _confirm_link(request, found), "#koppelen"
    else:
        try:
            result = _result(item.operation(actor=request.actor, customer=found))
        except Problem as problem:
            result = _result(problem=problem, action=action)
        if item.kind == "read":
            result["show"] = action
    if result is not None:
        request.session[RESULT_KEY] = {**result, "card": card_number}
    return HttpResponseRedirect(reverse("console:customer", args=[card_number]) + anchor)


def _confirm_link(request: HttpRequest, found) -> dict | None:
    """Step 2 of Koppel inlogaccount. A wrong code keeps the request open with the error in
    the step itself (None: no separate result box); anything else ends the request."""
    form = LinkConfirmForm(request.POST)
    pending = _link_request(request, found.card_number) or {}
    if not form.is_valid():
        if pending:
            _keep_link_request(request, found.card_number, {**pending, "error": _form_errors(form)})
            return None
        return _result(
            problem=Problem(
                400,
                "invalid_request_id",
                gettext_lazy(
                    "Dit koppelverzoek bestaat niet; begin opnieuw met Koppel inlogaccount."
                ),
            ),
            action="koppelen",
        )
    code = "" if form.cleaned_data["without_code"] else form.cleaned_data["code"]
    try:
        outcome = login.confirm_link(
            actor=request.actor,
            customer=found,
            request_id=str(form.cleaned_data["request_id"]),
            code=code or None,
        )
    except Problem as problem:
        text = problem.text((get_language() or "nl")[:2])  # says the tries left itself
        if problem.code in RETRY_CONFIRM and pending:
            _keep_link_request(request, found.card_number, {**pending, "error": text})
            return None
        _keep_link_request(request, found.card_number, None)
        return _result(problem=problem, action="koppelen")
    _keep_link_request(request, found.card_number, None)
    return _result(outcome)


def _form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


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
            desk.NewMember(
                CustomerData(
                    name=m["name"], birth_date=m["birth_date"], email=m.get("email") or ""
                ),
                role=m["role"],
                login_account=m.get("login_account", False),
            )
            for m in members.cleaned_data
            if m.get("name")
        )
        try:
            done = desk.register(
                actor=request.actor,
                registration=desk.NewRegistration(
                    main=CustomerData(
                        name=c["name"],
                        birth_date=c["birth_date"],
                        email=c["email"] or "",
                        phone=c["phone"] or "",
                    ),
                    type=c["subscription_type"],
                    start=c["start"],
                    members=new_members,
                    login_account=c["login_account"],
                    username=c["username"] or None,
                    recovery_email=c["email"] or None,
                    activate_now=c["activate_now"],
                    language=(get_language() or "nl")[:2],
                ),
            )
        except Problem as problem:
            form.add_error(problem.field or None, problem.text((get_language() or "nl")[:2]))
        else:
            return render(request, "console/registered.html", {"done": done})
    return render(
        request,
        "console/register.html",
        {"form": form, "members": members},
        status=400 if request.method == "POST" else 200,
    )


# -- API tokens ---------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if "name" in request.POST else None, staff=request.user)
    created = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = ApiToken.objects.filter(
                pk=request.POST.get("revoke"), staff=request.user
            ).first()
            if token is not None:
                tokens.revoke_token(actor=request.actor, token=token)
            return HttpResponseRedirect(reverse("console:tokens"))
        if form.is_valid():
            try:
                created, _token = tokens.create_token(
                    actor=request.actor,
                    staff=request.user,
                    name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"] or None,
                    days=form.cleaned_data["days"] or tokens.DEFAULT_DAYS,
                )
            except Problem as problem:
                form.add_error(problem.field, problem.text((get_language() or "nl")[:2]))
            else:
                form = TokenForm(staff=request.user)
    return render(
        request,
        "console/tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": request.user.api_tokens.order_by("-created_at"),
        },
    )


# -- colleagues and their second step ------------------------------------------------------


def _manager_required(view):
    """A manager of a library (their own colleagues) or an operator (every staff member)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        refused = _signed_in_fully(request)
        if refused is not None:
            return refused
        user = request.user
        if not (user.is_superuser or (user.library_id and user.role == Staff.Role.MANAGER)):
            return render(request, "bibid/error.html", {"status": 403}, status=403)
        request.actor = Actor(user, via="console")
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


@dataclass(frozen=True)
class ColleagueRow:
    staff: Staff
    enrolled: bool
    recovery_left: int
    refusals_today: int
    blocked_until: datetime | None


@_manager_required
def staff_list(request: HttpRequest) -> HttpResponse:
    """Colleagues and their second step: set up or not, recovery codes left, refusals today
    (the audit trail) and a wait of the guard, so a colleague locked out is seen and helped."""
    colleagues = Staff.objects.select_related("library").order_by("library__name", "username")
    if not request.user.is_superuser:
        colleagues = colleagues.filter(library_id=request.user.library_id)
    colleagues = list(colleagues)
    enrolled = set(
        Authenticator.objects.filter(user__in=colleagues).values_list("user_id", flat=True)
    )
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    refusals = mfa.refusals_since(colleagues, midnight)
    codes = mfa.recovery_left_of(colleagues)
    rows = [
        ColleagueRow(
            staff=c,
            enrolled=c.pk in enrolled,
            recovery_left=codes.get(c.pk, 0),
            refusals_today=refusals.get(c.pk, 0),
            blocked_until=second_factor.block(c).blocked_until,
        )
        for c in colleagues
    ]
    return render(
        request,
        "console/staff.html",
        {
            "colleagues": rows,
            "reset": request.session.pop("console_staff_reset", None),
            "lifted": request.session.pop("console_staff_lifted", None),
        },
    )


def _colleague_or_404(request: HttpRequest, pk: int) -> Staff:
    try:
        return second_factor.colleague(request.actor, pk)
    except Problem as problem:
        if problem.status == 404:
            raise Http404 from problem
        raise


@_manager_required
@require_POST
def staff_reset_second_factor(request: HttpRequest, pk: int) -> HttpResponse:
    colleague = _colleague_or_404(request, pk)
    second_factor.reset_second_factor(actor=request.actor, staff=colleague)
    request.session["console_staff_reset"] = {
        "name": colleague.name,
        "email": colleague.email,
    }
    return HttpResponseRedirect(reverse("console:staff"))


@_manager_required
@require_POST
def staff_lift_second_factor_block(request: HttpRequest, pk: int) -> HttpResponse:
    colleague = _colleague_or_404(request, pk)
    outcome = second_factor.lift_block(actor=request.actor, staff=colleague)
    request.session["console_staff_lifted"] = {"name": colleague.name, "outcome": outcome}
    return HttpResponseRedirect(reverse("console:staff"))
