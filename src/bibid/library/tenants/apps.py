"""App config of the tenants context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "bibid.library.tenants"
    label = "tenants"
    verbose_name = _("Bibliotheken")
