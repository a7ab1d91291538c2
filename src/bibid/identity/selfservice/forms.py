"""Forms of the self-service pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from bibid.identity.signin.forms import password_characters, username_characters

PASSWORD_MAX = 1024


def new_password_field(label):
    return forms.CharField(
        label=label,
        strip=False,
        max_length=PASSWORD_MAX,
        validators=[password_characters],
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={
            "required": _("Vul een wachtwoord in."),
            "max_length": _("Dit is te lang voor een wachtwoord."),
        },
    )


class NewPasswordForm(forms.Form):
    password = new_password_field(_("Nieuw wachtwoord"))
    password_again = new_password_field(_("Herhaal het nieuwe wachtwoord"))
    password.help_text = _(
        "Minstens 8 tekens. Een zin van een paar woorden is sterk en makkelijk te onthouden."
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("password")
            and data.get("password_again") is not None
            and data["password"] != data["password_again"]
        ):
            self.add_error("password_again", _("De twee wachtwoorden zijn niet hetzelfde."))
        return data


class ActivateForm(NewPasswordForm):
    """The activation page: the password, and (optionally) a username of one's own."""

    username = forms.CharField(
        label=_("Gebruikersnaam (mag je zelf kiezen)"),
        max_length=80,
        required=False,
        validators=[username_characters],
        help_text=_(
            "4 tot 80 tekens: letters, cijfers en _ - @ . "
            "Laat je hem staan, dan blijft dit je "
            "gebruikersnaam."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    field_order = ["username", "password", "password_again"]

    def __init__(self, *args, may_choose_username: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # Offered only when the patron's library offers username changes at all.
        self.may_choose_username = may_choose_username
        if not may_choose_username:
            del self.fields["username"]


class ForgotPasswordForm(forms.Form):
    name = forms.CharField(
        label=_("Gebruikersnaam of pasnummer"),
        max_length=254,
        validators=[username_characters],
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
        error_messages={
            "required": _("Vul je gebruikersnaam of pasnummer in."),
            "max_length": _("Dit is te lang voor een gebruikersnaam."),
        },
    )


class ForgotUsernameForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mailadres"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "required": _("Vul je e-mailadres in."),
            "invalid": _("Dit is geen geldig e-mailadres."),
        },
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(
        label=_("Huidig wachtwoord"),
        strip=False,
        max_length=PASSWORD_MAX,
        validators=[password_characters],
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("Vul je huidige wachtwoord in.")},
    )
    field_order = ["current_password", "password", "password_again"]


class ConfirmWithPassword(forms.Form):
    """For a change that needs the password again (the sign-in was not recent)."""

    current_password = forms.CharField(
        label=_("Je wachtwoord"),
        strip=False,
        max_length=PASSWORD_MAX,
        required=False,
        validators=[password_characters],
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, needs_password: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_password = needs_password
        if needs_password:
            self.fields["current_password"].required = True
            self.fields["current_password"].error_messages["required"] = _(
                "Vul ter bevestiging je wachtwoord in."
            )
        else:
            del self.fields["current_password"]


class ChangeEmailForm(ConfirmWithPassword):
    email = forms.EmailField(
        label=_("Nieuw herstel-e-mailadres"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"invalid": _("Dit is geen geldig e-mailadres.")},
    )
    field_order = ["email", "current_password"]


class ChangeUsernameForm(ConfirmWithPassword):
    username = forms.CharField(
        label=_("Nieuwe gebruikersnaam"),
        max_length=80,
        validators=[username_characters],
        help_text=_("4 tot 80 tekens: letters, cijfers en _ - @ ."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    field_order = ["username", "current_password"]


class DeleteAccountForm(forms.Form):
    current_password = forms.CharField(
        label=_("Je wachtwoord"),
        strip=False,
        max_length=PASSWORD_MAX,
        validators=[password_characters],
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("Vul ter bevestiging je wachtwoord in.")},
    )
    understood = forms.BooleanField(
        label=_(
            "Ik begrijp dat mijn inlogaccount verdwijnt en dat ik er niet meer mee kan inloggen."
        ),
        error_messages={"required": _("Vink aan dat je dit begrijpt.")},
    )


class PasskeyNameForm(forms.Form):
    """The name a patron gives a passkey ("telefoon", "laptop thuis")."""

    name = forms.CharField(
        label=_("Naam van de passkey"),
        max_length=64,
        help_text=_("Zodat je later weet welke het is, bijvoorbeeld telefoon of laptop."),
    )
