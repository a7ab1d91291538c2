"""A record of every self-service request, found or not (what the helpdesk needs to see, and
one equal write for every request, so that timing does not tell whether an account exists)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class SelfServiceRequest(models.Model):
    class Kind(models.TextChoices):
        PASSWORD_RESET = "password_reset", _("wachtwoord vergeten")
        USERNAME_REMINDER = "username_reminder", _("gebruikersnaam vergeten")

    at = models.DateTimeField(default=clock.now)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    account_id = models.BigIntegerField(null=True, blank=True)
    typed = models.CharField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    language = models.CharField(max_length=8, default="nl")
    handled_at = models.DateTimeField(null=True, blank=True)
    mail_queued = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("self-serviceverzoek")
        verbose_name_plural = _("self-serviceverzoeken")
        indexes = [models.Index(fields=["account_id", "-at"], name="ssrequest_account_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"
