from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    name = "bibid.library.helpdesk"
    label = "helpdesk"
    verbose_name = _("Helpdesk")

    def ready(self) -> None:
        from django.core import checks

        from .system_checks import check_definitions

        checks.register(check_definitions, "helpdesk")
