"""Every page of a relying party knows whether its patron is still signed in at identity.

Pages that do not need a patron (the catalogue) still show who is signed in; without this
check they would keep showing a patron whom identity already signed out elsewhere.
"""

from __future__ import annotations

from . import services


class SessionCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # After URL resolution: the client (the library under Mijn Menu) is known now.
        services.check_session(request)
        return None
