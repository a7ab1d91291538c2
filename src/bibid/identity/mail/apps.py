"""App config of the mail context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "bibid.identity.mail"
    label = "mail"
    verbose_name = _("E-mail")
