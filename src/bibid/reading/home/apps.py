"""App config of the reading service's pages: the start page, the catalogue's pages and the
loan pages (thin views over the loans and catalogue contexts below them)."""

from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "bibid.reading.home"
    label = "home"
