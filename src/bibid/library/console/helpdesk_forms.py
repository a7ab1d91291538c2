"""Forms of the console's helpdesk: which problem to diagnose, which fix, which answer."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from bibid.library.helpdesk.diagnosis import PROBLEMS

from .forms import printable

# The buttons of the Helpdesk box, in the seed's order; LOGOUT_DETECTED is the message the
# customer reads out, so it stays as it is.
LABELS = {
    "cannot-login": _("Kan niet inloggen"),
    "no-ebook-rights": _("Geen rechten e-books"),
    "logout-detected": "LOGOUT_DETECTED",
    "inactive-account": _("Inactief inlogaccount"),
}
CHOICES = [(code, LABELS.get(code, code)) for code in PROBLEMS]
PROBLEM_ERRORS = {
    "required": _(
        "Kies een probleem: Kan niet inloggen, Geen rechten e-books, "
        "LOGOUT_DETECTED of Inactief inlogaccount."
    ),
    "invalid_choice": _(
        "Onbekend probleem. Kies: Kan niet inloggen, Geen rechten e-books, "
        "LOGOUT_DETECTED of Inactief inlogaccount."
    ),
}


def typed_username_field() -> forms.CharField:
    return forms.CharField(
        label=_("Gebruikersnaam die de klant intypt"),
        max_length=254,
        required=False,
        validators=[printable],
        help_text=_(
            "Niet verplicht. Vul in wat de klant bij het inloggen typt: dan wordt ook "
            "gecontroleerd of dat het juiste inlogaccount is."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )


class DiagnoseForm(forms.Form):
    """The Helpdesk box: one submit button per problem, the typed username optional."""

    prefix = "helpdesk"
    problem = forms.ChoiceField(choices=CHOICES, error_messages=PROBLEM_ERRORS)
    username = typed_username_field()


class FixForm(forms.Form):
    """The fix of one finding. Only the finding's code comes from the page: what is carried
    out is what a fresh diagnosis offers for that code."""

    problem = forms.ChoiceField(choices=CHOICES, error_messages=PROBLEM_ERRORS)
    code = forms.CharField(max_length=40, validators=[RegexValidator(r"^[a-z][a-z-]*$")])
    username = forms.CharField(max_length=254, required=False, validators=[printable])
    bevestig = forms.BooleanField(required=False)
    case = forms.IntegerField(required=False, min_value=1)  # the diagnosis on the page


class LinkStepForm(forms.Form):
    """What the account_link fix's second step carries besides the code: which diagnosis to
    run again afterwards."""

    problem = forms.ChoiceField(choices=CHOICES, error_messages=PROBLEM_ERRORS)
    username = forms.CharField(max_length=254, required=False, validators=[printable])
    case = forms.IntegerField(required=False, min_value=1)


class AnswerForm(forms.Form):
    node = forms.CharField(max_length=64, validators=[RegexValidator(r"^[a-z][a-z0-9_-]*$")])
    label = forms.CharField(max_length=200, validators=[printable])
