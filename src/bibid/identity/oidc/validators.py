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

from datetime import timedelta

from oauth2_provider.models import AccessToken, IDToken, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import utils
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError

from bibid.common import clock, fastsql

from . import claims, clients, events, sessions
from .models import Client, IssuedCode, ServiceSession


def exact_redirect_allowed(application, uri: str) -> bool:
    return bool(uri) and uri in application.redirect_uris.split()


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, **claims.CLAIM_SCOPES}

    # -- clients, from the per-process copy (clients.py) ----------------------------------

    def _load_application(self, client_id, request):
        # Every client lookup (authorization, token, refresh, userinfo's claims) passes
        # here. A service an operator disabled (register_service --disable) is no client at
        # all, as if unknown (clients.entry).
        current = getattr(request, "client", None)
        if current is not None and getattr(current, "client_id", None) == client_id:
            return current  # loaded already in this request
        application = clients.application(client_id)
        if application is not None and not application.is_usable(request):
            application = None
        request.client = application
        return application

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        # The scopes backend's answer (libraries.scopes.ClientScopes), kept with the client.
        found = clients.entry(client.client_id)
        return found is not None and set(scopes) <= found.available_scopes

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        found = clients.entry(request.client.client_id)
        return list(found.default_scopes) if found is not None else []

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

    # -- the code: one row written, one read, one update ----------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        # RFC 9700 2.1.1: only S256 (the discovery document says so, and oauthlib would
        # accept "plain" otherwise).
        if request.code_challenge_method != "S256":
            raise InvalidRequestError(
                request=request, description='code_challenge_method must be "S256".'
            )
        now = clock.now()
        # One statement (the grant, the identity session it belongs to, how the patron
        # signed in and from where): the service session is made or joined, and the
        # helpdesk's event written, when the code is exchanged.
        fastsql.insert(
            IssuedCode,
            code_hash=IssuedCode.hash(code["code"]),
            application=request.client.pk,
            account=request.user.pk,
            session=None,
            sid=request.sid,
            session_expires_at=request.session_expires_at,
            expires_at=now + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
            redirect_uri=request.redirect_uri or "",
            scope=" ".join(request.scopes),
            code_challenge=request.code_challenge or "",
            code_challenge_method=request.code_challenge_method or "",
            nonce=request.nonce or "",
            resource=getattr(request, "resource", None) or [],
            amr=request.amr,
            ip=request.signin_ip or None,
            user_agent=events.printable(request.signin_browser, 300),
            created_at=now,
            exchanged_at=None,
        )

    def _issued(self, code, request) -> IssuedCode | None:
        """The code's row, read once per token request (oauthlib asks for its scopes,
        nonce, challenge, method and redirect URI one by one)."""
        cached = getattr(request, "_bibid_issued", None)
        if cached is None or cached[0] != code:
            rows = IssuedCode.objects.select_related("account").filter(
                code_hash=IssuedCode.hash(code or "")
            )[:1]  # unique: no ORDER BY (first() adds one)
            cached = (code, next(iter(rows), None))
            request._bibid_issued = cached
        return cached[1]

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        issued = self._issued(code, request)
        return utils.scope_to_list(issued.scope) if issued is not None and issued.scope else []

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        issued = self._issued(code, request)
        return (issued.nonce or None) if issued is not None else None

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        issued = self._issued(code, request)
        if issued is None or issued.application_id != client.pk:
            return False
        if issued.exchanged_at is not None:
            # A code already exchanged, presented again: refused (invalid_grant), and what
            # it yielded is revoked.
            sessions.end_for_replayed_code(code=code, application=client)
            return False
        now = clock.now()
        # Expired, or the patron's identity session ended by itself in between (signing out
        # deletes the pending codes: sessions.end_sid).
        if issued.expires_at is None or issued.expires_at <= now:
            return False
        if issued.session_expires_at is None or issued.session_expires_at <= now:
            return False
        request.scopes = issued.scope.split(" ")
        request.user = issued.account
        if issued.nonce:
            request.nonce = issued.nonce
        return True

    def get_code_challenge(self, code, request):
        issued = self._issued(code, request)
        return (issued.code_challenge or None) if issued is not None else None

    def get_code_challenge_method(self, code, request):
        issued = self._issued(code, request)
        return (issued.code_challenge_method or None) if issued is not None else None

    def is_pkce_required(self, client_id, request):
        return True  # PKCE S256 for every code (RFC 9700 2.1.1)

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        request = kwargs.get("request") or (args[0] if args else None)
        issued = self._issued(code, request)
        return issued is not None and bool(redirect_uri) and issued.redirect_uri == redirect_uri

    def _check_and_set_request_resource(self, request):
        if request.grant_type != "authorization_code":
            return super()._check_and_set_request_resource(request)
        # DOT's rule with the code's row in place of its Grant: a token request may narrow
        # the resources granted at authorization, never widen them.
        resource = getattr(request, "resource", None)
        asked = [resource] if isinstance(resource, str) and resource.strip() else []
        if isinstance(resource, list):
            asked = resource
        self._validate_resource_uris(request, asked)
        issued = self._issued(request.code, request)
        granted = list(issued.resource or []) if issued is not None else []
        if asked and granted and any(r not in granted for r in asked):
            from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

            raise CustomOAuth2Error(
                error="invalid_target",
                description="Token request cannot widen the resources granted.",
                request=request,
            )
        request.resource = asked or granted

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        session = getattr(request, "service_session", None)
        updated = IssuedCode.objects.filter(
            code_hash=IssuedCode.hash(code), exchanged_at__isnull=True
        ).update(exchanged_at=clock.now(), session=session)
        if not updated:
            # Two exchanges of one code at the same moment (both passed validate_code, and
            # the other one used the code up), or the patron signed out in between (which
            # deleted the code): this one's tokens, saved already in the session's family,
            # go with the rest.
            key = session.pk if session is not None else None
            if key is None:  # the other exchange's session, when this one made none
                key = (
                    IssuedCode.objects.filter(code_hash=IssuedCode.hash(code))
                    .values_list("session_id", flat=True)
                    .first()
                )
            if key is not None:
                sessions.end_after_lost_code(key)
            raise InvalidGrantError(request=request)
        issued = self._issued(code, request)
        events.record_service_signin(
            account=issued.account,
            application=request.client,
            ip=issued.ip or "",
            browser=issued.user_agent,
        )

    # -- tokens, written once and never read back -----------------------------------------

    def _save_bearer_token(self, token, request, *args, **kwargs):
        if request.grant_type == "authorization_code":
            issued = self._issued(request.code, request)
            # The service session this sign-in joins (made by the first sign-in of this
            # service in this identity session): the refresh token's family.
            request.service_session = sessions.join_for_code(issued)
            request.amr = issued.amr
        return super()._save_bearer_token(token, request, *args, **kwargs)

    def _save_id_token(self, jti, request, expires, *args, **kwargs):
        token = IDToken(
            user=request.user,
            scope=request.scope or " ".join(request.scopes),
            expires=expires,
            jti=jti,
            application=request.client,
        )
        token.save(force_insert=True)
        request._bibid_id_token = (jti, token)
        return token

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        id_token = token.get("id_token", None)
        if id_token:
            saved = getattr(request, "_bibid_id_token", None)
            # The ID token this request has just signed and saved: no need to verify its
            # signature and read it back (DOT does both).
            id_token = saved[1] if saved is not None else self._load_id_token(id_token)
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=id_token,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save(force_insert=True)
        request._bibid_access_token = access_token
        return access_token

    def _create_refresh_token(
        self, request, refresh_token_code, access_token, previous_refresh_token
    ):
        session = getattr(request, "service_session", None)
        if previous_refresh_token is not None or session is None:
            # A rotation keeps its predecessor's family (DOT).
            return super()._create_refresh_token(
                request, refresh_token_code, access_token, previous_refresh_token
            )
        token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            # The family is the service session: ending it revokes exactly these tokens.
            token_family=session.pk if session is not None else None,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(token, refresh_token_code)
        token.save(force_insert=True)
        return token

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        family = request.refresh_token_instance.token_family
        session = ServiceSession.objects.filter(pk=family).first() if family else None
        if session is None or not session.is_live():
            return False
        request.service_session = session
        request.amr = session.amr
        return True

    # -- claims ---------------------------------------------------------------------------

    def get_additional_claims(self, request):
        session = getattr(request, "service_session", None)
        application = getattr(request, "client", None)
        found = clients.entry(application.client_id) if application is not None else None
        sid, amr = "", None
        if session is not None:
            sid, amr = session.sid, getattr(request, "amr", None) or session.amr
        elif getattr(request, "grant_type", "") == "authorization_code":
            # The ID token is made before the tokens are saved (and the service session
            # joined): the code's row says the same.
            issued = self._issued(request.code, request)
            if issued is not None:
                sid, amr = issued.sid, issued.amr
        return claims.for_account(
            request.user,
            library_id=found.library_id
            if found is not None and found.kind == Client.Kind.MIJN_MENU
            else None,
            sid=sid,
            amr=amr,
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
        # sid belongs in ID and logout tokens; amr and acr describe one sign-in (the ID
        # token's), not the patron.
        for name in ("sid", "amr", "acr"):
            found.pop(name, None)
        return found
