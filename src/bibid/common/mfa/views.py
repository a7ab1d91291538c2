"""The second step's pages, mounted by each service with its own Flow (bibid.common.mfa.flow):
"Tweede stap" (a code, a recovery code, or a security key), "Tweede stap instellen" (an
authenticator app by QR code or typed secret, or a security key) and the recovery codes,
shown once. Thin: each parses, calls one operation, renders the answer."""

from __future__ import annotations

import segno
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from bibid.common import clock, sealing
from bibid.common import webauthn as wa
from bibid.common.http import client_ip

from . import events, services
from .flow import CODES_ONCE, ENROL_SECRET, Flow
from .forms import CodeForm, EnrolForm
from .models import Authenticator

PURPOSE_SIGNIN = "mfa"
PURPOSE_ENROL = "mfa-enrol"


def _refused() -> str:
    # One answer for every refusal: a wrong code, a used one, a replayed one, an unknown key.
    return _("Dat lukte niet. Controleer de code of probeer het opnieuw.")


def _too_many(seconds: int) -> str:
    return _("Te veel mislukte pogingen. Probeer het over %(seconds)s seconden opnieuw.") % {
        "seconds": seconds
    }


def _throttled(response: HttpResponse, seconds: int) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(seconds)
    return response


def _done(request: HttpRequest, flow: Flow, user, method: str) -> str:
    """The second step succeeded: let the service sign in, and go on."""
    return flow.complete(request, user, method)


# -- the second step ----------------------------------------------------------------------


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def second_step(request: HttpRequest, flow: Flow) -> HttpResponse:
    user = flow.user(request)
    if user is None:
        return HttpResponseRedirect(flow.start_url(request))
    if not services.has_factor(user):
        return HttpResponseRedirect(reverse(flow.url("setup")))
    form = CodeForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "flow": flow, "error": "", "base_template": flow.base_template}
    if request.method == "POST" and form.is_valid():
        check = services.verify_code(
            user=user, code=form.cleaned_data["code"], scope=flow.scope, ip=client_ip(request)
        )
        if check.ok:
            return HttpResponseRedirect(_done(request, flow, user, check.method))
        if check.reason == "throttled":
            context["error"] = _too_many(check.retry_after)
            context["has_key"] = _has_key(user)
            return _throttled(render(request, "mfa/second_step.html", context), check.retry_after)
        context["error"] = _refused()
    context["has_key"] = _has_key(user)
    return render(request, "mfa/second_step.html", context)


def _has_key(user) -> bool:
    return Authenticator.objects.filter(user=user, kind=Authenticator.Kind.WEBAUTHN).exists()


@never_cache
@require_POST
def key_begin(request: HttpRequest, flow: Flow) -> JsonResponse:
    """Options for navigator.credentials.get(): only this user's keys (a second factor)."""
    user = flow.user(request)
    if user is None:
        return JsonResponse({"error": _refused()}, status=400)
    ids = [
        wa.from_b64url(a.credential_id)
        for a in Authenticator.objects.filter(user=user, kind=Authenticator.Kind.WEBAUTHN)
    ]
    if not ids:
        return JsonResponse({"error": _refused()}, status=400)
    # passkey=False: the password was the first factor; the key is "something you have".
    options = wa.begin_authentication(
        request, purpose=PURPOSE_SIGNIN, credential_ids=ids, passkey=False
    )
    return JsonResponse({"publicKey": options})


@never_cache
@require_POST
def key_finish(request: HttpRequest, flow: Flow) -> JsonResponse:
    user = flow.user(request)
    if user is None:
        return JsonResponse({"error": _refused()}, status=400)
    ip = client_ip(request)
    lanes = services.lanes(user=user, scope=flow.scope, ip=ip)
    denied = services.reserve(lanes)
    if denied is not None:
        wa.discard_challenge(request, purpose=PURPOSE_SIGNIN)
        check = services.Check(False, "throttled", "webauthn", denied.retry_after)
        services.finish(user=user, check=check, ip=ip)
        response = JsonResponse({"error": _too_many(denied.retry_after)})
        return _throttled(response, denied.retry_after)
    reason = "ok"
    try:
        assertion = wa.read_assertion(wa.posted(request).get("credential") or {})
        key = Authenticator.objects.filter(
            user=user,
            kind=Authenticator.Kind.WEBAUTHN,
            credential_id=wa.b64url(assertion.credential_id),
        ).first()
        if key is None:
            wa.discard_challenge(request, purpose=PURPOSE_SIGNIN)
            reason = "unknown_key"
        else:
            done = wa.finish_authentication(
                request,
                purpose=PURPOSE_SIGNIN,
                assertion=assertion,
                public_key=bytes(key.public_key),
                sign_count=key.sign_count,
            )
            Authenticator.objects.filter(pk=key.pk).update(
                sign_count=done.new_sign_count, last_used_at=clock.now()
            )
    except wa.WebAuthnError as error:
        wa.discard_challenge(request, purpose=PURPOSE_SIGNIN)
        reason = error.reason
    check = services.Check(reason == "ok", reason, "webauthn")
    services.settle(lanes, check.ok)
    services.finish(user=user, check=check, ip=ip)
    if not check.ok:
        return JsonResponse({"error": _refused()}, status=400)
    return JsonResponse({"redirect": _done(request, flow, user, "webauthn")})


# -- setting up the second step ------------------------------------------------------------


def _enrolling_user(request: HttpRequest, flow: Flow):
    """Who may add a factor here: a user without one (their first sign-in, right after the
    password), or one who completed the second step in this session (adding another)."""
    verified = flow.verified_user(request)
    if verified is not None:
        return verified, True
    user = flow.user(request)
    if user is not None and not services.has_factor(user):
        return user, False
    return None, False


