"""OpenID Connect endpoints Bibid adds to or changes in django-oauth-toolkit's."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib.auth.hashers import check_password
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from oauth2_provider.exceptions import (
    InvalidOIDCClientError,
    InvalidOIDCRedirectURIError,
    OAuthToolkitError,
)
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import AuthorizationView as DotAuthorizationView
from oauth2_provider.views import TokenView as DotTokenView
from oauth2_provider.views.oidc import ConnectDiscoveryInfoView, RPInitiatedLogoutView

from bibid.common import clock
from bibid.common.http import client_ip, user_agent
from bibid.common.problems import Problem, problem_response
from bibid.identity.accounts.models import Account
from bibid.identity.signin import flow

from . import claims, clients, events, sessions, support
from .models import Client, ServiceSession


class DiscoveryView(ConnectDiscoveryInfoView):
    """DOT's discovery document, made to say exactly what this provider does.

    OpenID Connect Discovery 1.0, 3 gives several fields a default that claims support
    (grant_types_supported: authorization_code and implicit; response_modes_supported:
    query and fragment; request_uri_parameter_supported: true), so a field left out is a
    promise too: each of those is stated. The values come from `support`, the table the
    authorization endpoint refuses by."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["grant_types_supported"] = support.GRANT_TYPES
        data["response_modes_supported"] = support.RESPONSE_MODES
        data["prompt_values_supported"] = support.PROMPT_VALUES
        data["code_challenge_methods_supported"] = ["S256"]
        # Every service is registered with RS256 (register_service); DOT also lists HS256,
        # which needs the client secret in clear, and ours are stored hashed.
        data["id_token_signing_alg_values_supported"] = ["RS256"]
        data["request_parameter_supported"] = False
        data["request_uri_parameter_supported"] = False
        # The `claims` request parameter is accepted but not honoured: claims follow the
        # granted scopes only (claims.py).
        data["claims_parameter_supported"] = False
        # How the patron signed in, in the ID token (claims.py; issue 17).
        data["acr_values_supported"] = claims.ACR_VALUES
        data["backchannel_logout_supported"] = True
        data["backchannel_logout_session_supported"] = True
        # RFC 7009 token revocation, served at o/revoke_token/ (RFC 8414 metadata names).
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        data["revocation_endpoint_auth_methods_supported"] = data[
            "token_endpoint_auth_methods_supported"
        ]
        response.content = json.dumps(data).encode()
        return response


class AuthorizationView(DotAuthorizationView):
    """DOT's authorization endpoint; every redirect back to a client carries `iss`, error
    responses too (RFC 9207 2: a client must be able to tell which server answered)."""

    def get(self, request, *args, **kwargs):
        # OIDC Core 3.1.2.1: with max_age the patron must have signed in (typed the password)
        # at most that many seconds ago, or sign in again; DOT ignores max_age. A service asks
        # this before something sensitive, so "signed in this morning" must not pass for
        # "just now". Treated as prompt=login, which DOT handles once the request is valid.
        # A max_age that is not a whole number of seconds (at most ten digits, so that int()
        # never meets a giant) is ignored, as if absent: the spec defines no error for it,
        # and a broken service should not lock patrons out.
        max_age = request.GET.get("max_age", "")
        if (
            max_age.isascii()
            and max_age.isdigit()
            and len(max_age) <= 10
            and self._signed_in_before(int(max_age))
        ):
            if "none" in request.GET.get("prompt", "").split():
                # The service asked not to show a page: answer login_required (DOT's
                # not-signed-in answer, which checks client and redirect URI first).
                return self.handle_no_permission()
            query = request.GET.copy()
            query["prompt"] = " ".join({*query.get("prompt", "").split(), "login"})
            request.GET = query
        return self._authorize(request, *args, **kwargs)

    def _authorize(self, request, *args, **kwargs):
        """DOT's `get` for the usual case, validated once: a registered service (they all
        skip the consent page) gets its code from oauthlib's create_authorization_response,
        which validates the whole request itself (DOT's `get` validates first, then
        oauthlib validates again while answering). Errors take DOT's error_response as
        before: a bad client or redirect URI the error page, anything else a redirect with
        the error and the state. Everything else (prompt=login, resource indicators, a
        client with a consent page) takes DOT's own way."""
        prompt = set(request.GET.get("prompt", "").split())
        if (
            prompt & {"login", "create"}
            or "resource" in request.GET
            # Refused with the defined error, in the query (oauthlib would put it where
            # the asked response_mode says): DOT's way, as before.
            or support.asks_for_unsupported(request.GET)
        ):
            return super().get(request, *args, **kwargs)
        found = clients.entry(request.GET.get("client_id", ""))
        if found is None or not found.application.skip_authorization:
            return super().get(request, *args, **kwargs)  # unknown: DOT's error page
        application = copy.copy(found.application)
        credentials = {"redirect_uri": request.GET.get("redirect_uri")}
        scopes = request.GET.get("scope", "")
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=scopes, credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        return self.redirect(uri, application)

    def handle_no_permission(self):
        # A request this provider will refuse (a request object, prompt=consent, ...) is
        # answered at once, not after the patron has signed in for nothing. The check needs
        # no signed-in patron; the error goes to the service only when the client and its
        # redirect URI are valid (DOT's error_response), else the error page.
        if support.asks_for_unsupported(self.request.GET):
            try:
                self.validate_authorization_request(self.request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
        return super().handle_no_permission()

    def _signed_in_before(self, seconds: int) -> bool:
        last = self.request.user.last_login
        return last is None or (clock.now() - last).total_seconds() > seconds

    def handle_prompt_login(self):
        """To the sign-in page (which shows its form to a signed-in patron when there is a
        `next`), and back here without prompt=login or max_age: the fresh sign-in has met
        them, and asking again would loop (max_age=0 is never met a second later). The
        ID token's auth_time tells the service when the patron signed in."""
        query = self.request.GET.copy()
        for name in ("prompt", "max_age"):
            query.pop(name, None)
        rest = " ".join(p for p in self.request.GET.get("prompt", "").split() if p != "login")
        if rest:
            query["prompt"] = rest
        return redirect_to_login(
            f"{self.request.path}?{query.urlencode()}",
            resolve_url(self.get_login_url()),
            self.get_redirect_field_name(),
        )

    def redirect(self, redirect_to, application):
        parts = urlsplit(redirect_to)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if parts.scheme in ("http", "https") and not any(k == "iss" for k, _v in params):
            params.append(("iss", oauth2_settings.oidc_issuer(self.request)))
            redirect_to = urlunsplit(parts._replace(query=urlencode(params)))
        return super().redirect(redirect_to, application)


class TokenView(DotTokenView):
    """DOT's token endpoint, without reading back the access token it has just written
    (DOT does, only to send `app_authorized`, which nothing here listens to; with a
    listener it is read as DOT does)."""

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request, *args, **kwargs):
        _url, headers, body, status = self.create_token_response(request)
        if status == 200 and app_authorized.has_listeners():
            access_token = json.loads(body).get("access_token")
            if access_token is not None:
                checksum = hashlib.sha256(access_token.encode()).hexdigest()
                token = get_access_token_model().objects.get(token_checksum=checksum)
                app_authorized.send(sender=self, request=request, token=token)
        # JSON also when oauthlib's error came as an exception (a code used up by a
        # concurrent exchange or a sign-out), whose headers name no content type.
        response = HttpResponse(content=body, status=status, content_type="application/json")
        for key, value in headers.items():
            response[key] = value
        return response


