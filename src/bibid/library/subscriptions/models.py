"""Subscription types (with the rights they grant), subscriptions and their members."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class SubscriptionType(models.Model):
    """What a library sells: a name, a price, age limits, and the rights per member role."""

    library = models.ForeignKey(
        "tenants.Library", on_delete=models.CASCADE, related_name="subscription_types"
    )
    code = models.SlugField(_("code"), max_length=64)
    name = models.CharField(_("naam"), max_length=100)
    price = models.DecimalField(_("prijs per jaar"), max_digits=7, decimal_places=2)
    min_age = models.PositiveSmallIntegerField(_("minimumleeftijd"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximumleeftijd"), null=True, blank=True)
    family = models.BooleanField(_("gezinsabonnement"), default=False)
    # {"main": [{"code": "ebooks", "limits": {...}}], "partner": [...], "child": [...]}
    rights = models.JSONField(_("rechten per rol"), default=dict, blank=True)
    active = models.BooleanField(_("te koop"), default=True)

    class Meta:
        verbose_name = _("abonnementsdefinitie")
        verbose_name_plural = _("abonnementsdefinities")
        ordering = ["library", "price"]
        constraints = [
            models.UniqueConstraint(fields=["library", "code"], name="subscription_type_code")
        ]

    def __str__(self) -> str:
        return self.name

    def rights_for(self, role: str) -> list[dict]:
        return list(self.rights.get(role) or [])

    @property
    def lends_online(self) -> bool:
        return any(
            right.get("code") in ("ebooks", "audiobooks")
            for rights in self.rights.values()
            for right in rights
        )


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("lopend")
        CANCELLED = "cancelled", _("opgezegd")
        # A self-service sign-up waits for the patron to activate the login account.
        PENDING = "pending", _("wacht op activering")
        LAPSED = "lapsed", _("niet geactiveerd")

    library = models.ForeignKey(
        "tenants.Library", on_delete=models.CASCADE, related_name="subscriptions"
    )
    type = models.ForeignKey(
        SubscriptionType,
        on_delete=models.PROTECT,
        related_name="subscriptions",
        verbose_name=_("soort"),
    )
    start = models.DateField(_("ingangsdatum"))
    end = models.DateField(_("einddatum"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(_("gewijzigd op"), default=clock.now)

    class Meta:
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnementen")
        ordering = ["-end"]

    def __str__(self) -> str:
        return f"{self.type} {self.start:%d-%m-%Y} - {self.end:%d-%m-%Y}"

    def is_current(self, on: date | None = None) -> bool:
        day = on or clock.today()
        return self.status == self.Status.ACTIVE and self.start <= day <= self.end

    @property
    def state(self) -> str:
        """active | ended | cancelled | future | pending | lapsed: at a glance."""
        today = clock.today()
        if self.status in (self.Status.CANCELLED, self.Status.PENDING, self.Status.LAPSED):
            return self.status
        if self.end < today:
            return "ended"
        if self.start > today:
            return "future"
        return "active"


class Membership(models.Model):
    """A customer on a subscription, in a role: the main member, a partner or a child."""

    class Role(models.TextChoices):
        MAIN = "main", _("hoofdlid")
        PARTNER = "partner", _("partner")
        CHILD = "child", _("kind")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="memberships"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("rol"), max_length=16, choices=Role.choices, default=Role.MAIN)

    class Meta:
        verbose_name = _("lidmaatschap")
        verbose_name_plural = _("lidmaatschappen")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "customer"], name="membership_once")
        ]

    def __str__(self) -> str:
        return f"{self.customer} ({self.get_role_display()})"
