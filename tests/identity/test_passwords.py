"""Password rules (NIST 800-63B): length, common and predictable passwords; Argon2id."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from bibid.identity.accounts.models import Account


@pytest.mark.parametrize(
    "password",
    ["kort", "password", "12345678", "aaaaaaaaaaaa", "abcdefghij", "zyxwvutsr", "x" * 257],
)
def test_weak_or_overlong_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


@pytest.mark.parametrize(
    "password",
    [
        "Een-lange-zin-vol-boeken",
        "correct horse battery",
        "👨‍👩‍👧 leest graag",
        "Mijn bibliotheekpas ligt in de la naast de voordeur, links" * 2,
    ],
)
def test_long_and_unusual_passwords_are_allowed(password):
    validate_password(password)


def test_password_like_the_username_is_refused():
    account = Account(username="boekenwurm2026")
    with pytest.raises(ValidationError):
        validate_password("boekenwurm2026", user=account)


def test_hashes_are_argon2id_with_the_owasp_parameters(real_hasher, make_account):
    account = make_account("hash.check", password="Een-lange-zin-vol-boeken")
    assert account.password.startswith("argon2id$argon2id$v=19$m=19456,t=2,p=1$")
    assert account.check_password("Een-lange-zin-vol-boeken")
    assert not account.check_password("Een-lange-zin-vol-boekeN")


def test_too_short_is_said_in_the_patron_s_language():
    """Django 6.1's own "too short" text has no Dutch translation; ours does."""
    from django.utils import translation

    for language, text in (
        ("nl", "Een wachtwoord heeft minstens 8 tekens."),
        ("en", "A password has at least 8 characters."),
    ):
        with translation.override(language), pytest.raises(ValidationError) as refused:
            validate_password("kort")
        assert text in refused.value.messages, refused.value.messages
        assert refused.value.error_list[0].code == "password_too_short"
