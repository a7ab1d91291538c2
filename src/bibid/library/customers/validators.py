"""Validators of what people type about a customer (and staff type into the console): shared
by the console's forms and the online sign-up, so both refuse the same input."""

from __future__ import annotations

import unicodedata
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bibid.common import clock


def printable(value: str) -> None:
    # Control, format, surrogate and private-use characters cannot be typed; pasted in, they
    # hide text (a right-to-left override) or break what later prints or exports the value.
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} for ch in value):
        raise ValidationError(
            _("Dit veld bevat tekens die niet getypt kunnen worden."), code="control_characters"
        )


def past_date(value: date) -> None:
    if value > clock.today():
        raise ValidationError(_("Deze datum ligt in de toekomst."), code="future")
    if value.year < 1900:
        raise ValidationError(_("Controleer het jaar."), code="too_old")
