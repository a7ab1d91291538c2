"""App config of the staff console."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "bibid.library.console"
    label = "console"
    verbose_name = _("Console")
