"""App config of the second step (each service keeps its own tables)."""

from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "bibid.common.mfa"
    label = "mfa"
    verbose_name = "Second step"
    default_auto_field = "django.db.models.BigAutoField"
