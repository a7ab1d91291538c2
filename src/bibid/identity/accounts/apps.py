"""App config of the accounts context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "bibid.identity.accounts"
    label = "accounts"
    verbose_name = _("Inlogaccounts")
