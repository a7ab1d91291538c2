"""Password validation shared by the login service (patrons) and the library (staff)."""

from django.contrib.auth import password_validation
from django.utils.translation import ngettext


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's rule with our own words: Django 6.1 reworded its message and the Dutch
    translation did not follow, so patrons were told "This password is too short" in
    English on a Dutch page."""

    def get_error_message(self) -> str:
        return ngettext(
            "Een wachtwoord heeft minstens %(min)d teken.",
            "Een wachtwoord heeft minstens %(min)d tekens.",
            self.min_length,
        ) % {"min": self.min_length}

    def get_help_text(self) -> str:
        return ngettext("Minstens %(min)d teken.", "Minstens %(min)d tekens.", self.min_length) % {
            "min": self.min_length
        }
