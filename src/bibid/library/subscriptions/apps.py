"""App config of the subscriptions context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "bibid.library.subscriptions"
    label = "subscriptions"
    verbose_name = _("Abonnementen")
