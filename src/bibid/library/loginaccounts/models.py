"""The durable queue of authorization pushes to the login service."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class PendingPush(models.Model):
    """A customer whose data or rights changed and must be pushed to the login service.

    One row per customer: changes made while a push waits are coalesced, because a push
    sends the customer's whole current state. The version says which request a push
    answered, so that a change arriving during a push is pushed again, never lost.
    """

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="pending_push"
    )
    version = models.PositiveIntegerField(default=1)
    requested_at = models.DateTimeField(default=clock.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=clock.now, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("wachtende autorisatie")
        verbose_name_plural = _("wachtende autorisaties")
        ordering = ["requested_at"]

    def __str__(self) -> str:
        return f"{self.customer} v{self.version}"


class UnconfirmedCall(models.Model):
    """A changing call to the login service that got no answer in time (a timeout, or a 5xx
    while answering): it may or may not have been carried out.

    The library does not guess. It keeps the exact request (with its Idempotency-Key) and
    sends it again until the login service answers: identity replays the first answer if it
    was carried out, or carries it out now if it never ran; either way the library then does
    its own half (remember the link, ...) and the row is settled. Meanwhile the console says
    "nog niet bevestigd door de inlogdienst; wordt gecontroleerd".
    """

    class Outcome(models.TextChoices):
        DONE = "done", _("uitgevoerd")
        NOT_DONE = "not_done", _("niet uitgevoerd")
        GAVE_UP = "gave_up", _("niet meer na te gaan")

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="unconfirmed_calls"
    )
    action = models.CharField(max_length=40)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    body = models.JSONField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200)
    # Who acted (role, opaque staff reference), sent again with the replay.
    acting = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=clock.now)
    settled_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("onbevestigde wijziging")
        verbose_name_plural = _("onbevestigde wijzigingen")
        ordering = ["created_at"]
        indexes = [models.Index(fields=["settled_at", "next_attempt_at"], name="unconfirmed_due")]

    def __str__(self) -> str:
        return f"{self.action} {self.customer_id} ({self.outcome or 'open'})"
