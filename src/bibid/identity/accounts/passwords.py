"""Password rules beyond Django's validators (NIST SP 800-63B, OWASP ASVS 5.0)."""

from itertools import pairwise

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_LENGTH = 256


class MaximumLengthValidator:
    """At least 64 characters must be allowed (NIST); far more only costs memory."""

    def validate(self, password: str, user=None) -> None:
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                _("Een wachtwoord heeft hoogstens %(max)d tekens.") % {"max": MAX_LENGTH},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("Hoogstens %(max)d tekens.") % {"max": MAX_LENGTH}


class PredictablePasswordValidator:
    """Refuse passwords made of one repeated character or one run (aaaaaaaa, 12345678, abcdefgh).

    Django's common-password list holds the usual ones; this catches their endless variants
    without imposing composition rules, which NIST advises against.
    """

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        if len(set(lowered)) <= 2 or self._is_run(lowered):
            raise ValidationError(
                _("Dit wachtwoord is te makkelijk te raden. Kies een langere zin of meer woorden."),
                code="password_predictable",
            )

    @staticmethod
    def _is_run(text: str) -> bool:
        steps = {ord(b) - ord(a) for a, b in pairwise(text)}
        return len(steps) == 1 and steps <= {1, -1}

    def get_help_text(self) -> str:
        return _("Geen reeks als 12345678 of aaaaaaaa.")
