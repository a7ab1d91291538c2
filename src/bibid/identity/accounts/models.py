"""Login accounts and their audit trail."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock

from . import usernames


class AccountManager(BaseUserManager["Account"]):
    def get_by_natural_key(self, username: str) -> Account:
        return self.get(username_key=usernames.username_key(username))

    def create_user(self, username: str, password: str | None = None, **extra) -> Account:
        account = self.model(username=username, **extra)
        if password:
            account.set_password(password)
        else:
            account.set_unusable_password()
        account.full_clean(exclude=["password"])
        account.save(using=self._db)
        return account

    def create_superuser(self, username: str, password: str | None = None, **extra) -> Account:
        """An operator of the identity admin; active at once (there is no activation mail)."""
        now = clock.now()
        extra.update(is_staff=True, is_superuser=True, state=Account.State.ACTIVE, activated_at=now)
        return self.create_user(username, password, **extra)


class Account(AbstractBaseUser, PermissionsMixin):
    """A login account: one per person, usable at every library it is linked to."""

    class State(models.TextChoices):
        INACTIVE = "inactive", _("inactief")
        ACTIVE = "active", _("actief")

    # The public id is what other parties see (the OpenID Connect subject); the integer
    # primary key never leaves this service.
    public_id = models.UUIDField(_("publiek id"), default=uuid.uuid4, unique=True, editable=False)
    username = models.CharField(
        _("gebruikersnaam"),
        max_length=usernames.MAX_LENGTH,
        unique=True,
        validators=[usernames.validate_username],
    )
    # Uniqueness that ignores case, accents and look-alike letters, enforced by the database.
    username_key = models.CharField(
        max_length=usernames.KEY_MAX_LENGTH, unique=True, editable=False
    )
    recovery_email = models.EmailField(_("herstel-e-mailadres"), blank=True)
    recovery_email_confirmed_at = models.DateTimeField(
        _("herstel-e-mailadres bevestigd op"), null=True, blank=True
    )
    # Who set the address: the patron (confirmed through a link), or a library's staff after
    # checking who the customer is ("library:<code>").
    recovery_email_set_by = models.CharField(
        _("herstel-e-mailadres ingesteld door"), max_length=100, blank=True
    )
    # When a library changes the recovery address of an account the patron activated, the
    # confirmed address before it is kept here: it was told, can undo the change for 7 days,
    # and gets the reset links until the new address is confirmed or 24 hours have passed.
    previous_recovery_email = models.EmailField(_("vorig herstel-e-mailadres"), blank=True)
    recovery_email_set_at = models.DateTimeField(
        _("herstel-e-mailadres ingesteld op"), null=True, blank=True
    )
    # Set by the patron's "Dit was ik niet": libraries may not change the recovery address,
    # send resets or lift blocks until the patron allows it again in Mijn inlogaccount.
    library_changes_frozen_at = models.DateTimeField(
        _("wijzigingen door bibliotheken bevroren op"), null=True, blank=True
    )
    state = models.CharField(
        _("status"), max_length=16, choices=State.choices, default=State.INACTIVE
    )
    created_at = models.DateTimeField(_("aangemaakt op"), default=clock.now, editable=False)
    activated_at = models.DateTimeField(_("geactiveerd op"), null=True, blank=True)
    # When the password was last set, whichever way (activation, reset link, Mijn inlogaccount,
    # an operator, the demo): failed sign-ins before it were tries at an older password, so
    # the helpdesk counts only those after it. Null: no password was set since this field
    # exists (set_unusable_password leaves it alone).
    password_changed_at = models.DateTimeField(_("wachtwoord ingesteld op"), null=True, blank=True)
    # Wider than Django's 128: a hash brought in by `bibid identity import` is kept whole
    # behind its prefix (imported_hashers), and a PBKDF2-SHA512 or {SSHA512} hash with its
    # salt is longer than 128 characters.
    password = models.CharField(_("wachtwoord"), max_length=512)
    is_staff = models.BooleanField(
        _("beheerder"),
        default=False,
        help_text=_("Mag in het beheer van de inlogdienst werken."),
    )

    objects = AccountManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("inlogaccount")
        verbose_name_plural = _("inlogaccounts")
        indexes = [
            # The purge looks for old inactive accounts; keep that an index range scan.
            models.Index(fields=["state", "created_at"], name="account_state_created"),
            models.Index(fields=["recovery_email"], name="account_recovery_email"),
        ]

    def __str__(self) -> str:
        return self.username

    def set_password(self, raw_password: str | None) -> None:
        """Set the password and stamp when (every path that sets one comes through here:
        ours, Django's `changepassword` and `createsuperuser`)."""
        super().set_password(raw_password)
        if raw_password is not None:
            self.password_changed_at = clock.now()

    def check_password(self, raw_password: str) -> bool:
        # A correct password stored with old hasher settings is re-hashed through
        # set_password (Django saves only the hash): the same password, not a new one, so
        # the stamp must not move, not even on this object (a later save() would store it).
        kept = self.password_changed_at
        try:
            return super().check_password(raw_password)
        finally:
            self.password_changed_at = kept

    async def acheck_password(self, raw_password: str) -> bool:
        kept = self.password_changed_at
        try:
            return await super().acheck_password(raw_password)
        finally:
            self.password_changed_at = kept

    @property
    def activated_by_patron(self) -> bool:
        """The patron holds the account: a password of their own. Until then the library
        that generated it owns it (it may set the recovery address freely)."""
        return self.state == self.State.ACTIVE and self.has_usable_password()

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Only an active account can sign in (Django asks this for sessions and the admin)."""
        return self.state == self.State.ACTIVE

    def clean(self) -> None:
        self.username = usernames.normalize(self.username)
        self.username_key = usernames.username_key(self.username)
        self.recovery_email = self.__class__.objects.normalize_email(self.recovery_email)

    def save(self, *args, **kwargs) -> None:
        self.username = usernames.normalize(self.username)
        self.username_key = usernames.username_key(self.username)
        super().save(*args, **kwargs)

    def validate_unique(self, exclude=None) -> None:
        super().validate_unique({*(exclude or ()), "username_key"})
        # The key is not a form field, so say so on the username: "Jan" when "jan" exists.
        clash = (
            Account.objects.filter(username_key=usernames.username_key(self.username))
            .exclude(pk=self.pk)
            .exists()
        )
        if clash:
            raise ValidationError(
                {"username": _("Deze gebruikersnaam is al in gebruik.")}, code="taken"
            )


class AccountEvent(models.Model):
    """One change to an account, kept after the account is gone (the tombstone)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("aangemaakt")
        ACTIVATED = "activated", _("geactiveerd")
        PASSWORD_SET = "password_set", _("wachtwoord ingesteld")
        UPDATED = "updated", _("gewijzigd")
        BLOCK_LIFTED = "block_lifted", _("blokkade opgeheven")
        LINKED = "linked", _("gekoppeld")
        UNLINKED = "unlinked", _("ontkoppeld")
        AUTHORIZED = "authorized", _("geautoriseerd")
        AUTHORIZED_UNCHANGED = "authorized_unchanged", _("geautoriseerd (ongewijzigd)")
        RECOVERY_EMAIL_SET = "recovery_email_set", _("herstel-e-mailadres ingesteld")
        PASSWORD_RESET_SENT = "password_reset_sent", _("wachtwoordherstel verstuurd")
        LINK_REQUESTED = "link_requested", _("koppeling gevraagd")
        LINK_CONFIRMED = "link_confirmed", _("koppeling bevestigd door de klant")
        CHANGE_UNDONE = "change_undone", _("wijziging door bibliotheek teruggedraaid")
        FREEZE_LIFTED = "freeze_lifted", _("bibliotheken mogen weer wijzigen")
        VIEWED = "viewed", _("bekeken")
        DELETED = "deleted", _("verwijderd")
        PURGED = "purged", _("verwijderd (niet geactiveerd)")

    at = models.DateTimeField(_("tijdstip"), default=clock.now)
    # No foreign key: the event must outlive the account it is about.
    account_id = models.BigIntegerField(_("account-id"), null=True)
    account_public_id = models.UUIDField(_("publiek id"))
    username = models.CharField(_("gebruikersnaam"), max_length=usernames.MAX_LENGTH)
    kind = models.CharField(_("soort"), max_length=32, choices=Kind.choices)
    actor = models.CharField(_("door"), max_length=200)
    data = models.JSONField(_("gegevens"), default=dict, blank=True)

    class Meta:
        verbose_name = _("accountgebeurtenis")
        verbose_name_plural = _("accountgebeurtenissen")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["account_public_id", "-at"], name="accountevent_account_at"),
            models.Index(fields=["kind", "at"], name="accountevent_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.username}"
