"""App config of the reading start page."""

from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "bibid.reading.home"
    label = "home"
