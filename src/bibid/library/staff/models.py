"""Staff members, their API tokens, and the audit trail of everything they do."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class StaffManager(BaseUserManager["Staff"]):
    def get_by_natural_key(self, username: str) -> Staff:
        return self.get(username=username.strip().lower())

    def create_user(self, username: str, password: str | None = None, **extra) -> Staff:
        staff = self.model(username=username.strip().lower(), **extra)
        if password:
            staff.set_password(password)
        else:
            staff.set_unusable_password()
        staff.full_clean(exclude=["password", "library", "customer"])
        staff.save(using=self._db)
        return staff

    def create_superuser(self, username: str, password: str | None = None, **extra) -> Staff:
        """An operator of the library system as a whole (its admin); no library of their own."""
        extra.update(is_staff=True, is_superuser=True, role=Staff.Role.MANAGER)
        return self.create_user(username, password, **extra)


class Staff(AbstractBaseUser, PermissionsMixin):
    """A member of a library's staff, working in the console (and through the REST API)."""

    class Role(models.TextChoices):
        DESK = "desk", _("balie")
        HELPDESK = "helpdesk", _("helpdesk")
        MANAGER = "manager", _("manager")

    username = models.CharField(_("gebruikersnaam"), max_length=80, unique=True)
    name = models.CharField(_("naam"), max_length=200)
    email = models.EmailField(_("e-mailadres"), blank=True)
    library = models.ForeignKey(
        "tenants.Library",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("bibliotheek"),
    )
    role = models.CharField(_("rol"), max_length=16, choices=Role.choices, default=Role.DESK)
    # A colleague is also a customer: this links the staff member to their own customer
    # record, so that they may look up their own login account (the seed's privacy rule).
    customer = models.OneToOneField(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="staff_member",
        verbose_name=_("eigen klantrecord"),
    )
    is_active = models.BooleanField(_("actief"), default=True)
    is_staff = models.BooleanField(
        _("beheerder"), default=False, help_text=_("Mag in het beheer van het bibliotheeksysteem.")
    )
    created_at = models.DateTimeField(default=clock.now, editable=False)

    objects = StaffManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("medewerker")
        verbose_name_plural = _("medewerkers")
        ordering = ["library__name", "username"]

    def __str__(self) -> str:
        return f"{self.name} ({self.username})"


class ApiToken(models.Model):
    """A personal token for the library REST API; only its SHA-256 digest is stored."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("naam"), max_length=100)
    prefix = models.CharField(max_length=12, editable=False)  # to recognise it in a list
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The token's scope: a role no higher than its owner's. A token works without the second
    # step, so it is made to do less (a desk token for a script that only searches) and to
    # end by itself (bibid.library.staff.tokens: 90 days unless chosen, at most 365).
    role = models.CharField(
        _("bereik"), max_length=16, choices=Staff.Role.choices, default=Staff.Role.DESK
    )
    expires_at = models.DateTimeField(_("verloopt"), null=True, blank=True)

    class Meta:
        verbose_name = _("API-token")
        verbose_name_plural = _("API-tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class AuditEvent(models.Model):
    """One thing a staff member (or the system) did, and how it went. Never edited."""

    class Result(models.TextChoices):
        OK = "ok", _("gelukt")
        REFUSED = "refused", _("geweigerd")
        FAILED = "failed", _("mislukt")
        # Sent, no answer in time: being checked (loginaccounts.unconfirmed); the outcome
        # follows as its own event.
        UNCONFIRMED = "unconfirmed", _("nog niet bevestigd")

    at = models.DateTimeField(_("tijdstip"), default=clock.now, db_index=True)
    library = models.ForeignKey(
        "tenants.Library", on_delete=models.CASCADE, null=True, related_name="audit_events"
    )
    staff = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    who = models.CharField(_("wie"), max_length=120)  # kept when the staff row goes
    via = models.CharField(_("via"), max_length=16, default="console")  # console|api|cli|system
    action = models.CharField(_("actie"), max_length=64)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    card_number = models.CharField(_("pasnummer"), max_length=20, blank=True)
    result = models.CharField(_("resultaat"), max_length=16, choices=Result.choices)
    detail = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("auditgebeurtenis")
        verbose_name_plural = _("audittrail")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["library", "customer", "-at"], name="audit_customer")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.who} {self.action} {self.result}"
