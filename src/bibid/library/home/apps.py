"""App config of the library start page."""

from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "bibid.library.home"
    label = "home"
