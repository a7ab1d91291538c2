"""Who is calling: a library, by an OAuth2 access token from the client-credentials grant."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja.security import HttpBearer
from oauth2_provider.oauth2_backends import get_oauthlib_core

from bibid.common.problems import Problem
from bibid.identity.libraries.models import Library

READ = "accounts:read"
WRITE = "accounts:write"


class LibraryToken(HttpBearer):
    """Validate the bearer token with django-oauth-toolkit and find the calling library.

    An unknown, expired or revoked token is a 401; a valid token without the scope the
    operation needs is a 403 (RFC 6750). Tokens of clients that are not a library (a patron
    portal signing people in) are refused as well: they must not reach this API.
    """

    openapi_scheme = "bearer"

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> Library | None:
        valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
        if not valid:
            return None
        access_token = oauth_request.access_token
        try:
            library = Library.objects.get(application_id=access_token.application_id)
        except Library.DoesNotExist:
            return None
        if not access_token.allow_scopes([self.scope]):
            raise Problem(
                403,
                "insufficient_scope",
                _("Dit token mag dit niet; het heeft de scope %(scope)s nodig."),
                extra={"scope": self.scope},
                headers={
                    "WWW-Authenticate": (
                        f'Bearer realm="bibid", error="insufficient_scope", scope="{self.scope}"'
                    )
                },
            )
        request.library = library
        request.library_actor = actor_from_headers(request, library)
        return library


ROLES = {"desk", "helpdesk", "manager", "system"}


def actor_from_headers(request: HttpRequest, library: Library):
    """The library as actor, with the staff member it says acted (Bibid-Acting-Role and
    Bibid-Acting-Staff). Identity cannot check them; it records them so that the patron
    sees which role did what. An unknown role or an unprintable reference is dropped, never
    an error: a library system that does not send them still works."""
    from bibid.identity.libraries.services import actor_for

    role = request.headers.get("Bibid-Acting-Role", "").strip().lower()
    staff = request.headers.get("Bibid-Acting-Staff", "").strip()
    if role not in ROLES:
        role = ""
    if not (staff.isprintable() and len(staff) <= 64):
        staff = ""
    return actor_for(library, role=role, staff=staff)


read = LibraryToken(READ)
write = LibraryToken(WRITE)
