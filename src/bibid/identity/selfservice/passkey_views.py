"""Mijn inlogaccount, passkeys: list, add (a WebAuthn ceremony), rename and remove."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bibid.common import clock
from bibid.common import webauthn as wa
from bibid.common.problems import Problem
from bibid.identity.passkeys import selectors as passkeys
from bibid.identity.passkeys import services as passkey_services
from bibid.identity.signin import session as signin_session

from . import services
from .forms import ConfirmWithPassword, PasskeyNameForm

PURPOSE = "passkey-enrol"
# Adding a passkey adds a way in that needs no password, for as long as the passkey lives.
# Whoever finds a signed-in browser (a library computer left open) must not be able to add
# their own and keep access after the patron changed the password, so adding asks for a
# sign-in in this very session within these minutes, or the password again.
RECENT = timedelta(minutes=5)


def _recent(request: HttpRequest) -> bool:
    return signin_session.signed_in_within(request.session, RECENT)


def _language() -> str:
    return (get_language() or "nl")[:2]


def _page(request, *, confirm=None, name_form=None, status=200) -> HttpResponse:
    account = request.user
    recent = _recent(request)
    return render(
        request,
        "selfservice/passkeys.html",
        {
            "account": account,
            "passkeys": passkeys.passkeys_for(account),
            "recent": recent,
            "confirm_form": confirm or ConfirmWithPassword(needs_password=True),
            "name_form": name_form or PasskeyNameForm(),
            "max_passkeys": passkey_services.MAX_PER_ACCOUNT,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET"])
def passkeys_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@sensitive_post_parameters("current_password")
@never_cache
@login_required
@require_POST
def confirm(request: HttpRequest) -> HttpResponse:
    """The password again, to add a passkey: under the sign-in page's guessing limits."""
    form = ConfirmWithPassword(request.POST, needs_password=True)
    if form.is_valid():
        try:
            services.check_password(request.user, form.cleaned_data["current_password"])
        except Problem as problem:
            form.add_error("current_password", problem.text(_language()))
            return _page(request, confirm=form, status=429 if problem.status == 429 else 400)
        # Counts as a fresh sign-in of this session for RECENT (not for "amr": how the
        # session signed in does not change).
        request.session[signin_session.SIGNED_IN_AT] = clock.now().timestamp()
        return HttpResponseRedirect(reverse("selfservice:passkeys") + "#toevoegen")
    return _page(request, confirm=form, status=400)


def _fields(body: dict) -> dict:
    fields = body.get("fields")
    return fields if isinstance(fields, dict) else {}


def _refused(text: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": text}, status=status)


def _not_recent() -> JsonResponse:
    return _refused(
        _("Log opnieuw in of vul je wachtwoord in om een passkey toe te voegen."), status=403
    )


@never_cache
@login_required
@require_POST
def add_begin(request: HttpRequest) -> JsonResponse:
    """Creation options for the browser; the challenge stays in the session."""
    if not _recent(request):
        return _not_recent()
    account = request.user
    try:
        passkey_services.clean_name(str(_fields(wa.posted(request)).get("name", "")))
    except Problem as problem:
        return _refused(problem.text(_language()))
    options = wa.begin_registration(
        request,
        purpose=PURPOSE,
        user_handle=passkey_services.user_handle(account),
        user_name=account.username,
        user_display_name=account.username,
        exclude_credential_ids=[
            wa.from_b64url(p.credential_id) for p in passkeys.passkeys_for(account)
        ],
        passkey=True,
    )
    return JsonResponse({"publicKey": options})


@never_cache
@login_required
@require_POST
def add(request: HttpRequest) -> JsonResponse:
    """Verify the new passkey and store it under the name the patron gave."""
    if not _recent(request):
        wa.discard_challenge(request, purpose=PURPOSE)
        return _not_recent()
    body = wa.posted(request)
    credential = body.get("credential")
    try:
        registered = wa.finish_registration(
            request, purpose=PURPOSE, credential=credential if isinstance(credential, dict) else {}
        )
    except wa.WebAuthnError:
        return _refused(_("De passkey kon niet worden toegevoegd. Probeer het opnieuw."))
    try:
        passkey = passkey_services.add_passkey(
            account=request.user,
            registered=registered,
            name=str(_fields(body).get("name", "")),
        )
    except Problem as problem:
        return _refused(problem.text(_language()))
    messages.success(request, _("De passkey '%(name)s' is toegevoegd.") % {"name": passkey.name})
    return JsonResponse({"redirect": reverse("selfservice:passkeys")})


@never_cache
@login_required
@require_POST
def rename(request: HttpRequest, passkey_id: int) -> HttpResponse:
    form = PasskeyNameForm(request.POST)
    if form.is_valid():
        try:
            passkey_services.rename_passkey(
                account=request.user, passkey_id=passkey_id, name=form.cleaned_data["name"]
            )
        except Problem as problem:
            if problem.status == 404:
                raise Http404 from None
            messages.error(request, problem.text(_language()))
        else:
            messages.success(request, _("De naam is gewijzigd."))
    else:
        messages.error(request, _("Geef de passkey een naam van hoogstens 64 tekens."))
    return HttpResponseRedirect(reverse("selfservice:passkeys"))


@never_cache
@login_required
@require_POST
def remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    """Remove one passkey. No password asked: removing takes a way in away, it gives none,
    and the patron is told by e-mail."""
    try:
        name = passkey_services.remove_passkey(account=request.user, passkey_id=passkey_id)
    except Problem as problem:
        if problem.status == 404:
            raise Http404 from None
        raise
    messages.success(request, _("De passkey '%(name)s' is verwijderd.") % {"name": name})
    return HttpResponseRedirect(reverse("selfservice:passkeys"))
