"""An import run (its checkpoint and counts: the audit event of the run) and what it refused."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class ImportRun(models.Model):
    """One import of one file, from its first row to its last, however often it was resumed.

    The checkpoint (`offset`, `line`) moves in the same transaction as each batch's rows, so
    after an interruption the rows before it are all in and none after it: a new run of the
    same file (the same SHA-256) continues from here.
    """

    kind = models.CharField(_("soort"), max_length=32)  # "accounts" | "customers"
    source = models.CharField(_("bestand"), max_length=500)
    source_sha256 = models.CharField(_("SHA-256 van het bestand"), max_length=64)
    actor = models.CharField(_("door"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("begonnen op"), default=clock.now)
    updated_at = models.DateTimeField(_("bijgewerkt op"), default=clock.now)
    finished_at = models.DateTimeField(_("klaar op"), null=True, blank=True)
    # The byte offset of the first row not yet done, and the line number of the last one done.
    offset = models.BigIntegerField(default=0)
    line = models.BigIntegerField(default=0)
    counts = models.JSONField(_("aantallen"), default=dict, blank=True)
    resumed = models.PositiveIntegerField(_("hervat"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        constraints = [
            # Two processes importing the same file at once would each skip what the other
            # wrote as "already there" and report conflicts that are none: one open run.
            models.UniqueConstraint(
                fields=["kind", "source_sha256"],
                condition=Q(finished_at__isnull=True),
                name="import_one_open_run_per_file",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source} ({self.started_at:%Y-%m-%d %H:%M})"


class ImportProblem(models.Model):
    """A row that was refused, or that met other data already there (a conflict)."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="problems")
    line = models.BigIntegerField(_("regel"))
    key = models.CharField(_("sleutel"), max_length=200, blank=True)
    outcome = models.CharField(_("uitkomst"), max_length=32)  # refused | conflict | ...
    field = models.CharField(_("veld"), max_length=64, blank=True)
    code = models.CharField(_("code"), max_length=64)
    reason = models.TextField(_("reden"))

    class Meta:
        verbose_name = _("importprobleem")
        verbose_name_plural = _("importproblemen")
        ordering = ["run", "line", "id"]

    def __str__(self) -> str:
        return f"{self.line} {self.code}"
