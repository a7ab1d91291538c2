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

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE,
                                    related_name="pending_push")
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
