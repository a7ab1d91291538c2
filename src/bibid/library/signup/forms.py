"""The sign-up form."""

from django import forms
from django.utils.translation import gettext_lazy as _

from bibid.common.words import money
from bibid.library.customers.validators import past_date, printable


class SignupForm(forms.Form):
    name = forms.CharField(
        label=_("Je naam"),
        max_length=200,
        validators=[printable],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    birth_date = forms.DateField(
        label=_("Geboortedatum"),
        validators=[past_date],
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
    )
    email = forms.EmailField(
        label=_("E-mailadres"),
        max_length=254,
        help_text=_("Hierheen sturen we de link om je inlogaccount te activeren."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    subscription_type = forms.ModelChoiceField(
        label=_("Abonnement"), queryset=None, empty_label=None, widget=forms.RadioSelect
    )
    # No username here: whether a name is free would show in the answer or the mail (an
    # oracle for anyone). The account starts with the card number; the patron may choose a
    # name on the activation page, after the link proved the address.
    terms = forms.BooleanField(
        label=_("Ik ga akkoord met de voorwaarden van de bibliotheek."),
        error_messages={"required": _("Ga akkoord met de voorwaarden om lid te worden.")},
    )

    def __init__(self, *args, types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subscription_type"].queryset = types
        # Called when the form is drawn, so the price is in the page's language (€ 39,00).
        self.fields["subscription_type"].label_from_instance = lambda t: (
            _("%(name)s (%(price)s per jaar)") % {"name": t.name, "price": money(t.price)}
        )
