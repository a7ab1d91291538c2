"""App config of the mail context."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "bibid.identity.mail"
    label = "mail"
    verbose_name = _("E-mail")

    def ready(self) -> None:
        from bibid.common import metrics

        # Messages not sent yet (dropped ones are marked sent): the outbox's depth and age.
        metrics.register_queue(
            "mail",
            metrics.model_probe(
                "mail.OutboxMessage", waiting={"sent_at__isnull": True}, since="created_at"
            ),
        )
