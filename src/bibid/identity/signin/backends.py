"""The only authentication backend: it restores sessions and never checks a password."""

from django.contrib.auth.backends import ModelBackend


class SessionOnlyBackend(ModelBackend):
    """Loads the signed-in account for each request and answers permission questions.

    authenticate() always declines: every password check goes through the guarded flow in
    bibid.identity.signin.flow, which applies the guessing limits and records the attempt.
    A second path to check passwords (Django's admin login form, a REST login) would walk
    around both.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None
