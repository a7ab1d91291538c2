"""The OAuthLib bridge, giving each authorization the identity session it happens in."""

from __future__ import annotations

from oauth2_provider.oauth2_backends import OAuthLibCore

from bibid.common.http import client_ip, user_agent

from . import sessions, support

# Where the sign-in code leaves how the patron signed in (a list of RFC 8176 values).
AMR_KEY = "bibid_amr"


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
        if allow and request.user.is_authenticated:
            # Stored with the code (one row: validators.save_authorization_code): the
            # identity session it is given in, how the patron signed in (RFC 8176 values;
            # the sign-in code leaves them in the session, none meaning a password) and
            # where from, for the helpdesk's event when the service exchanges the code.
            credentials["sid"] = sessions.ensure_sid(request)
            credentials["session_expires_at"] = request.session.get_expiry_date()
            credentials["amr"] = amr_of(request.session)
            credentials["signin_ip"] = client_ip(request)
            credentials["signin_browser"] = user_agent(request)
        return super().create_authorization_response(request, scopes, credentials, allow)


def amr_of(session) -> list[str]:
    stored = session.get(AMR_KEY)
    if isinstance(stored, list) and stored and all(isinstance(v, str) for v in stored):
        return stored
    return ["pwd"]
