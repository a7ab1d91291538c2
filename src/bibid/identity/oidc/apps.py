from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OidcConfig(AppConfig):
    name = "bibid.identity.oidc"
    label = "oidc"
    verbose_name = _("Inloggen bij diensten (OpenID Connect)")

    def ready(self) -> None:
        from bibid.common import metrics

        from . import checks, clients, csp, signals  # noqa: F401  (system checks, receivers)
        from .tasks import MAX_ATTEMPTS

        # Back-channel logouts still to deliver (those given up on are no longer waiting).
        metrics.register_queue(
            "backchannel_logouts",
            metrics.model_probe(
                "oidc.LogoutDelivery",
                waiting={"delivered_at__isnull": True, "attempts__lt": MAX_ATTEMPTS},
                since="created_at",
            ),
        )
