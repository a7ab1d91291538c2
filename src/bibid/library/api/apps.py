"""App config of the library REST API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "bibid.library.api"
    label = "library_api"
