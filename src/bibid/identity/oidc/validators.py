"""django-oauth-toolkit's validator, with Bibid's rules for signing in to services.

- Redirect URIs are compared as exact strings with the registered ones. DOT's own matcher
  parses URIs and relaxes loopback ports and host case (RFC 8252); one exact comparison
  leaves no parser differential for `..;/`, `@`, case or look-alike tricks to exploit.
- Every authorization belongs to the identity session (`sid`) it was given in; the tokens
  it yields carry that session (as their refresh-token family), so ending the session
  revokes them, and a refresh after the identity session ended is refused.
- A code is used once (RFC 6749 4.1.2): presented again by its service, it is refused and
  the tokens it yielded are revoked (its service session ends).
- Claims follow the granted scopes; `sub` is the account's public id.
"""

from __future__ import annotations

from django.db import transaction
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from bibid.common import clock

from . import claims, sessions
from .models import Client, IssuedCode, ServiceSession


def exact_redirect_allowed(application, uri: str) -> bool:
    return bool(uri) and uri in application.redirect_uris.split()


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, **claims.CLAIM_SCOPES}

    # -- disabled services ----------------------------------------------------------------

    def _load_application(self, client_id, request):
        # Every client lookup (authorization, token, refresh) passes here: a service an
        # operator disabled (register_service --disable) is no client at all, as if unknown.
        application = super()._load_application(client_id, request)
        if application is None or getattr(request, "_bibid_active_client", None) == application.pk:
            return application
        if Client.objects.filter(application=application, active=False).exists():
            request.client = None
            return None
        request._bibid_active_client = application.pk  # checked once per request
        return application

    # -- redirect URIs --------------------------------------------------------------------

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return exact_redirect_allowed(request.client, redirect_uri)

    # -- prompt=none -----------------------------------------------------------------------

    def validate_silent_login(self, request) -> bool:
        # The authorization view lets only signed-in patrons this far; a patron who is not
        # signed in gets `login_required` from DOT before any validation.
        return True

    def validate_silent_authorization(self, request) -> bool:
        # Every registered service skips the consent page (they are the libraries' own).
        return bool(request.client and request.client.skip_authorization)

    # -- the identity session behind each authorization -----------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        with transaction.atomic():
            grant = self._create_authorization_code(request, code)
            session = sessions.join(
                sid=request.sid,
                account=request.user,
                application=request.client,
                expires_at=request.session_expires_at,
            )
            IssuedCode.objects.create(
                code_hash=IssuedCode.hash(code["code"]), session=session, grant=grant
            )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            # A code already exchanged, presented again: refused (invalid_grant), and what
            # it yielded is revoked.
            sessions.end_for_replayed_code(code=code, application=client)
            return False
        issued = (
            IssuedCode.objects.filter(code_hash=IssuedCode.hash(code), session__application=client)
            .select_related("session")
            .first()
        )
        session = issued.session if issued else None
        # The patron signed out (or the session expired) between the redirect and the
        # exchange: the code is worth nothing any more.
        if session is None or not session.is_live():
            return False
        request.service_session = session
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        try:
            super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        except InvalidGrantError:
            # Two exchanges of one code at the same moment: both passed validate_code, and
            # the other one used the code up. This one is the replay, and its tokens (saved
            # already, in the session's family) go with the rest.
            IssuedCode.objects.filter(code_hash=IssuedCode.hash(code)).update(
                exchanged_at=clock.now()
            )
            sessions.end_for_replayed_code(code=code, application=request.client)
            raise
        IssuedCode.objects.filter(code_hash=IssuedCode.hash(code)).update(exchanged_at=clock.now())

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        family = request.refresh_token_instance.token_family
        session = ServiceSession.objects.filter(pk=family).first() if family else None
        if session is None or not session.is_live():
            return False
        request.service_session = session
        return True

    def _create_refresh_token(
        self, request, refresh_token_code, access_token, previous_refresh_token
    ):
        token = super()._create_refresh_token(
            request, refresh_token_code, access_token, previous_refresh_token
        )
        session = getattr(request, "service_session", None)
        if previous_refresh_token is None and session is not None:
            # The family is the service session: ending it revokes exactly these tokens.
            token.token_family = session.pk
            token.save(update_fields=["token_family"])
        return token

    # -- claims ---------------------------------------------------------------------------

    def get_additional_claims(self, request):
        session = getattr(request, "service_session", None)
        client = (
            Client.objects.filter(application=request.client).first()
            if getattr(request, "client", None)
            else None
        )
        return claims.for_account(
            request.user,
            library_id=client.library_id
            if client and client.kind == Client.Kind.MIJN_MENU
            else None,
            sid=session.sid if session else "",
        )

    def get_discovery_claims(self, request):
        return [
            "sub",
            *[k for k in claims.CLAIM_SCOPES if k != "sub"],
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
        ]

    def get_userinfo_claims(self, request):
        found = super().get_userinfo_claims(request)
        found.pop("sid", None)  # sid belongs in ID and logout tokens
        return found
