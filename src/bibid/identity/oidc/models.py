"""The services that sign in through the login (OpenID Connect clients), and the sign-ins
each identity session gave them, so that signing out anywhere reaches all of them."""

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class Client(models.Model):
    """What Bibid knows of a signing-in service beyond django-oauth-toolkit's Application."""

    class Kind(models.TextChoices):
        MIJN_MENU = "mijnmenu", _("Mijn Menu van een bibliotheek")
        READING = "reading", _("Online Bibliotheek")
        OTHER = "other", _("Andere dienst")

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="bibid_client"
    )
    kind = models.CharField(_("soort"), max_length=16, choices=Kind.choices)
    # Mijn Menu of one library: that library's customer reference may go into its tokens
    # (no other service learns card numbers).
    library = models.ForeignKey(
        "libraries.Library",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="oidc_clients",
        verbose_name=_("bibliotheek"),
    )
    backchannel_logout_uri = models.URLField(
        _("back-channel-uitloguri"),
        blank=True,
        help_text=_(
            "Waar de dienst hoort dat een sessie is beëindigd (OpenID Connect "
            "Back-Channel Logout). Leeg: de dienst merkt het bij de sessiecontrole."
        ),
    )
    # Where the service's pages live (scheme://host[:port]), derived from its redirect URIs
    # (bibid.identity.oidc.services.origin_of): the sign-in page's CSP form-action lists it,
    # because the browser holds every redirect after a form post to that directive.
    origin = models.CharField(_("herkomst"), max_length=300, blank=True, editable=False)
    # A disabled service cannot sign anyone in and leaves the CSP; it can be enabled again
    # without a new secret.
    active = models.BooleanField(
        _("actief"),
        default=True,
        help_text=_("Uit: de dienst kan niemand meer laten inloggen."),
    )

    class Meta:
        verbose_name = _("dienst")
        verbose_name_plural = _("diensten")

    def __str__(self) -> str:
        return self.application.name


class ServiceSession(models.Model):
    """One service signed in within one identity session (`sid`).

    The service's first sign-in in that identity session makes it; each later one (a new
    authorization code, e.g. the patron signing in to Mijn Menu again in the same browser)
    joins it. So signing out tells each service once per identity session (one logout
    token per sid and service), and its id is the token family of every refresh token
    issued for it: ending it revokes exactly those tokens.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sid = models.CharField(max_length=64, db_index=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_sessions"
    )
    application = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    # When the identity session behind it ends by itself: refresh is refused after this.
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)
    # How the patron signed in at the latest sign-in that joined it (RFC 8176): a refresh's
    # new ID token says the same as the first.
    amr = models.JSONField(default=list)

    class Meta:
        verbose_name = _("aangemelde dienst")
        verbose_name_plural = _("aangemelde diensten")
        indexes = [models.Index(fields=["account", "ended_at"], name="servicesession_account")]
        constraints = [
            # Two tabs signing in to one service at the same moment must join one session,
            # not make two (each would get its own logout token).
            models.UniqueConstraint(
                fields=["sid", "application"],
                condition=models.Q(ended_at__isnull=True),
                name="servicesession_one_live_per_sid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id}:{self.account_id}:{self.created_at:%Y-%m-%d %H:%M}"

    def is_live(self) -> bool:
        return self.ended_at is None and clock.now() < self.expires_at


class IssuedCode(models.Model):
    """An authorization code: everything its exchange needs, in one row written by one
    statement at the authorization endpoint (django-oauth-toolkit's Grant is not used).

    Only the code's SHA-256 is stored, so the table never holds a usable code. The row is
    kept after the exchange, so that a second use is recognised as a replay (RFC 6749
    4.1.2): the request is refused and the service session ends, revoking every token the
    code yielded (sessions.py). The service session itself is made or joined when the code
    is exchanged (a code never exchanged leaves no session to end); until then the code
    carries its identity session (`sid`, `session_expires_at`), and ending that identity
    session deletes its pending codes.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # Set when the code is exchanged: the session whose tokens a replay revokes.
    session = models.ForeignKey(
        ServiceSession, on_delete=models.CASCADE, related_name="codes", null=True, blank=True
    )
    sid = models.CharField(max_length=64, db_index=True, default="")
    session_expires_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)
    redirect_uri = models.TextField(default="")
    scope = models.TextField(default="")
    code_challenge = models.CharField(max_length=128, default="")
    code_challenge_method = models.CharField(max_length=10, default="")
    nonce = models.CharField(max_length=255, default="")
    # RFC 8707 resource indicators asked for at authorization (DOT's Grant.resource).
    resource = models.JSONField(default=list)
    # How the patron signed in (RFC 8176 values): the ID token's amr and acr.
    amr = models.JSONField(default=list)
    # Where the patron's browser was, for the helpdesk's "signed in to <service>" event,
    # written when the code is exchanged (the token request comes from the service).
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, default="", blank=True)
    created_at = models.DateTimeField(default=clock.now)
    exchanged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("uitgegeven code")
        verbose_name_plural = _("uitgegeven codes")

    def __str__(self) -> str:
        return f"{self.application_id}:{self.created_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def hash(code: str) -> str:
        return hashlib.sha256(code.encode()).hexdigest()


class LogoutDelivery(models.Model):
    """A back-channel logout token on its way to a service, retried until it arrives.

    Self-contained (no foreign keys): it must outlive the account when that is deleted."""

    sub = models.CharField(max_length=64)
    sid = models.CharField(max_length=64)
    client_id = models.CharField(max_length=100)
    uri = models.URLField()
    created_at = models.DateTimeField(default=clock.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=clock.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.client_id} → {self.uri}"
