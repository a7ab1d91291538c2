"""App config of the staff context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "bibid.library.staff"
    label = "staff"
    verbose_name = _("Medewerkers")

    def ready(self) -> None:
        from . import second_factor

        second_factor.connect()
