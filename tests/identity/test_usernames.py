"""Username rules: length, characters, and uniqueness that ignores case, accents, look-alikes."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from bibid.identity.accounts.usernames import is_valid, normalize, username_key, validate_username


@pytest.mark.parametrize(
    "name",
    ["anna", "anna.jansen", "a_b-c@d.e", "12345678901234", "José", "Ødegård", "x" * 80, "ﬁets"],
)
def test_valid_names(name):
    validate_username(name)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        ("abc", "too_short"),
        ("x" * 81, "too_long"),
        ("anna jansen", "invalid_character"),
        ("anna/jansen", "invalid_character"),
        ("аnna", "invalid_character"),  # Cyrillic а
        ("anna😀", "invalid_character"),
        ("anna\u200bjansen", "invalid_character"),  # zero-width space
        ("anna\x00x", "invalid_character"),
    ],
)
def test_invalid_names_have_a_code_and_a_message(name, code):
    with pytest.raises(ValidationError) as excinfo:
        validate_username(name)
    assert excinfo.value.code == code
    assert str(excinfo.value.message)


def test_card_number_is_a_valid_username():
    assert is_valid("20123456789012")


def test_key_folds_case_width_accents_and_lookalike_latin_letters():
    assert username_key("Anna.Jansen") == username_key("anna.jansen") == "anna.jansen"
    assert username_key("ＡＮＮＡ") == "anna"  # full-width letters
    assert username_key("José") == username_key("jose") == username_key("JOSÉ")
    assert username_key("Straße") == "strasse"
    assert username_key("ødegård") == "odegard"
    assert username_key("admın") == "admin"  # dotless i
    assert username_key("ﬁets") == "fiets"


def test_normalize_keeps_case_and_strips_surrounding_space():
    assert normalize("  Anna.Jansen ") == "Anna.Jansen"


def test_second_account_with_a_lookalike_name_is_refused(make_account):
    make_account("Jose.Jansen")
    for clash in ("jose.jansen", "JOSÉ.JANSEN", "José.Jansen"):
        with pytest.raises(ValidationError) as excinfo:
            make_account(clash)
        assert "username" in excinfo.value.message_dict


def test_the_database_itself_enforces_the_key(make_account):
    from bibid.identity.accounts.models import Account

    make_account("anna.jansen")
    other = Account(username="ANNA.JANSEN")
    other.set_unusable_password()
    with pytest.raises(IntegrityError):
        other.save()  # bypasses form and model validation: only the unique index stops it
