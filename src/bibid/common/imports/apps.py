"""App config of the shared import machinery (its checkpoint and report tables)."""

from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "bibid.common.imports"
    label = "imports"
    verbose_name = "Imports"
    default_auto_field = "django.db.models.BigAutoField"
