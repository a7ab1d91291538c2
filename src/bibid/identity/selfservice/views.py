"""Self-service pages: thin; each parses a form, calls one operation, renders the answer."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from bibid.common import devices
from bibid.common.http import client_ip, network_of
from bibid.common.problems import Problem
from bibid.identity.accounts import tokens
from bibid.identity.libraries import patron as library_patron
from bibid.identity.libraries import selectors as library_selectors
from bibid.identity.libraries.selectors import flow_allowed
from bibid.identity.signin.selectors import recent_events

from . import presenting, services
from .forms import (
    ActivateForm,
    ChangeEmailForm,
    ChangePasswordForm,
    ChangeUsernameForm,
    ConfirmWithPassword,
    DeleteAccountForm,
    ForgotPasswordForm,
    ForgotUsernameForm,
    NewPasswordForm,
)

FLOWS = ("password_change", "email_change", "username_change", "account_delete")


def _language() -> str:
    return (get_language() or "nl")[:2]


def _show(form, problem: Problem) -> None:
    field = problem.field if problem.field in form.fields else None
    form.add_error(field, problem.text(_language()))


def _status(form, problem: Problem | None = None) -> int:
    """400 for a refused form; 429 when the refusal is a limit (so clients and tests can
    tell "wait" from "wrong")."""
    if problem is not None and problem.status == 429:
        return 429
    return 400 if form.errors else 200


def _bad_link(request, error: tokens.TokenError, *, status: int | None = None) -> HttpResponse:
    return render(
        request,
        "selfservice/bad_link.html",
        {"reason": error.reason},
        status=status or (410 if error.reason in ("expired", "used") else 400),
    )


# -- forgot password, forgot username -------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_password_reset(
            name=form.cleaned_data["name"], ip=client_ip(request), language=_language()
        )
        # The same page whether or not the name exists (and whether or not a mail went).
        return render(request, "selfservice/sent.html", {"what": "password"})
    return render(request, "selfservice/forgot_password.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def forgot_username(request: HttpRequest) -> HttpResponse:
    form = ForgotUsernameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_username_reminder(
            email=form.cleaned_data["email"], ip=client_ip(request), language=_language()
        )
        return render(request, "selfservice/sent.html", {"what": "username"})
    return render(request, "selfservice/forgot_username.html", {"form": form})


# -- links from e-mails ------------------------------------------------------------------


def _token_page(request, token: str, purpose, template: str, operation, done_title):
    try:
        account, _new = tokens.check(token, purpose)
    except tokens.TokenError as error:
        return render(
            request,
            "selfservice/bad_link.html",
            {"reason": error.reason},
            status=410 if error.reason in ("expired", "used") else 400,
        )
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = operation(token=token, password=form.cleaned_data["password"])
        except tokens.TokenError as error:  # used in another tab meanwhile
            return render(
                request, "selfservice/bad_link.html", {"reason": error.reason}, status=410
            )
        except Problem as problem:
            _show(form, problem)
        else:
            if request.user.is_authenticated and request.user.pk != account.pk:
                auth.logout(request)
            return render(
                request,
                "selfservice/done.html",
                {"title": done_title, "username": account.username},
            )
    return render(
        request, template, {"form": form, "account": account}, status=400 if form.errors else 200
    )


@sensitive_post_parameters("password", "password_again")
@never_cache
@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, token: str) -> HttpResponse:
    """Choose a password and, if the patron wants, a username: only here, after the link has
    proved the address, may anyone learn whether a name is taken (no sign-up oracle)."""
    try:
        account, _new = tokens.check(token, tokens.Purpose.ACTIVATION)
    except tokens.TokenError as error:
        return _bad_link(request, error)
    form = ActivateForm(
        request.POST or None,
        initial={"username": account.username},
        may_choose_username=flow_allowed(account, "username_change"),
    )
    problem = None
    if request.method == "POST" and form.is_valid():
        try:
            account = services.activate(
                token=token,
                password=form.cleaned_data["password"],
                username=form.cleaned_data.get("username") or None,
                ip=client_ip(request),
            )
        except tokens.TokenError as error:  # used in another tab meanwhile
            return _bad_link(request, error, status=410)
        except Problem as found:
            problem = found
            _show(form, problem)
        else:
            if request.user.is_authenticated and request.user.pk != account.pk:
                auth.logout(request)
            return render(
                request,
                "selfservice/done.html",
                {"title": _("Je inlogaccount is klaar"), "username": account.username},
            )
    return render(
        request,
        "selfservice/activate.html",
        {"form": form, "account": account},
        status=_status(form, problem),
    )


@sensitive_post_parameters("password", "password_again")
@never_cache
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, token: str) -> HttpResponse:
    return _token_page(
        request,
        token,
        tokens.Purpose.PASSWORD_RESET,
        "selfservice/reset.html",
        services.reset_password,
        _("Je nieuwe wachtwoord is ingesteld"),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: a mail scanner that opens links changes nothing."""
    try:
        account, new_email = tokens.check(token, tokens.Purpose.EMAIL_CHANGE)
    except tokens.TokenError as error:
        return render(
            request,
            "selfservice/bad_link.html",
            {"reason": error.reason},
            status=410 if error.reason in ("expired", "used") else 400,
        )
    if request.method == "POST":
        try:
            services.confirm_email_change(token=token)
        except tokens.TokenError as error:
            return render(
                request, "selfservice/bad_link.html", {"reason": error.reason}, status=410
            )
        return render(
            request,
            "selfservice/done.html",
            {"title": _("Je herstel-e-mailadres is bevestigd"), "username": account.username},
        )
    return render(
        request, "selfservice/confirm_email.html", {"account": account, "new_email": new_email}
    )


