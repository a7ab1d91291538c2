"""Loans of e-books and audiobooks, and the reader row that puts one patron's borrows in line.

A patron is known here only by the account's public id at identity (`sub`): the reading
service keeps no accounts of its own. A loan ends by itself when its due time passes; nothing
has to run for that, every page computes it from the clock.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class Reader(models.Model):
    """One row per patron who ever borrowed: borrows lock it, so that two at the same moment
    are counted one after the other (never both against the same free place)."""

    sub = models.CharField(_("inlogaccount-id"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("eerste lening"), default=clock.now, editable=False)

    class Meta:
        verbose_name = _("lezer")
        verbose_name_plural = _("lezers")

    def __str__(self) -> str:
        return self.sub


class Loan(models.Model):
    sub = models.CharField(_("inlogaccount-id"), max_length=64)
    title = models.ForeignKey(
        "catalogue.Title", on_delete=models.PROTECT, related_name="loans", verbose_name=_("titel")
    )
    # Copied from the title: the rights count e-books and audiobooks apart, and a count must
    # not change if a title were ever corrected.
    kind = models.CharField(_("soort"), max_length=16)
    started_at = models.DateTimeField(_("geleend op"), default=clock.now)
    due_at = models.DateTimeField(_("geleend tot"))
    renewed = models.BooleanField(_("verlengd"), default=False)
    renewed_at = models.DateTimeField(_("verlengd op"), null=True, blank=True)
    returned_at = models.DateTimeField(_("ingeleverd op"), null=True, blank=True)

    class Meta:
        verbose_name = _("lening")
        verbose_name_plural = _("leningen")
        ordering = ["-started_at", "-pk"]
        indexes = [
            # The rules read one patron's loans of one kind from the last year.
            models.Index(fields=["sub", "kind", "started_at"], name="loan_sub_kind_started"),
            # The shelf and the catalogue read one patron's current loans.
            models.Index(fields=["sub", "due_at"], name="loan_sub_due"),
        ]

    def __str__(self) -> str:
        return f"{self.sub} {self.title_id} {self.started_at:%Y-%m-%d}"

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or clock.now()
        return self.returned_at is None and self.due_at > now

    @property
    def ended_at(self) -> datetime:
        """When the loan ended (or will end): given back, or due."""
        return self.returned_at or self.due_at
