"""Which OAuth2 scopes each client may ask for (least privilege per client)."""

from oauth2_provider.scopes import SettingsScopes

LIBRARY_SCOPES = ("accounts:read", "accounts:write")


class ClientScopes(SettingsScopes):
    """Libraries may ask for the library-API scopes; no other client ever gets them.

    django-oauth-toolkit's default lets every client ask for every configured scope, which
    would let a patron-facing sign-in client mint a token for the library API.
    """

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        everything = list(self.get_all_scopes())
        if application is not None and _is_library(application):
            return [s for s in everything if s in LIBRARY_SCOPES]
        return [s for s in everything if s not in LIBRARY_SCOPES]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        if application is not None and _is_library(application):
            return ["accounts:read"]
        return [
            s for s in super().get_default_scopes(application, request) if s not in LIBRARY_SCOPES
        ]


def _is_library(application) -> bool:
    from .models import Library

    return Library.objects.filter(application_id=application.pk).exists()