def _masked(address: str) -> str:
    """n•••@example.org: enough for the patron to recognise, no more for whoever holds the
    old mailbox now (the new address may be the patron's own, rightly set at the desk)."""
    local, _at, domain = (address or "").partition("@")
    return f"{local[:1]}•••@{domain}" if domain else ""


@never_cache
@require_http_methods(["GET", "POST"])
def not_me(request: HttpRequest, token: str) -> HttpResponse:
    """ "Dit was ik niet" (rule L3), from the notice to the previous recovery address.

    GET only shows what changed and one button: mail scanners open links, and opening must
    change nothing. POST (CSRF-protected like every form here) puts the previous address
    back and freezes library changes. No sign-in is asked: the link reached the previous,
    confirmed address, and whoever now holds the account may have changed the password.
    """
    try:
        account, change = library_patron.check_undo(token)
    except tokens.TokenError as error:
        return _bad_link(request, error)
    if request.method == "POST":
        try:
            account = library_patron.undo_library_change(token=token)
        except tokens.TokenError as error:  # used in another tab meanwhile
            return _bad_link(request, error, status=410)
        return render(request, "selfservice/not_me_done.html", {"account": account})
    return render(
        request,
        "selfservice/not_me.html",
        {"account": account, "change": change, "new_email": _masked(account.recovery_email)},
    )


# -- Mijn inlogaccount -------------------------------------------------------------------


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    account = request.user
    events = recent_events(account.pk, limit=10)
    here = network_of(client_ip(request))
    for event in events:
        # Words, never the raw browser string or an address block: "Firefox op Windows", and
        # "hier" when it came from the network the patron is on now (a place they recognise;
        # we know no other place without sending addresses to a location service).
        event.device = devices.describe(event.user_agent)
        event.here = here is not None and network_of(event.ip) == here
    links = library_selectors.links_for_patron(account)
    for link in links:
        link.rights_today = presenting.rights_today(link.rights)
    return render(
        request,
        "selfservice/home.html",
        {
            "account": account,
            "events": events,
            "flows": {flow: flow_allowed(account, flow) for flow in FLOWS},
            "links": links,
            "library_actions": presenting.describe_actions(
                library_selectors.library_actions(account, limit=50)
            ),
            "frozen": account.library_changes_frozen_at is not None,
            "lift_form": ConfirmWithPassword(
                needs_password=not services.recently_signed_in(account)
            ),
        },
    )


def _confirmed_by_password(request, form) -> bool:
    """The form is valid and, when the sign-in is not recent, the password was right (the
    same rule as the settings pages: a browser left open must not be enough)."""
    if not form.is_valid():
        return False
    if form.needs_password:
        try:
            services.check_password(request.user, form.cleaned_data["current_password"])
        except Problem as problem:
            _show(form, problem)
            form.problem = problem
            return False
    return True


