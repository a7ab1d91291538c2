"""A library organisation, its settings, and how it reaches the login service."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.sealing import seal, unseal


class Library(models.Model):
    """One library organisation. Every customer, subscription and staff member belongs to one."""

    class Flow(models.TextChoices):
        SIGNUP = "signup", _("Self-service lid worden")
        PASSWORD_RESET = "password_reset", _("Wachtwoord vergeten")
        USERNAME_REMINDER = "username_reminder", _("Gebruikersnaam vergeten")
        PASSWORD_CHANGE = "password_change", _("Wachtwoord wijzigen")
        EMAIL_CHANGE = "email_change", _("E-mailadres wijzigen")
        USERNAME_CHANGE = "username_change", _("Gebruikersnaam wijzigen")
        ACCOUNT_DELETE = "account_delete", _("Account verwijderen")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("naam"), max_length=200)
    email = models.EmailField(_("e-mailadres"), blank=True)
    # Card numbers this library hands out: prefix + a running number.
    card_prefix = models.CharField(_("voorvoegsel pasnummers"), max_length=6)
    next_card_number = models.PositiveBigIntegerField(default=1, editable=False)
    self_service_flows = models.JSONField(
        _("self-service voor klanten"),
        default=list,
        blank=True,
        help_text=_("Welke self-service-onderdelen klanten van deze bibliotheek krijgen."),
    )
    # The library's OAuth2 client at the login service. The secret is stored sealed
    # (encrypted with a key derived from the service's secret key), never in plain text.
    identity_client_id = models.CharField(_("client-id inlogdienst"), max_length=100)
    identity_client_secret_sealed = models.TextField(editable=False)
    # Mijn Menu signs patrons in through the login service as this OpenID Connect client
    # (registered there for this library); the secret is sealed like the API secret.
    mijnmenu_client_id = models.CharField(_("client-id Mijn Menu"), max_length=100, blank=True)
    mijnmenu_client_secret_sealed = models.TextField(blank=True, editable=False)
    # Where this library is in the login service's changes feed.
    changes_cursor = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        verbose_name = _("bibliotheek")
        verbose_name_plural = _("bibliotheken")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def identity_client_secret(self) -> str:
        return unseal(self.identity_client_secret_sealed)

    @identity_client_secret.setter
    def identity_client_secret(self, value: str) -> None:
        self.identity_client_secret_sealed = seal(value)

    @property
    def mijnmenu_client_secret(self) -> str:
        return (
            unseal(self.mijnmenu_client_secret_sealed) if self.mijnmenu_client_secret_sealed else ""
        )

    @mijnmenu_client_secret.setter
    def mijnmenu_client_secret(self, value: str) -> None:
        self.mijnmenu_client_secret_sealed = seal(value)

    def allows(self, flow: str) -> bool:
        return flow in (self.self_service_flows or [])
