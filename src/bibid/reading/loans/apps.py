"""App config of the loans context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoansConfig(AppConfig):
    name = "bibid.reading.loans"
    label = "loans"
    verbose_name = _("Leningen")
    default_auto_field = "django.db.models.BigAutoField"
