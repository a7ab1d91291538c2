"""App config of the shared guessing protection."""

from django.apps import AppConfig


class GuardConfig(AppConfig):
    name = "bibid.common.guard"
    label = "guard"
    verbose_name = "Guessing protection"
