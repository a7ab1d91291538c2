"""The outbox: one row per message to send, written in the same transaction as the change."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class OutboxMessage(models.Model):
    """A message waiting to be sent (or sent). Links with tokens are made when it is sent,
    so no usable link is ever stored."""

    class Kind(models.TextChoices):
        ACTIVATION = "activation", _("activering")
        CHOOSE_PASSWORD = "choose_password", _("wachtwoord kiezen")
        PASSWORD_RESET = "password_reset", _("wachtwoord herstellen")
        USERNAME_REMINDER = "username_reminder", _("gebruikersnaam vergeten")
        EMAIL_CHANGE = "email_change", _("e-mailadres bevestigen")
        NOTICE = "notice", _("melding")

    kind = models.CharField(_("soort"), max_length=32, choices=Kind.choices)
    account_id = models.BigIntegerField(_("account-id"), null=True, blank=True)
    to = models.EmailField(_("aan"))
    language = models.CharField(_("taal"), max_length=8, default="nl")
    data = models.JSONField(_("gegevens"), default=dict, blank=True)
    created_at = models.DateTimeField(_("aangemaakt op"), default=clock.now)
    attempts = models.PositiveIntegerField(_("pogingen"), default=0)
    next_attempt_at = models.DateTimeField(_("volgende poging"), default=clock.now)
    sent_at = models.DateTimeField(_("verzonden op"), null=True, blank=True)
    last_error = models.CharField(_("laatste fout"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("uitgaand bericht")
        verbose_name_plural = _("uitgaande berichten")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(sent_at__isnull=True),
                name="outbox_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to}"


class DevMessage(models.Model):
    """A message the dev mailbox caught (demo and development only: no mail server needed)."""

    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bericht in de ontwikkelpostbus")
        verbose_name_plural = _("ontwikkelpostbus")

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"
