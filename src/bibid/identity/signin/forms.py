"""The sign-in form: only syntax is checked here; the decision is in flow.py."""

import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

USERNAME_MAX = 254  # people type e-mail addresses and card numbers here too
PASSWORD_MAX = 1024


def _refuse(categories: set[str]):
    def validator(value: str) -> None:
        if any(unicodedata.category(ch) in categories for ch in value):
            raise ValidationError(
                _("Dit veld bevat tekens die niet getypt kunnen worden. Typ het opnieuw."),
                code="control_characters",
            )

    return validator


# Control characters never belong in anything a person types (NUL would also make PostgreSQL
# refuse the event insert). Names also refuse invisible format characters; passwords keep
# them, because emoji sequences joined by U+200D are allowed in passwords (NIST 800-63B).
username_characters = _refuse({"Cc", "Cf", "Cs", "Co"})
password_characters = _refuse({"Cc", "Cs"})


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Gebruikersnaam of pasnummer"),
        max_length=USERNAME_MAX,
        validators=[username_characters],
        error_messages={
            "required": _("Vul je gebruikersnaam of pasnummer in."),
            "max_length": _("Dit is te lang voor een gebruikersnaam."),
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Wachtwoord"),
        strip=False,
        max_length=PASSWORD_MAX,
        validators=[password_characters],
        error_messages={
            "required": _("Vul je wachtwoord in."),
            "max_length": _("Dit is te lang voor een wachtwoord."),
        },
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
