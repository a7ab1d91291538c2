"""A case: one diagnosis of one customer's problem, with the path it took, and what
happened after (a fix, answers), so the report can say what occurs and what works."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


class Case(models.Model):
    class Outcome(models.TextChoices):
        FIX = "fix-available", _("oplossing beschikbaar")
        ASK = "ask-customer", _("vraag aan de klant")
        NONE = "no-problem-found", _("geen probleem gevonden")
        NOT_ALLOWED = "not-allowed", _("niet toegestaan")

    library = models.ForeignKey(
        "tenants.Library", on_delete=models.CASCADE, related_name="helpdesk_cases"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, related_name="helpdesk_cases"
    )
    staff = models.ForeignKey(
        "staff.Staff", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    who = models.CharField(max_length=120)
    via = models.CharField(max_length=16)  # console | api | cli
    problem = models.CharField(max_length=32)
    procedure = models.CharField(max_length=64)
    procedure_version = models.PositiveIntegerField()
    typed_username = models.CharField(max_length=254, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    first_code = models.CharField(max_length=40)
    findings = models.JSONField(default=list)  # on the walked path; the first is the cause
    also_seen = models.JSONField(default=list)  # found by checks off the path
    path = models.JSONField(default=list)
    answers = models.JSONField(default=dict)
    done = models.JSONField(default=list)  # action nodes carried out (the walk goes past)
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    # The diagnosis run again after a fix of this one, and whether the fix took the
    # cause away at the first try.
    followed_by = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follows"
    )
    fix_operation = models.CharField(max_length=64, blank=True)
    fix_worked = models.BooleanField(null=True)  # null: not known (yet)
    # worked | not_worked | waiting_for_patron | waiting_for_push (diagnosis.FixState)
    fix_state = models.CharField(max_length=24, blank=True)
    ended = models.CharField(max_length=64, blank=True)  # the node the case ended at

    class Meta:
        verbose_name = _("helpdeskzaak")
        verbose_name_plural = _("helpdeskzaken")
        indexes = [models.Index(fields=["library", "created_at"], name="case_library_at")]

    def __str__(self) -> str:
        return f"{self.problem} {self.first_code} {self.created_at:%Y-%m-%d %H:%M}"
