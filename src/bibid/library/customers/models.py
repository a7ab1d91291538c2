"""A customer of one library, and what the library knows of their login account."""

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


def version_now() -> int:
    """A push version from the clock (microseconds): versions only go up, also across a
    restore of the library's database from a backup or a reset of demo data, which a plain
    counter would take back below what the login service already holds (every later push
    would then be refused as old)."""
    return int(clock.now().timestamp() * 1_000_000)


class Customer(models.Model):
    """One person (an actor); each family member is a customer of their own."""

    class Kind(models.TextChoices):
        REGULAR = "regular", _("klant")
        COLLEAGUE = "colleague", _("collega")
        VOLUNTEER = "volunteer", _("vrijwilliger")

    library = models.ForeignKey(
        "tenants.Library",
        on_delete=models.PROTECT,
        related_name="customers",
        verbose_name=_("bibliotheek"),
    )
    card_number = models.CharField(_("pasnummer"), max_length=20)
    name = models.CharField(_("naam"), max_length=200)
    birth_date = models.DateField(_("geboortedatum"))
    # The library's own address: on purpose distinct from the login's recovery address.
    email = models.EmailField(_("e-mailadres"), blank=True)
    phone = models.CharField(_("telefoon"), max_length=30, blank=True)
    kind = models.CharField(_("soort"), max_length=16, choices=Kind.choices, default=Kind.REGULAR)
    # A colleague or volunteer who became a regular customer stays private until this day
    # (the next library day): changing the kind must not reveal their account the same day.
    private_until = models.DateField(_("privé tot"), null=True, blank=True)
    created_at = models.DateTimeField(_("ingeschreven op"), default=clock.now, editable=False)
    updated_at = models.DateTimeField(_("gewijzigd op"), default=clock.now)
    # The login account linked to this customer, as last known from the login service.
    account_id = models.UUIDField(_("inlogaccount-id"), null=True, blank=True)
    account_username = models.CharField(_("gebruikersnaam"), max_length=80, blank=True)
    account_linked_at = models.DateTimeField(_("gekoppeld op"), null=True, blank=True)
    # Goes up with every change that is pushed to the login service (pushes.request_push),
    # in the same transaction as the change; every push carries it, so that the login
    # service can tell an old push that arrived late from a newer one.
    authorization_version = models.BigIntegerField(
        _("autorisatieversie"), default=version_now, editable=False
    )

    class Meta:
        verbose_name = _("klant")
        verbose_name_plural = _("klanten")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["library", "card_number"], name="customer_card_unique_per_library"
            ),
        ]
        indexes = [
            models.Index(Lower("name"), "library", name="customer_name"),
            models.Index(Lower("email"), "library", name="customer_email"),
            models.Index(Lower("account_username"), "library", name="customer_username"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.card_number})"

    PRIVATE_KINDS = ("colleague", "volunteer")

    @property
    def is_private(self) -> bool:
        """Colleagues and volunteers: staff may not see their login account (the seed); and
        one who stopped being one, until the next library day (private_until)."""
        if self.kind in self.PRIVATE_KINDS:
            return True
        return self.private_until is not None and clock.today() < self.private_until

    @classmethod
    def private_q(cls, today=None) -> models.Q:
        """The same rule as is_private, for a query."""
        return models.Q(kind__in=cls.PRIVATE_KINDS) | models.Q(
            private_until__gt=today or clock.today()
        )

    @property
    def has_login_account(self) -> bool:
        return self.account_id is not None

    def age_on(self, day) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years
