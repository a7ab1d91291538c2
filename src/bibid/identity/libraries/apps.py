"""App config of the library-links context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LibrariesConfig(AppConfig):
    name = "bibid.identity.libraries"
    label = "libraries"
    verbose_name = _("Bibliotheken en koppelingen")

    def ready(self) -> None:
        from bibid.identity.accounts.signals import accounts_deleting

        from .services import on_accounts_deleting

        accounts_deleting.connect(on_accounts_deleting, dispatch_uid="libraries-feed")
