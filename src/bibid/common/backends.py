"""The only authentication backend of each service: it restores sessions and never checks a
password (each service checks passwords in its own guarded sign-in flow)."""

from django.contrib.auth.backends import ModelBackend


class SessionOnlyBackend(ModelBackend):
    """Loads the signed-in account for each request and answers permission questions.

    authenticate() always declines: every password check goes through the service's guarded
    flow (bibid.identity.signin.flow, bibid.library.staff.signin), which applies the guessing
    limits and records the attempt.
    A second path to check passwords (Django's admin login form, a REST login) would walk
    around both.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None