def _qr_svg(uri: str) -> str:
    # segno writes the QR code as an SVG path (no script, no style attribute: fine under CSP).
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, title=_("QR-code"))


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest, flow: Flow) -> HttpResponse:
    user, adding = _enrolling_user(request, flow)
    if user is None:
        return HttpResponseRedirect(flow.start_url(request))
    sealed = request.session.get(ENROL_SECRET)
    secret = sealing.unseal(sealed) if sealed else ""
    if not secret:
        secret = services.new_totp_secret()
        # Sealed in the session too: a session table dump does not give the new secret.
        request.session[ENROL_SECRET] = sealing.seal(secret)
    form = EnrolForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        step = services.check_new_totp(secret, form.cleaned_data["code"])
        if step is not None:
            services.enrol_totp(user=user, secret=secret, step=step, name=_("Authenticator-app"))
            request.session.pop(ENROL_SECRET, None)
            return HttpResponseRedirect(_after_enrol(request, flow, user, adding, "totp"))
        events.record(user=user, action="enrol_refused", result="refused", detail={"kind": "totp"})
        error = _refused()
    uri = services.provisioning_uri(secret, account=user.get_username(), issuer=flow.issuer)
    return render(
        request,
        "mfa/setup.html",
        {
            "form": form,
            "flow": flow,
            "error": error,
            "qr": _qr_svg(uri),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "adding": adding,
            "reset": None if adding else services.last_reset(user),
            "base_template": flow.base_template,
        },
        status=400 if error else 200,
    )


def _after_enrol(request: HttpRequest, flow: Flow, user, adding: bool, kind: str) -> str:
    """A first factor: new recovery codes, shown once, and signed in (the factor was just
    proven). Another factor for someone signed in: back to their list."""
    if adding:
        return reverse(flow.url("manage"))
    request.session[CODES_ONCE] = services.new_recovery_codes(user=user)
    next_url = _done(request, flow, user, f"enrolled_{kind}")
    request.session[CODES_ONCE + "_next"] = next_url
    return reverse(flow.url("codes"))


def _handle(user) -> bytes:
    # An opaque, stable user handle (never the id or username, which the key would keep).
    return salted_hmac("bibid.mfa.user_handle", str(user.pk), algorithm="sha256").digest()[:32]


@never_cache
@require_POST
def key_register_begin(request: HttpRequest, flow: Flow) -> JsonResponse:
    user, _adding = _enrolling_user(request, flow)
    if user is None:
        return JsonResponse({"error": _refused()}, status=400)
    existing = [
        wa.from_b64url(a.credential_id)
        for a in Authenticator.objects.filter(user=user, kind=Authenticator.Kind.WEBAUTHN)
    ]
    options = wa.begin_registration(
        request,
        purpose=PURPOSE_ENROL,
        user_handle=_handle(user),
        user_name=user.get_username(),
        exclude_credential_ids=existing,
        passkey=False,
        rp_name=flow.issuer,
    )
    return JsonResponse({"publicKey": options})


@never_cache
@require_POST
def key_register_finish(request: HttpRequest, flow: Flow) -> JsonResponse:
    user, adding = _enrolling_user(request, flow)
    if user is None:
        return JsonResponse({"error": _refused()}, status=400)
    body = wa.posted(request)
    name = str((body.get("fields") or {}).get("name") or "").strip()[:100]
    try:
        registered = wa.finish_registration(
            request, purpose=PURPOSE_ENROL, credential=body.get("credential") or {}
        )
    except wa.WebAuthnError as error:
        events.record(
            user=user,
            action="enrol_refused",
            result="refused",
            detail={"kind": "webauthn", "reason": error.reason},
        )
        return JsonResponse({"error": _refused()}, status=400)
    Authenticator.objects.create(
        user=user,
        kind=Authenticator.Kind.WEBAUTHN,
        name=name or _("Beveiligingssleutel"),
        credential_id=wa.b64url(registered.credential_id),
        public_key=registered.public_key,
        sign_count=registered.sign_count,
        transports=registered.transports,
    )
    events.record(user=user, action="enrolled", result="ok", detail={"kind": "webauthn"})
    return JsonResponse({"redirect": _after_enrol(request, flow, user, adding, "webauthn")})


@never_cache
def recovery_codes(request: HttpRequest, flow: Flow) -> HttpResponse:
    """The new recovery codes, once: taken out of the session as they are shown."""
    user = flow.verified_user(request)
    if user is None:
        return HttpResponseRedirect(flow.start_url(request))
    codes = request.session.pop(CODES_ONCE, None)
    next_url = request.session.pop(CODES_ONCE + "_next", "") or reverse(flow.url("manage"))
    if not codes:
        return HttpResponseRedirect(next_url)
    return render(
        request,
        "mfa/recovery_codes.html",
        {"codes": codes, "next": next_url, "base_template": flow.base_template, "flow": flow},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, flow: Flow) -> HttpResponse:
    """One's own second factors: the list, another factor, new recovery codes."""
    user = flow.verified_user(request)
    if user is None:
        return HttpResponseRedirect(flow.start_url(request))
    if request.method == "POST" and "new_codes" in request.POST:
        request.session[CODES_ONCE] = services.new_recovery_codes(user=user)
        request.session[CODES_ONCE + "_next"] = reverse(flow.url("manage"))
        return HttpResponseRedirect(reverse(flow.url("codes")))
    return render(
        request,
        "mfa/manage.html",
        {
            "flow": flow,
            "factors": services.factors(user),
            "recovery_left": services.recovery_left(user),
            "base_template": flow.base_template,
        },
    )
