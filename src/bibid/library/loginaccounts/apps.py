"""App config of the login-accounts context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoginAccountsConfig(AppConfig):
    name = "bibid.library.loginaccounts"
    label = "loginaccounts"
    verbose_name = _("Inlogaccounts")
