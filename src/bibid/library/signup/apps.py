"""App config of the self-service sign-up."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SignupConfig(AppConfig):
    name = "bibid.library.signup"
    label = "signup"
    verbose_name = _("Self-service lid worden")