class LogoutView(RPInitiatedLogoutView):
    """RP-initiated logout with exact post-logout redirect matching and our own records.

    DOT's view is exempt from CSRF protection; this one is not (a new `dispatch` without
    the exemption): the confirmation form carries a token, so another site cannot post it.
    """

    def dispatch(self, request, *args, **kwargs):
        self.hint_sid = ""
        return super().dispatch(request, *args, **kwargs)

    def validate_logout_request_user(self, id_token_hint, client_id):
        id_token = super().validate_logout_request_user(id_token_hint, client_id)
        if id_token is not None:
            # DOT has just checked the hint's signature and claims; only its sid is read here.
            payload = id_token_hint.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            self.hint_sid = str(claims.get("sid", ""))
        return id_token

    def must_prompt(self, token_user):
        # RP-Initiated Logout 1.0, 2: the OP MUST ask when the ID token "does not belong to
        # the current OP session with the RP". DOT only compares the user, so a hint from
        # the same patron's other browser (an old tab, a shared PC's service) signed this
        # browser out without a word. The sid says which browser the token came from.
        if not self.request.user.is_authenticated:
            return False  # nothing to sign out of here (DOT's rule)
        if super().must_prompt(token_user):
            return True
        return not self.hint_sid or self.hint_sid != sessions.current_sid(self.request)

    def validate_post_logout_redirect_uri(self, application, post_logout_redirect_uri):
        if not post_logout_redirect_uri:
            return
        if not application:
            raise InvalidOIDCClientError()
        # One exact string comparison with the registered list, as for redirect URIs.
        if post_logout_redirect_uri not in application.post_logout_redirect_uris.split():
            raise InvalidOIDCRedirectURIError(
                "This client does not have this redirect uri registered."
            )

    def do_logout(
        self, application=None, post_logout_redirect_uri=None, state=None, token_user=None
    ):
        if self.request.user.is_authenticated:
            flow.record_logout(
                account=self.request.user,
                ip=client_ip(self.request),
                user_agent=user_agent(self.request),
            )
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)


def _client_from_basic_auth(request: HttpRequest):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _sep, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    application = get_application_model().objects.filter(client_id=client_id).first()
    # Secrets are long and random: the fast hash is enough, and compared in constant time.
    if application is None or not check_password(secret, application.client_secret):
        return None
    return application


@csrf_exempt  # called by services with their client credentials, not by browsers
@never_cache
@require_POST
def service_event(request: HttpRequest) -> HttpResponse:
    """A service reports what happened to a patron, for the helpdesk's login history:
    `logout_detected` (Mijn Menu noticed the identity session had ended) or
    `rights_missing` (the Online Bibliotheek refused a loan for lack of a right).

    Only about patrons who signed in to that very service: a service cannot write into the
    history of accounts it never saw."""
    application = _client_from_basic_auth(request)
    if application is None or not Client.objects.filter(application=application).exists():
        response = problem_response(
            Problem(401, "invalid_client", _("Onbekende dienst of onjuist geheim."))
        )
        response["WWW-Authenticate"] = 'Basic realm="bibid"'
        return response
    try:
        body = json.loads(request.body or b"{}")
        report = events.Report.parse(body)
    except (ValueError, TypeError, KeyError) as exc:
        return problem_response(Problem(400, "invalid_event", str(exc)))
    account = Account.objects.filter(public_id=report.sub).first() if report.sub_ok else None
    if (
        account is None
        or not ServiceSession.objects.filter(account=account, application=application).exists()
    ):
        return problem_response(
            Problem(404, "unknown_patron", _("Deze patron heeft bij deze dienst niet ingelogd."))
        )
    events.record(account=account, application=application, report=report)
    return JsonResponse({"recorded": True}, status=202)
