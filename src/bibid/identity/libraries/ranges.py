"""Card numbers belong to a library: each library has registered prefixes, and no two
libraries' prefixes overlap, so a card number names at most one library."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from bibid.common.problems import Problem

from .models import Library


def require_in_range(library: Library, number: str, *, field: str = "customer_ref") -> None:
    """Refuse a card number outside the library's own ranges.

    Without this, library B could create a link or push with library A's card number: the
    number would then name two accounts and A's patron could no longer sign in with it (found
    by testers, 2 of 2). Identity checks it whatever the library sends.
    """
    if not library.owns_card_number(number):
        raise Problem(
            422,
            "card_number_not_in_range",
            _("Pasnummer %(card)s valt buiten de pasnummerreeksen van deze bibliotheek."),
            field=field,
            extra={"card": number},
        )


def library_of_card_number(number: str) -> Library | None:
    """The library whose range holds this number, if any (one query; ranges never overlap)."""
    if not number.isalnum():
        return None
    for library in Library.objects.only("code", "name", "card_prefixes"):
        if library.owns_card_number(number):
            return library
    return None


def refuse_card_number_as_username(name: str, *, own: tuple[Library, str] | None = None) -> None:
    """A username may not be a card number of a library's range, unless it is the customer's
    own card number used as the username by that very library (`own`: library, reference).

    Otherwise library B (or any patron) could take library A's card number as a username,
    and A's patron signing in with that card number would reach the wrong account (found by
    the rogue-library tests).
    """
    owner = library_of_card_number(name)
    if owner is None:
        return
    if own is not None and owner.pk == own[0].pk and name == own[1]:
        return
    raise Problem(
        400,
        "username_is_card_number",
        _(
            "Een pasnummer kan geen gebruikersnaam worden. Kies een naam met ten minste "
            "één letter of teken, of log in met je pasnummer."
        ),
        field="username",
    )


def overlapping(prefixes: list[str], *, exclude: Library | None = None) -> list[str]:
    """The prefixes of other libraries that overlap these (one is the start of the other)."""
    clashes = []
    others = Library.objects.exclude(pk=exclude.pk) if exclude else Library.objects.all()
    for other in others.only("card_prefixes"):
        for theirs in other.card_prefixes or ():
            clashes += [
                theirs for mine in prefixes if mine.startswith(theirs) or theirs.startswith(mine)
            ]
    return sorted(set(clashes))


def clean_prefixes(prefixes: list[str], *, exclude: Library | None = None) -> list[str]:
    cleaned = sorted({p.strip() for p in prefixes if p and p.strip()})
    if any(not p.isalnum() or len(p) > 20 for p in cleaned):
        raise Problem(
            400,
            "invalid_card_prefix",
            _("Een voorvoegsel bestaat uit letters en cijfers (hoogstens 20)."),
        )
    clashes = overlapping(cleaned, exclude=exclude)
    if clashes:
        raise Problem(
            409,
            "card_prefix_overlaps",
            _("Dit voorvoegsel overlapt met dat van een andere bibliotheek: %(prefixes)s."),
            extra={"prefixes": ", ".join(clashes)},
        )
    return cleaned
