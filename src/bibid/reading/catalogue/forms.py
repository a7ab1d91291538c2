"""The catalogue's search form (GET): words, kind, youth or adult."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# The address speaks Dutch (?soort=luisterboek&voor=jeugd); the code speaks English.
KINDS = {"e-book": "ebook", "luisterboek": "audiobook"}
AUDIENCES = {"jeugd": True, "volwassenen": False}


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Zoek op titel of auteur"),
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )
    soort = forms.ChoiceField(
        label=_("Soort"),
        required=False,
        choices=[
            ("", _("E-books en luisterboeken")),
            ("e-book", _("E-books")),
            ("luisterboek", _("Luisterboeken")),
        ],
    )
    voor = forms.ChoiceField(
        label=_("Voor"),
        required=False,
        choices=[("", _("Iedereen")), ("jeugd", _("Jeugd")), ("volwassenen", _("Volwassenen"))],
    )

    def filters(self) -> dict:
        """The valid part of the search: a bad value in one field does not spoil the rest."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "query": data.get("q") or "",
            "kind": KINDS.get(data.get("soort") or "", ""),
            "youth": AUDIENCES.get(data.get("voor") or ""),
        }
