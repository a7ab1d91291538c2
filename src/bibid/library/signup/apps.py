"""App config of the self-service sign-up."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SignupConfig(AppConfig):
    name = "bibid.library.signup"
    label = "signup"
    verbose_name = _("Self-service lid worden")

    def ready(self) -> None:
        from bibid.library.loginaccounts import unconfirmed

        from . import services

        # A sign-up whose account identity did not confirm in time is settled by the login
        # accounts' task; what the library then does is the sign-up's own business.
        unconfirmed.register(
            "signup_generate",
            done=lambda customer, answer: services.account_confirmed(customer, answer["account"]),
            not_done=services.account_refused,
        )
