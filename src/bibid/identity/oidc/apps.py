from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OidcConfig(AppConfig):
    name = "bibid.identity.oidc"
    label = "oidc"
    verbose_name = _("Inloggen bij diensten (OpenID Connect)")

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (registers system checks and receivers)
