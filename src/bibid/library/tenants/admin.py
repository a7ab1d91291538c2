"""Operators' view of libraries (the client secret is set, never shown)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Library


class LibraryForm(forms.ModelForm):
    identity_client_secret = forms.CharField(
        label=_("client-secret inlogdienst"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Leeg laten om het huidige te houden."),
    )
    mijnmenu_client_secret = forms.CharField(
        label=_("client-secret Mijn Menu"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Leeg laten om het huidige te houden."),
    )

    class Meta:
        model = Library
        fields = [
            "code",
            "name",
            "email",
            "card_prefix",
            "self_service_flows",
            "identity_client_id",
            "mijnmenu_client_id",
        ]

    def save(self, commit=True):
        library = super().save(commit=False)
        if self.cleaned_data.get("identity_client_secret"):
            library.identity_client_secret = self.cleaned_data["identity_client_secret"]
        if self.cleaned_data.get("mijnmenu_client_secret"):
            library.mijnmenu_client_secret = self.cleaned_data["mijnmenu_client_secret"]
        if commit:
            library.save()
        return library


@admin.register(Library)
class LibraryAdmin(admin.ModelAdmin):
    form = LibraryForm
    list_display = ("name", "code", "card_prefix", "identity_client_id", "mijnmenu_client_id")
    search_fields = ("name", "code")
