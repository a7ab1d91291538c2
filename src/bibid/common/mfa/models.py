"""A user's second factors, their recovery codes, and the record of every second step."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class Authenticator(models.Model):
    """One second factor of a user: an authenticator app (TOTP) or a security key/passkey."""

    class Kind(models.TextChoices):
        TOTP = "totp", _("authenticator-app")
        WEBAUTHN = "webauthn", _("beveiligingssleutel of passkey")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_authenticators"
    )
    kind = models.CharField(_("soort"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("naam"), max_length=100)
    # TOTP: the shared secret, sealed with the service's SECRET_KEY (bibid.common.sealing),
    # so that a copy of the database alone does not give anyone the codes.
    secret_sealed = models.TextField(blank=True, editable=False)
    # TOTP: the last time step that was accepted; a code of that step or an earlier one is
    # refused, so a code seen over a shoulder or in a proxy log cannot be used again.
    last_step = models.BigIntegerField(default=0, editable=False)
    # WebAuthn: the credential as the authenticator registered it (base64url id).
    credential_id = models.CharField(max_length=1400, blank=True, editable=False)
    public_key = models.BinaryField(blank=True, default=b"", editable=False)
    sign_count = models.BigIntegerField(default=0, editable=False)
    transports = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(_("aangemaakt"), default=clock.now, editable=False)
    last_used_at = models.DateTimeField(_("laatst gebruikt"), null=True, blank=True)

    class Meta:
        verbose_name = _("tweede factor")
        verbose_name_plural = _("tweede factoren")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential_id"],
                condition=~models.Q(credential_id=""),
                name="mfa_credential_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class RecoveryCode(models.Model):
    """A single-use code for when the factor is lost; only a keyed hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_recovery_codes"
    )
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("herstelcode")
        verbose_name_plural = _("herstelcodes")
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="mfa_recovery_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {'used' if self.used_at else 'unused'}"


class MfaEvent(models.Model):
    """One second step, enrolment or reset, and how it went. Never edited."""

    at = models.DateTimeField(_("tijdstip"), default=clock.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mfa_events",
    )
    who = models.CharField(_("wie"), max_length=200)  # kept when the user row goes
    actor = models.CharField(_("door"), max_length=200)
    action = models.CharField(_("actie"), max_length=64)
    result = models.CharField(_("resultaat"), max_length=16)  # ok | refused
    detail = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("tweede-stapgebeurtenis")
        verbose_name_plural = _("tweede-stapgebeurtenissen")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.who} {self.action} {self.result}"
