"""The shared app: templates, static files and translations used by every service."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "bibid.common"
    label = "bibid_common"
    verbose_name = "Bibid"
