"""App config of the login-accounts context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoginAccountsConfig(AppConfig):
    name = "bibid.library.loginaccounts"
    label = "loginaccounts"
    verbose_name = _("Inlogaccounts")

    def ready(self) -> None:
        # Customers and subscriptions sit below this context and cannot call it: they send
        # authorization_changed, and the push is queued here (see signals.py).
        from . import signals

        signals.connect()
