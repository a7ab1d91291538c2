"""App config of the customers context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "bibid.library.customers"
    label = "customers"
    verbose_name = _("Klanten")
