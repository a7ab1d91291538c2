"""App config of Mijn Menu, the patron portal."""

from django.apps import AppConfig


class MijnMenuConfig(AppConfig):
    name = "bibid.library.mijnmenu"
    label = "mijnmenu"
