"""Sign-in attempts and the guessing-protection counters."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class LoginEvent(models.Model):
    """One sign-in attempt or session event, with the real reason for the helpdesk.

    Written on the hot path, so: one narrow INSERT, no foreign key to check, two indexes.
    The patron only ever sees the generic message; the reason is for staff.
    """

    class Kind(models.TextChoices):
        LOGIN = "login", _("inloggen")
        LOGOUT = "logout", _("uitloggen")
        # Reported by or about the services that sign in through the login:
        SERVICE = "service", _("ingelogd bij dienst")
        LOGOUT_DETECTED = "logout_detected", _("uitgelogd opgemerkt door dienst")
        RIGHTS_MISSING = "rights_missing", _("recht ontbrak bij dienst")
        NOT_LINKED = "not_linked", _("niet gekoppeld volgens dienst")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("gelukt")
        FAILURE = "failure", _("mislukt")

    class Reason(models.TextChoices):
        OK = "ok", _("gelukt")
        UNKNOWN_USERNAME = "unknown_username", _("onbekende gebruikersnaam")
        WRONG_PASSWORD = "wrong_password", _("onjuist wachtwoord")
        INACTIVE = "inactive", _("account niet actief")
        NO_PASSWORD = "no_password", _("nog geen wachtwoord gekozen")
        THROTTLED = "throttled", _("te veel pogingen (vertraagd)")
        REPORTED = "reported", _("gemeld door dienst")
        # Passkey sign-ins (details["method"] == "passkey"; a success is OK): a credential
        # this identity never saw, one the patron removed (kept by hash, so the helpdesk
        # can say so), and one whose signature, challenge or sign count was refused.
        PASSKEY_UNKNOWN = "passkey_unknown", _("onbekende passkey")
        PASSKEY_REMOVED = "passkey_removed", _("verwijderde passkey")
        PASSKEY_INVALID = "passkey_invalid", _("passkey geweigerd")

    at = models.DateTimeField(_("tijdstip"), default=clock.now)
    kind = models.CharField(_("soort"), max_length=16, choices=Kind.choices, default=Kind.LOGIN)
    # The account's internal id, without a foreign key: attempts stay readable after the
    # account is deleted, and the insert needs no constraint check.
    account_id = models.BigIntegerField(_("account-id"), null=True, blank=True)
    username = models.CharField(_("ingevoerde gebruikersnaam"), max_length=150, blank=True)
    outcome = models.CharField(_("resultaat"), max_length=16, choices=Outcome.choices)
    reason = models.CharField(_("reden"), max_length=32, choices=Reason.choices)
    ip = models.GenericIPAddressField(_("adres"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    # Which service (OpenID Connect client) the event is about, and what it reported.
    service = models.CharField(_("dienst"), max_length=200, blank=True, default="", db_default="")
    details = models.JSONField(_("details"), null=True, blank=True)

    class Meta:
        verbose_name = _("inlogpoging")
        verbose_name_plural = _("inlogpogingen")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["account_id", "-at"], name="loginevent_account_at"),
            models.Index(fields=["at"], name="loginevent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.reason}"
