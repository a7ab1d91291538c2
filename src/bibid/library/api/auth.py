"""Who is calling the library REST API: a staff member, by a personal API token."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from bibid.library.staff.permissions import Actor
from bibid.library.staff.tokens import staff_for


class StaffToken(HttpBearer):
    """A personal token (console → API-tokens, or `bibid library token`). The caller gets
    exactly the rights of their role in their library; the operations check them."""

    def authenticate(self, request: HttpRequest, token: str):
        staff = staff_for(token)
        if staff is None or staff.library_id is None:
            return None
        request.actor = Actor(staff, via="api")
        return staff


staff_token = StaffToken()