@sensitive_post_parameters("current_password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def withdraw_link(request: HttpRequest, link_id: int) -> HttpResponse:
    """ "Koppeling intrekken" (rule L7). GET shows what it means and changes nothing; only a
    POST (CSRF-protected) with the password, if asked, withdraws. Only the patron's own link
    can be named: any other id is a 404, the same as one that does not exist."""
    account = request.user
    link = next(
        (found for found in library_selectors.links_for_patron(account) if found.pk == link_id),
        None,
    )
    if link is None:
        raise Http404
    # Bound on every POST, even an empty one (a form with only a password field).
    form = ConfirmWithPassword(
        request.POST if request.method == "POST" else None,
        needs_password=not services.recently_signed_in(account),
    )
    if request.method == "POST" and _confirmed_by_password(request, form):
        try:
            library_patron.withdraw_link(account=account, link_id=link_id)
        except Problem as problem:
            if problem.status == 404:  # withdrawn in another tab meanwhile
                raise Http404 from None
            raise
        messages.success(
            request,
            _("De koppeling met %(library)s is ingetrokken.") % {"library": link.library.name},
        )
        return HttpResponseRedirect(reverse("selfservice:home"))
    return render(
        request,
        "selfservice/withdraw_link.html",
        {"form": form, "link": link, "account": account},
        status=_status(form, getattr(form, "problem", None)),
    )


@sensitive_post_parameters("current_password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def lift_freeze(request: HttpRequest) -> HttpResponse:
    """Allow libraries to change the account again, after "Dit was ik niet". A POST with
    the password, if asked: whoever finds a signed-in browser must not undo the freeze."""
    account = request.user
    # Bound on every POST, even an empty one (a form with only a password field).
    form = ConfirmWithPassword(
        request.POST if request.method == "POST" else None,
        needs_password=not services.recently_signed_in(account),
    )
    if request.method == "POST" and _confirmed_by_password(request, form):
        library_patron.lift_freeze(account=account)
        messages.success(request, _("Bibliotheken kunnen je inlogaccount weer wijzigen."))
        return HttpResponseRedirect(reverse("selfservice:home"))
    return render(
        request,
        "selfservice/lift_freeze.html",
        {"form": form, "account": account, "frozen": account.library_changes_frozen_at is not None},
        status=_status(form, getattr(form, "problem", None)),
    )


def _settings_page(request, flow: str, form_class, template: str, run, *, password: bool):
    account = request.user
    try:
        services.require_flow(account, flow)
    except Problem:
        raise Http404 from None
    needs = password and not services.recently_signed_in(account)
    form = form_class(request.POST or None, **({"needs_password": needs} if password else {}))
    problem = None
    if request.method == "POST" and form.is_valid():
        try:
            if needs:
                services.check_password(account, form.cleaned_data["current_password"])
            message = run(account, form.cleaned_data)
        except Problem as found:
            problem = found
            _show(form, problem)
        else:
            messages.success(request, message)
            return HttpResponseRedirect(reverse("selfservice:home"))
    return render(
        request, template, {"form": form, "account": account}, status=_status(form, problem)
    )


@sensitive_post_parameters("current_password", "password", "password_again")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_password(request: HttpRequest) -> HttpResponse:
    def run(account, data):
        services.change_password(
            account=account,
            current=data["current_password"],
            new=data["password"],
            keep_sid=request.session.get("oidc_sid", ""),
        )
        # This browser stays signed in; every other session ends (their hash is stale).
        auth.update_session_auth_hash(request, account)
        return _("Je wachtwoord is gewijzigd. Op andere apparaten ben je uitgelogd.")

    return _settings_page(
        request,
        "password_change",
        ChangePasswordForm,
        "selfservice/change_password.html",
        run,
        password=False,
    )


@sensitive_post_parameters("current_password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_email(request: HttpRequest) -> HttpResponse:
    def run(account, data):
        services.request_email_change(
            account=account, new_email=data["email"], language=_language()
        )
        return _(
            "We hebben een bevestigingslink gestuurd naar %(email)s. Je herstel-e-mailadres "
            "verandert pas als je die link gebruikt."
        ) % {"email": data["email"]}

    return _settings_page(
        request,
        "email_change",
        ChangeEmailForm,
        "selfservice/change_email.html",
        run,
        password=True,
    )


@sensitive_post_parameters("current_password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_username(request: HttpRequest) -> HttpResponse:
    def run(account, data):
        services.change_username(
            account=account, new_username=data["username"], ip=client_ip(request)
        )
        return _("Je gebruikersnaam is nu %(name)s.") % {"name": account.username}

    return _settings_page(
        request,
        "username_change",
        ChangeUsernameForm,
        "selfservice/change_username.html",
        run,
        password=True,
    )


@sensitive_post_parameters("current_password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    account = request.user
    try:
        services.require_flow(account, "account_delete")
    except Problem:
        raise Http404 from None
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_account(account=account, password=form.cleaned_data["current_password"])
        except Problem as problem:
            _show(form, problem)
        else:
            auth.logout(request)
            return render(request, "selfservice/deleted.html")
    return render(
        request,
        "selfservice/delete_account.html",
        {"form": form, "account": account},
        status=400 if form.errors else 200,
    )


# -- the dev mailbox (demo and development only) --------------------------------------------


def _dev_only() -> None:
    if not (settings.DEBUG or settings.BIBID_DEMO):
        raise Http404


@never_cache
def dev_mailbox(request: HttpRequest) -> HttpResponse:
    _dev_only()
    from bibid.identity.mail.models import DevMessage

    return render(
        request, "selfservice/dev_mailbox.html", {"messages_": DevMessage.objects.all()[:50]}
    )


@never_cache
def dev_message(request: HttpRequest, pk: int) -> HttpResponse:
    _dev_only()
    from bibid.identity.mail.models import DevMessage

    message = DevMessage.objects.filter(pk=pk).first()
    if message is None:
        raise Http404
    return render(request, "selfservice/dev_message.html", {"message": message})
