"""What Mijn Menu says about rights and subscriptions, in plain words for the patron."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

RIGHT_NAMES = {
    "ebooks": gettext_lazy("E-books"),
    "audiobooks": gettext_lazy("Luisterboeken"),
}

STATES = {
    "active": gettext_lazy("Lopend"),
    "ended": gettext_lazy("Afgelopen"),
    "cancelled": gettext_lazy("Opgezegd"),
    "future": gettext_lazy("Gaat nog in"),
    "pending": gettext_lazy("Wacht tot je je inlogaccount activeert"),
    "lapsed": gettext_lazy("Vervallen: het inlogaccount is niet op tijd geactiveerd"),
}


def day(value: date) -> str:
    """A date as Dutch people write it: 31-12-2026."""
    return f"{value:%d-%m-%Y}"


def right_name(code: str) -> str:
    return str(RIGHT_NAMES.get(code, code))


def describe_right(right: dict[str, Any]) -> str:
    """Describe one pushed right in a sentence: "E-books: 10 per jaar, geldig tot 31-12-2026"."""
    limits = right.get("limits") or {}
    terms: list[str] = []
    loans = limits.get("loans")
    if isinstance(loans, int) and not isinstance(loans, bool):
        period = limits.get("period")
        if period == "year":
            terms.append(_("%(loans)d per jaar") % {"loans": loans})
        elif period == "concurrent":
            terms.append(_("%(loans)d tegelijk") % {"loans": loans})
        else:
            terms.append(_("%(loans)d titels") % {"loans": loans})
    if limits.get("youth"):
        terms.append(_("alleen jeugdtitels"))
    until = right.get("valid_until")
    if until:
        terms.append(_("geldig tot %(day)s") % {"day": day(date.fromisoformat(str(until)))})
    name = right_name(str(right.get("code", "")))
    return f"{name}: {', '.join(terms)}" if terms else name


def state_text(state: str) -> str:
    return str(STATES.get(state, state))
