"""Username rules (domain.md): 4 to 80 characters, letters, digits and _ - @ .

Two names that look alike must not both exist, so uniqueness is decided on a *key*: the
name after Unicode compatibility normalisation (NFKC), case folding, and folding accents and
the few Latin letters without a decomposition (ø, ł, æ, ı, ...) to plain a-z. Only letters of
the Latin alphabet are allowed: with every letter folding to a-z, no two different-looking
keys can be confused across scripts (a Cyrillic "а" is simply not allowed), and a patron who
cannot type "é" on a phone still signs in as "José" by typing "jose".
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MIN_LENGTH = 4
MAX_LENGTH = 80
# A folded key can be longer than the name (ß -> ss, æ -> ae).
KEY_MAX_LENGTH = 2 * MAX_LENGTH
PUNCTUATION = frozenset("_-@.")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789") | PUNCTUATION

# Latin letters with no canonical decomposition, folded to the letters they look like.
_LATIN_FOLDS = str.maketrans(
    {
        "ı": "i",
        "ł": "l",
        "ŀ": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ŧ": "t",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ĸ": "k",
        "ŋ": "n",
    }
)


def normalize(raw: str) -> str:
    """Return the name as it is stored and shown: NFKC, without surrounding white space."""
    return unicodedata.normalize("NFKC", raw).strip()


def username_key(raw: str) -> str:
    """Return the comparison key of a name (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", normalize(raw).casefold())
    decomposed = unicodedata.normalize("NFD", folded)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.translate(_LATIN_FOLDS)


def validate_username(raw: str) -> None:
    """Raise ValidationError with a code and a plain message when a name breaks the rules."""
    name = normalize(raw)
    if not name:
        raise ValidationError(_("Vul een gebruikersnaam in."), code="required")
    if len(name) < MIN_LENGTH:
        raise ValidationError(
            _("Een gebruikersnaam heeft minstens %(min)d tekens."),
            code="too_short",
            params={"min": MIN_LENGTH},
        )
    if len(name) > MAX_LENGTH:
        raise ValidationError(
            _("Een gebruikersnaam heeft hoogstens %(max)d tekens."),
            code="too_long",
            params={"max": MAX_LENGTH},
        )
    if not set(username_key(name)) <= _KEY_CHARS:
        raise ValidationError(
            _("Gebruik alleen letters, cijfers en de tekens _ - @ . (geen spaties)."),
            code="invalid_character",
        )


def is_valid(raw: str) -> bool:
    try:
        validate_username(raw)
    except ValidationError:
        return False
    return True
