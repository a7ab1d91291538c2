"""The OAuthLib bridge, giving each authorization the identity session it happens in."""

from __future__ import annotations

from oauth2_provider.oauth2_backends import OAuthLibCore

from bibid.common.http import client_ip, user_agent

from . import events, sessions, support


class Core(OAuthLibCore):
    def __init__(self, server=None):
        super().__init__(server)
        # The authorization endpoint answers what it cannot honour (request objects,
        # prompt=consent, ...) with the error OpenID Connect defines. As a pre-authorization
        # check it runs after oauthlib has validated the client and the redirect URI, so
        # the error goes back to the registered URI with the state, and an invalid client
        # or URI still gets the error page. One check for both the plain OAuth2 and the
        # OpenID Connect code grant (oauthlib chooses by the `openid` scope).
        for grant in (self.server.auth_grant, self.server.openid_connect_auth):
            checks = grant.custom_validators.pre_auth
            if support.refuse_unsupported not in checks:
                checks.append(support.refuse_unsupported)

    def create_authorization_response(self, request, scopes, credentials, allow):
        signing_in = allow and request.user.is_authenticated
        if signing_in:
            credentials["sid"] = sessions.ensure_sid(request)
            credentials["session_expires_at"] = request.session.get_expiry_date()
        uri, headers, body, status = super().create_authorization_response(
            request, scopes, credentials, allow
        )
        if signing_in and "code=" in (uri or ""):
            # The helpdesk sees each service the patron signed in to, and from where.
            from oauth2_provider.models import get_application_model

            application = (
                get_application_model()
                .objects.filter(client_id=credentials.get("client_id"))
                .first()
            )
            if application is not None:
                events.record_service_signin(
                    account=request.user,
                    application=application,
                    ip=client_ip(request),
                    browser=user_agent(request),
                )
        return uri, headers, body, status
