"""What a person reads instead of a code or a raw value: money, rights and moments, in the
active language through Django's localisation (formats in bibid/common/formats).

One table for the rights' names: the staff console, the helpdesk, Mijn Menu and the Online
Bibliotheek all read it, so "e-books" is never "ebooks" on one page and "E-books lenen"
drifting apart on another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import formats, timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

# No break between the sign and the amount: on a phone a narrow column wraps elsewhere.
EURO = "€\u00a0"


def money(amount: Decimal | int | float | str) -> str:
    """Write an amount in euros as the active language does: "€ 39,00" (nl), "€ 39.00" (en)."""
    return EURO + formats.number_format(Decimal(str(amount)), 2, use_l10n=True, force_grouping=True)


# The rights a library can give, by the code identity and the libraries exchange. The code
# stays in the API, in data attributes and in logs; a person reads the word.
RIGHT_NAMES = {
    "ebooks": _("e-books"),
    "audiobooks": _("luisterboeken"),
}
# A code this table does not know is a library's own (the API accepts any code). Its word
# is known only to that library, and the code itself means nothing to a patron (and is a
# code on a page): so a neutral word, never the code and never a guess at what it means.
# The code stays visible where it is data (the API, a data attribute in the console).
OTHER_RIGHT = _("ander recht")


def right_name(code: object) -> str:
    """The word for one right: "e-books", "luisterboeken", or "ander recht"."""
    return str(RIGHT_NAMES.get(str(code), OTHER_RIGHT))


def rights_text(codes: Iterable[object], *, none: str | None = None) -> str:
    """Name rights in a phrase: "e-books en luisterboeken" (nl), "e-books and audiobooks"
    (en); the known ones in the table's order, each word once; `none` (default "geen") for
    no rights at all."""
    order = list(RIGHT_NAMES)
    unique = {str(c) for c in codes if c}
    known = sorted((c for c in unique if c in RIGHT_NAMES), key=order.index)
    names = [right_name(c) for c in known]
    if len(unique) > len(known):
        names.append(str(OTHER_RIGHT))
    if not names:
        return gettext("geen") if none is None else none
    # Django's list phrase: "a, b en c", with the word for "and" of the active language.
    return str(get_text_list(names, pgettext("list", "en")))


def limits_text(limits: Mapping[str, Any] | None) -> str:
    """A right's limits in words: "10 per jaar", "6 tegelijk, alleen jeugdtitels"; "" for
    none. Limits a library adds that this does not know are left out, not shown as codes."""
    limits = limits or {}
    terms: list[str] = []
    loans = limits.get("loans")
    if isinstance(loans, int) and not isinstance(loans, bool):
        period = limits.get("period")
        if period == "year":
            terms.append(gettext("%(loans)d per jaar") % {"loans": loans})
        elif period == "concurrent":
            terms.append(gettext("%(loans)d tegelijk") % {"loans": loans})
        else:
            terms.append(gettext("%(loans)d titels") % {"loans": loans})
    if limits.get("youth") is True:
        terms.append(gettext("alleen jeugdtitels"))
    return ", ".join(terms)


def _as_date(value: date | datetime | str) -> date | datetime:
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) <= 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return value


def day(value: date | datetime | str | None, *, short: bool = True) -> str:
    """A date: "31-01-2026" (nl) or "31/01/2026" (en); `short=False`: "31 januari 2026"."""
    if value in (None, ""):
        return ""
    return formats.date_format(_as_date(value), "SHORT_DATE_FORMAT" if short else "DATE_FORMAT")


def moment(value: datetime | str | None, *, short: bool = False) -> str:
    """A moment in local time: "5 mei 2026 14:05" (nl), "5 May 2026, 14:05" (en).

    It always ends in a digit (a 24-hour clock in both languages), so a sentence that ends
    in a moment takes its own period without doubling one ("a.m..")."""
    if value in (None, ""):
        return ""
    name = "SHORT_DATETIME_FORMAT" if short else "DATETIME_FORMAT"
    return formats.date_format(_as_date(value), name)


def clock_time(value: datetime) -> str:
    """The time of day in local time: "14:05"."""
    return formats.time_format(_as_date(value), "TIME_FORMAT")
