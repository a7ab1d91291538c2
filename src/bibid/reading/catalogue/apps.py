"""App config of the catalogue context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogueConfig(AppConfig):
    name = "bibid.reading.catalogue"
    label = "catalogue"
    verbose_name = _("Catalogus")
    default_auto_field = "django.db.models.BigAutoField"
