from django.apps import AppConfig


class RpConfig(AppConfig):
    name = "bibid.common.rp"
    label = "rp"
    default_auto_field = "django.db.models.BigAutoField"
