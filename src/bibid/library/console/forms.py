"""Forms of the staff console (Dutch labels; Django's i18n for English)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bibid.common.words import money
from bibid.library.customers.validators import past_date, printable
from bibid.library.staff.models import Staff


class StaffLoginForm(forms.Form):
    username = forms.CharField(
        label=_("Gebruikersnaam"),
        max_length=80,
        validators=[printable],
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Wachtwoord"),
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Zoek op pasnummer, naam, e-mailadres of gebruikersnaam"),
        max_length=200,
        required=False,
        validators=[printable],
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "autocomplete": "off"}),
    )


class GenerateForm(forms.Form):
    username = forms.CharField(
        label=_("Gebruikersnaam"),
        max_length=80,
        required=False,
        validators=[printable],
        help_text=_("Leeg laten: het pasnummer wordt de gebruikersnaam."),
    )
    recovery_email = forms.EmailField(
        label=_("Herstel-e-mailadres"),
        required=False,
        help_text=_("Hierheen gaat de activeringsmail. Leeg: het e-mailadres van de klant."),
    )


class LinkForm(forms.Form):
    username = forms.CharField(
        label=_("Gebruikersnaam waarmee de klant inlogt"),
        max_length=254,
        required=False,
        validators=[printable],
        help_text=_(
            "Vraag de klant om de gebruikersnaam; dan krijgt de klant een code per "
            "e-mail. Leeg laten: de klant logt zelf in op het scherm. Let op bij "
            "gezinnen: koppel het account van deze persoon, niet dat van een partner "
            "of kind."
        ),
    )


class LinkConfirmForm(forms.Form):
    """Step 2 of linking: the code the patron reads out, or "the patron has confirmed" on the
    handover page (without_code). The request id travels in a hidden field; identity checks
    that it belongs to this library and this customer."""

    request_id = forms.UUIDField(widget=forms.HiddenInput)
    code = forms.RegexField(
        label=_("Code uit de e-mail"),
        regex=r"^\s*\d{6}\s*$",
        required=False,
        error_messages={"invalid": _("De code bestaat uit 6 cijfers.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "maxlength": 8,
                "spellcheck": "false",
            }
        ),
    )
    without_code = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if (
            not data.get("without_code")
            and not (data.get("code") or "").strip()
            and "code" not in self.errors
        ):
            self.add_error(
                "code", _('Vul de code uit de e-mail in, of kies "De klant heeft bevestigd".')
            )
        return data


class CustomerForm(forms.Form):
    name = forms.CharField(label=_("Naam"), max_length=200, validators=[printable])
    birth_date = forms.DateField(
        label=_("Geboortedatum"),
        validators=[past_date],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    email = forms.EmailField(label=_("E-mailadres"), required=False)
    phone = forms.CharField(
        label=_("Telefoon"), max_length=30, required=False, validators=[printable]
    )


class MemberForm(forms.Form):
    """A partner or child on a family subscription (an empty row is skipped)."""

    role = forms.ChoiceField(
        label=_("Rol"), choices=[("partner", _("partner")), ("child", _("kind"))]
    )
    name = forms.CharField(label=_("Naam"), max_length=200, required=False, validators=[printable])
    birth_date = forms.DateField(
        label=_("Geboortedatum"),
        required=False,
        validators=[past_date],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    email = forms.EmailField(label=_("E-mailadres"), required=False)
    login_account = forms.BooleanField(label=_("Ook een inlogaccount"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("name") and not data.get("birth_date"):
            self.add_error("birth_date", _("Vul de geboortedatum in."))
        if data.get("birth_date") and not data.get("name"):
            self.add_error("name", _("Vul de naam in."))
        return data


MemberFormSet = forms.formset_factory(MemberForm, extra=4, max_num=8, validate_max=True)


class RegistrationForm(CustomerForm):
    subscription_type = forms.ModelChoiceField(
        label=_("Abonnement"), queryset=None, empty_label=None
    )
    start = forms.DateField(
        label=_("Ingangsdatum"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leeg: vandaag."),
    )
    login_account = forms.BooleanField(
        label=_("Gebruik inlogaccount"), required=False, initial=True
    )
    username = forms.CharField(
        label=_("Gebruikersnaam"),
        max_length=80,
        required=False,
        validators=[printable],
        help_text=_("Leeg: het pasnummer wordt de gebruikersnaam."),
    )
    activate_now = forms.BooleanField(
        label=_("De klant staat aan de balie: activeer het inlogaccount direct"), required=False
    )

    def __init__(self, *args, library, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subscription_type"].queryset = library.subscription_types.filter(active=True)
        # Called when the form is drawn, so the price is in the page's language (€ 39,00).
        self.fields["subscription_type"].label_from_instance = lambda t: (
            f"{t.name} ({money(t.price)})"
        )


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Waarvoor is dit token?"), max_length=100, validators=[printable]
    )
    role = forms.ChoiceField(
        label=_("Wat mag het token?"),
        required=False,
        help_text=_(
            "Nooit meer dan jouw eigen rol; kies de laagste die het programma nodig heeft."
        ),
    )
    days = forms.IntegerField(
        label=_("Geldig (dagen)"),
        min_value=1,
        max_value=365,
        initial=90,
        required=False,
        help_text=_("Hoogstens 365 dagen; daarna werkt het token niet meer."),
    )

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        ranks = [Staff.Role.DESK, Staff.Role.HELPDESK, Staff.Role.MANAGER]
        own = ranks.index(staff.role) if staff is not None and staff.role in ranks else 0
        self.fields["role"].choices = [(r.value, r.label) for r in ranks[: own + 1]]
        self.fields["role"].initial = ranks[own].value
