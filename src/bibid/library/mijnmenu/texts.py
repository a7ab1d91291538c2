"""What Mijn Menu says about rights and subscriptions, in plain words for the patron."""

from __future__ import annotations

from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bibid.common import words

STATES = {
    "active": gettext_lazy("Lopend"),
    "ended": gettext_lazy("Afgelopen"),
    "cancelled": gettext_lazy("Opgezegd"),
    "future": gettext_lazy("Gaat nog in"),
    "pending": gettext_lazy("Wacht tot je je inlogaccount activeert"),
    "lapsed": gettext_lazy("Vervallen: het inlogaccount is niet op tijd geactiveerd"),
}


def right_name(code: str) -> str:
    """The right's word, as the start of a line: "E-books", "Luisterboeken"."""
    return str(capfirst(words.right_name(code)))


def describe_right(right: dict[str, Any]) -> str:
    """Describe one pushed right in a sentence: "E-books: 10 per jaar, geldig tot 31-12-2026"."""
    terms = [t for t in [words.limits_text(right.get("limits"))] if t]
    until = right.get("valid_until")
    if until:
        terms.append(_("geldig tot %(day)s") % {"day": words.day(str(until))})
    name = right_name(str(right.get("code", "")))
    return f"{name}: {', '.join(terms)}" if terms else name


def state_text(state: str) -> str:
    return str(STATES.get(state, state))
