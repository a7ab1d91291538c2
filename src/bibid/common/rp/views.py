"""The relying party's pages: sign in through identity, come back, sign out, and hear
from identity that a session ended. Mounted at the reading service's root, and under each
library's Mijn Menu (`mijn/<library>/`), one OpenID Connect client per library."""

from __future__ import annotations

import logging
import secrets

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import OAuthError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from joserfc.errors import JoseError

from bibid.common import clock

from . import backchannel, clients, services
from .models import SignIn
from .patron import client_kwargs, get_patron

log = logging.getLogger(__name__)
NEXT_KEY = "rp_next"


def _home(request: HttpRequest) -> str:
    library = client_kwargs(request).get("library")
    return f"/mijn/{library}/" if library else "/"


def _safe_next(request: HttpRequest, value: str) -> str:
    """Only a path on this service: an absolute URL, `//host`, `/\\host` or a scheme would
    make the sign-in an open redirect."""
    if (
        value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(value, allowed_hosts=set(), require_https=False)
        and "\\" not in value
        and not any(ord(ch) < 32 for ch in value)
    ):
        return value
    return _home(request)


def _problem(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    return render(
        request,
        "rp/problem.html",
        {
            "title": title,
            "text": text,
            "login": reverse("rp:login", kwargs=client_kwargs(request)),
            "home": _home(request),
        },
        status=status,
    )


@never_cache
@require_GET
def login(request: HttpRequest, **kwargs) -> HttpResponse:
    config = clients.for_request(request)
    request.session[f"{NEXT_KEY}:{config.key}"] = _safe_next(request, request.GET.get("next", ""))
    try:
        return clients.authlib_client(config).authorize_redirect(
            request, config.urls["redirect_uri"]
        )
    except requests.RequestException:
        log.exception("identity discovery failed")
        return _problem(
            request,
            503,
            _("De inlogdienst is even niet bereikbaar"),
            _("Probeer het over een paar minuten opnieuw."),
        )


@never_cache
@require_GET
def callback(request: HttpRequest, **kwargs) -> HttpResponse:
    config = clients.for_request(request)
    try:
        token = clients.authlib_client(config).authorize_access_token(request)
    except OAuthError as exc:
        # A wrong or replayed state, an error from identity, a refused code, a bad ID token
        # (signature, issuer, audience, nonce, expiry): nothing is signed in.
        log.info("sign-in refused: %s", exc.error)
        return _problem(
            request,
            400,
            _("Inloggen is niet gelukt"),
            _("De inlogpoging was verlopen of klopte niet. Begin opnieuw."),
        )
    except (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError) as exc:
        # An answer from identity that does not check out (the ID token's signature, issuer,
        # audience, nonce or expiry; a broken token response) or identity unreachable.
        log.warning("sign-in failed: %s", type(exc).__name__)
        return _problem(
            request,
            400,
            _("Inloggen is niet gelukt"),
            _("De inlogdienst gaf een antwoord dat niet klopte. Begin opnieuw."),
        )
    if "userinfo" not in token:
        return _problem(request, 400, _("Inloggen is niet gelukt"), _("Begin opnieuw."))
    next_url = request.session.pop(f"{NEXT_KEY}:{config.key}", "") or _home(request)
    services.start(request, config, token)
    return HttpResponseRedirect(_safe_next(request, next_url))


@never_cache
@require_POST
def logout(request: HttpRequest, **kwargs) -> HttpResponse:
    """Sign out here, then at identity (RP-initiated logout), which signs out every other
    service of that identity session through the back channel."""
    config = clients.for_request(request)
    tokens = services.end_here(request, "signed_out_here") or {}
    try:
        end_session = clients.authlib_client(config).load_server_metadata()["end_session_endpoint"]
    except (requests.RequestException, KeyError):
        return HttpResponseRedirect(reverse("rp:logged_out", kwargs=client_kwargs(request)))
    params = {
        "client_id": config.client_id,
        "post_logout_redirect_uri": config.urls["post_logout_redirect_uri"],
        "state": secrets.token_urlsafe(16),
    }
    if tokens.get("id_token"):
        params["id_token_hint"] = tokens["id_token"]
    return HttpResponseRedirect(f"{end_session}?{urlencode(params)}")


@never_cache
@require_GET
def logged_out(request: HttpRequest, **kwargs) -> HttpResponse:
    config = clients.for_request(request)
    return render(
        request,
        "rp/logged_out.html",
        {
            "service": config.name,
            "home": _home(request),
            "login": reverse("rp:login", kwargs=client_kwargs(request)),
            "signed_in": get_patron(request) is not None,
        },
    )


@never_cache
@require_GET
def logout_detected(request: HttpRequest, **kwargs) -> HttpResponse:
    """AUTHENTICATION.LOGOUT_DETECTED (the seed): the identity session ended under us."""
    config = clients.for_request(request)
    return render(
        request,
        "rp/logout_detected.html",
        {
            "service": config.name,
            "home": _home(request),
            "login": reverse("rp:login", kwargs=client_kwargs(request)),
        },
    )


@csrf_exempt  # identity posts it server to server; the signed token is the credential
@never_cache
@require_POST
def backchannel_logout(request: HttpRequest, **kwargs) -> HttpResponse:
    config = clients.for_request(request)
    try:
        claims = backchannel.validate(request.POST.get("logout_token", ""), config)
    except backchannel.InvalidLogoutToken as exc:
        log.info("logout token refused: %s", exc)
        return JsonResponse(
            {"error": "invalid_request", "error_description": "Invalid logout token."}, status=400
        )
    except requests.RequestException:
        return JsonResponse({"error": "temporarily_unavailable"}, status=503)
    # With a sid: that identity session only; with only a sub: every session of the patron.
    ended = SignIn.objects.filter(client_key=config.key, ended_at__isnull=True)
    if claims.get("sid"):
        ended = ended.filter(sid=claims["sid"])
    if claims.get("sub"):
        ended = ended.filter(sub=claims["sub"])
    ended.update(ended_at=clock.now(), end_reason="backchannel")
    return HttpResponse(status=200)
