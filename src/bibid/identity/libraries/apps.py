"""App config of the library-links context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LibrariesConfig(AppConfig):
    name = "bibid.identity.libraries"
    label = "libraries"
    verbose_name = _("Bibliotheken en koppelingen")
