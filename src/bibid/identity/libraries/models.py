"""Libraries (OAuth2 clients of the login), links to their customers, and the change feed."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock

FLOWS = (
    "signup",
    "password_reset",
    "username_reminder",
    "password_change",
    "email_change",
    "username_change",
    "account_delete",
)


def all_flows() -> list[str]:
    return list(FLOWS)


class Library(models.Model):
    """A library organisation: a client of the library API (client-credentials grant)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("naam"), max_length=200)
    application = models.OneToOneField(
        "oauth2_provider.Application",
        on_delete=models.PROTECT,
        related_name="library",
        verbose_name=_("API-client"),
    )
    created_at = models.DateTimeField(_("aangemaakt op"), default=clock.now)
    # The self-service flows this library's customers get (the library system says which).
    self_service_flows = models.JSONField(_("self-service"), default=all_flows, blank=True)
    # The card-number prefixes this library hands out (registered by an operator; no two
    # libraries' prefixes overlap). A library links and pushes only card numbers in its own
    # ranges, and a card number signs in only at the library whose range holds it.
    card_prefixes = models.JSONField(_("voorvoegsels pasnummers"), default=list, blank=True)

    class Meta:
        verbose_name = _("bibliotheek")
        verbose_name_plural = _("bibliotheken")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def owns_card_number(self, number: str) -> bool:
        return any(prefix and number.startswith(prefix) for prefix in self.card_prefixes or ())


class Link(models.Model):
    """One library customer linked to one login account, with what the library pushed.

    A customer has at most one account per library, and an account at most one customer per
    library (linking a partner's or child's account to the wrong actor is the mix-up the
    seed warns about); the database enforces both.
    """

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="links")
    customer_ref = models.CharField(_("klantreferentie"), max_length=64)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="links"
    )
    linked_at = models.DateTimeField(_("gekoppeld op"), default=clock.now)
    # The customer's card number as the library last pushed it: patrons may sign in with it.
    card_number = models.CharField(_("pasnummer"), max_length=64, blank=True, db_index=True)
    customer = models.JSONField(_("klantgegevens"), default=dict, blank=True)
    rights = models.JSONField(_("rechten"), default=list, blank=True)
    authorized_at = models.DateTimeField(_("geautoriseerd op"), null=True, blank=True)
    # A digest of customer + rights: an identical push is recognised without a comparison
    # of the JSON, which keeps the nightly bulk push cheap when little changed.
    authorization_digest = models.CharField(max_length=64, blank=True)
    # The library's own per-customer version of what it pushed (it counts up with every
    # change). A push with a lower version than this is an old one that arrived late (a
    # timed-out request identity still carried out): it is never applied over a newer one.
    authorization_version = models.BigIntegerField(_("autorisatieversie"), default=0)

    class Meta:
        verbose_name = _("koppeling")
        verbose_name_plural = _("koppelingen")
        constraints = [
            models.UniqueConstraint(
                fields=["library", "customer_ref"], name="link_one_account_per_customer"
            ),
            models.UniqueConstraint(
                fields=["library", "account"], name="link_one_customer_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.library_id}:{self.customer_ref}"


class Change(models.Model):
    """What a library must learn about its linked accounts; read in order from a cursor.

    The id is the cursor: a library that was down asks for everything after the last id it
    saw and loses nothing.
    """

    class Kind(models.TextChoices):
        ACCOUNT_ACTIVATED = "account_activated", _("inlogaccount geactiveerd")
        ACCOUNT_DELETED = "account_deleted", _("inlogaccount verwijderd")
        USERNAME_CHANGED = "username_changed", _("gebruikersnaam gewijzigd")
        LINK_REMOVED = "link_removed", _("koppeling verwijderd")
        # Told to the library that made the link: a library whose request timed out learns
        # from its feed that the link was made after all, so its own record is repaired.
        LINK_CREATED = "link_created", _("koppeling gemaakt")

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(default=clock.now)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    customer_ref = models.CharField(max_length=64)
    account_public_id = models.UUIDField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["library", "id"], name="change_library_cursor"),
            # The status answer's `removed`: the newest change about one customer of one
            # library, found without reading the rest of that library's feed.
            models.Index(fields=["library", "customer_ref", "id"], name="change_library_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.kind} {self.customer_ref}"


class IdempotentRequest(models.Model):
    """The stored answer to a changing request, replayed when the same key comes again."""

    library = models.ForeignKey(Library, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)  # null while the first one runs
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["library", "key"], name="idempotency_key_per_library")
        ]

    def __str__(self) -> str:
        return self.key


class LibraryEvent(models.Model):
    """A library's call that is about many accounts at once (a bulk push), for the audit."""

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=clock.now, db_index=True)
    operation = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("bibliotheekgebeurtenis")
        verbose_name_plural = _("bibliotheekgebeurtenissen")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.operation}"


class LinkRequest(models.Model):
    """A library asks to link an existing account to its customer; the patron must agree.

    The patron agrees by reading out a code mailed to the account's confirmed recovery address,
    or by signing in on the handover page. The id is the handover page's address (random,
    unguessable); the code is kept only as a keyed hash.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("wacht op de klant")
        CONFIRMED = "confirmed", _("bevestigd door de klant")
        LINKED = "linked", _("gekoppeld")
        CANCELLED = "cancelled", _("geweigerd of vervallen")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="link_requests")
    customer_ref = models.CharField(max_length=64)
    typed = models.CharField(max_length=254, blank=True)
    # The account the typed name points at (null: none, or no name was given); kept hidden
    # from the library until the patron has confirmed.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="link_requests",
    )
    code_digest = models.CharField(max_length=64, blank=True)
    wrong_codes = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    confirmed_via = models.CharField(max_length=16, blank=True)  # "code" | "sign-in"
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    acting = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("koppelverzoek")
        verbose_name_plural = _("koppelverzoeken")
        indexes = [models.Index(fields=["library", "customer_ref"], name="linkrequest_customer")]

    def __str__(self) -> str:
        return f"{self.library_id}:{self.customer_ref} {self.state}"
