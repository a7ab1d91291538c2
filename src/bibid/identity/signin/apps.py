"""App config of the sign-in context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SigninConfig(AppConfig):
    name = "bibid.identity.signin"
    label = "signin"
    verbose_name = _("Inloggen")

    def ready(self) -> None:
        from django.contrib.auth import user_logged_in
        from django.contrib.auth.models import update_last_login

        # The sign-in flow stores last_login itself, inside the sign-in's one transaction;
        # Django's receiver would write it a second time, outside it.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
