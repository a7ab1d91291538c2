"""A patron's passkeys, the per-account WebAuthn user handle, and removed credentials."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class PasskeyUser(models.Model):
    """The account's WebAuthn user handle: 32 random bytes, made with its first passkey.

    Not the account id nor the username: the handle is stored in the authenticator and sent
    back on every sign-in, so it must say nothing about the account (WebAuthn §14.6.1), and
    it must not change when the username does.
    """

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkey_user"
    )
    handle = models.BinaryField(_("WebAuthn-gebruikershandle"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("passkey-gebruiker")
        verbose_name_plural = _("passkey-gebruikers")

    def __str__(self) -> str:
        return str(self.account_id)


class Passkey(models.Model):
    """One WebAuthn credential of a patron (a discoverable credential: a passkey)."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    # base64url of the credential id (at most 1023 bytes by the spec, so at most 1364
    # characters): text, so one unique index works alike on SQLite and PostgreSQL.
    credential_id = models.CharField(_("credential-id"), max_length=1400, unique=True)
    public_key = models.BinaryField(_("publieke sleutel (COSE)"))
    sign_count = models.BigIntegerField(_("tellerstand"), default=0)
    transports = models.JSONField(_("verbindingen"), default=list, blank=True)
    name = models.CharField(_("naam"), max_length=64)
    created_at = models.DateTimeField(_("toegevoegd"), default=clock.now)
    last_used_at = models.DateTimeField(_("laatst gebruikt"), null=True, blank=True)

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class RemovedPasskey(models.Model):
    """A removed passkey, known by a keyed hash of its credential id only.

    Kept so that a sign-in with a passkey the patron removed (still on the phone) is told
    apart from one with a credential this identity never saw: the helpdesk can then explain
    "you removed that passkey" instead of guessing. The patron sees the same generic message
    either way. The hash (not the id) is kept because nothing needs the id any more.
    """

    credential_hash = models.CharField(_("credential-hash"), max_length=64, unique=True)
    account_id = models.BigIntegerField(_("account-id"), null=True)
    name = models.CharField(_("naam"), max_length=64, blank=True)
    removed_at = models.DateTimeField(_("verwijderd"), default=clock.now)

    class Meta:
        verbose_name = _("verwijderde passkey")
        verbose_name_plural = _("verwijderde passkeys")

    def __str__(self) -> str:
        return self.name
