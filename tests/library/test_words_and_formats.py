"""Every code a person sees is a word, in Dutch formats: money ("€ 39,00"), rights ("e-books
en luisterboeken"), dates and times through Django's localisation, on the sign-up and desk
forms, a helpdesk diagnosis with rights evidence and the customer page, in Dutch and English.
The pages run against the real identity service where they ask it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from bibid.common import words
from bibid.library.helpdesk import findings
from bibid.library.staff.models import Staff
from tests.mfa_support import force_login_verified

from .visible_text import codes_in, visible

NBSP = "\u00a0"
RIGHT_CODES = frozenset(words.RIGHT_NAMES)
ALL_CODES = findings.CODES | RIGHT_CODES
ANNA, DIRK, GERRIT = "2010000001", "2010000004", "2010000007"


def client_for(language: str, username: str | None = None) -> Client:
    client = Client()
    client.cookies["bibid_language"] = language
    if username:
        force_login_verified(client, Staff.objects.get(username=username))
    return client


# -- the helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "amount", "expected"),
    [
        ("nl", "39.00", "€ 39,00"),
        ("nl", Decimal("1250.5"), "€ 1.250,50"),
        ("nl", 0, "€ 0,00"),
        ("en", "39.00", "€ 39.00"),
        ("en", Decimal("1250.5"), "€ 1,250.50"),
    ],
)
def test_money_in_the_page_s_language(language, amount, expected):
    with translation.override(language):
        # A non-breaking space between the sign and the amount: they never part on a phone.
        assert words.money(amount) == expected.replace(" ", NBSP)


@pytest.mark.parametrize(
    ("language", "codes", "expected"),
    [
        ("nl", ["audiobooks", "ebooks"], "e-books en luisterboeken"),
        ("nl", ["ebooks", "ebooks"], "e-books"),
        ("nl", ["streaming", "audiobooks", "ebooks"], "e-books, luisterboeken en ander recht"),
        ("nl", [], "geen"),
        ("en", ["audiobooks", "ebooks"], "e-books and audiobooks"),
        ("en", [], "none"),
    ],
)
def test_rights_in_words_joined_as_the_language_joins_them(language, codes, expected):
    with translation.override(language):
        assert words.rights_text(codes) == expected


def test_a_library_s_own_right_reads_as_a_neutral_word():
    assert words.right_name("streaming") == "ander recht"
    assert words.right_name("ebooks") == "e-books"
    assert words.limits_text({"loans": 6, "period": "year", "youth": True, "extra": 1}) == (
        "6 per jaar, alleen jeugdtitels"
    )


def test_a_sentence_ending_in_a_time_has_one_period_in_every_language():
    morning = datetime(2026, 5, 5, 8, 30, tzinfo=UTC)  # 10:30 in Amsterdam
    with translation.override("nl"):
        assert words.moment(morning) == "5 mei 2026 10:30"
        assert words.day(date(2026, 1, 31)) == "31-01-2026"
    with translation.override("en"):
        assert words.moment(morning) == "5 May 2026, 10:30"
        assert words.day(date(2026, 1, 31)) == "31/01/2026"
        sentence = f"Blocked until {words.moment(morning)}."
        assert ".." not in sentence and "a.m." not in sentence


# -- money on the forms ----------------------------------------------------------------------


@pytest.fixture
def libraries(db):
    """The demo libraries, staff and subscription types (the forms ask identity nothing)."""
    from bibid.library import demo as library_demo

    library_demo.load()


@pytest.mark.parametrize(("language", "price"), [("nl", "€ 39,00"), ("en", "€ 39.00")])
def test_prices_on_the_sign_up_and_desk_forms(libraries, language, price):
    price = price.replace(" ", NBSP)
    signup = client_for(language).get("/aanmelden/aan-de-maas/")
    assert signup.status_code == 200
    assert f"Basis (alleen lenen in de bibliotheek) ({price} " in signup.text
    assert "39.00" not in signup.text if language == "nl" else "39,00" not in signup.text
    desk = client_for(language, "balie.maas").get("/console/lid-worden/")
    assert desk.status_code == 200
    assert f"Basis (alleen lenen in de bibliotheek) ({price})" in desk.text


# -- pages that ask identity: a diagnosis with rights evidence, the customer page ------------


@pytest.fixture
def pushed(demo):
    """What `bibid up` does after loading the demo: push every linked customer's rights
    (all but Gerrit Mulder's, out of date on purpose)."""
    from bibid.library.loginaccounts import pushes

    pushes.drain()


def evidence(html: str) -> list[str]:
    found = re.search(r'data-testid="evidence">(.*?)</ul>', html, re.S)
    assert found, "no evidence on the page"
    return [visible(li) for li in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_diagnosis_names_rights_and_times_in_words(pushed, language):
    client = client_for(language, "helpdesk.maas")
    page = client.post(
        f"/console/klanten/{GERRIT}/helpdesk/",
        {"helpdesk-problem": "cannot-login", "helpdesk-username": ""},
    )
    assert page.status_code == 200
    assert codes_in(visible(page.text), ALL_CODES) == []
    lines = evidence(page.text)
    with translation.override(language):
        both = words.rights_text(["ebooks", "audiobooks"])
    assert any(line.endswith(f"{both}.") for line in lines), lines
    if language == "nl":
        assert "Volgens het abonnement nu: rechten e-books en luisterboeken." in lines

    blocked = client.post(
        f"/console/klanten/{DIRK}/helpdesk/",
        {"helpdesk-problem": "cannot-login", "helpdesk-username": ""},
    )
    lines = evidence(blocked.text)
    assert lines and all(".." not in line for line in lines), lines
    assert not any(re.search(r"\b[ap]\.m\.", line) for line in lines), lines
    assert codes_in(visible(blocked.text), ALL_CODES) == []


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_customer_page_shows_rights_and_dates_in_words(pushed, language):
    client = client_for(language, "balie.maas")
    answer = client.post(f"/console/klanten/{ANNA}/inlogaccount/rechten/")
    assert answer.status_code == 302
    page = client.get(answer["Location"])
    assert page.status_code == 200
    text = visible(page.text)
    assert codes_in(text, ALL_CODES) == []
    table = re.search(r'<table data-testid="rights">.*?</table>', page.text, re.S).group(0)
    # The codes stay in data attributes; a person reads the words.
    assert 'data-right="ebooks"' in table and 'data-right="audiobooks"' in table
    with translation.override(language):
        assert f"{words.rights_text(['ebooks', 'audiobooks'])}." in text
        for code in ("ebooks", "audiobooks"):
            assert words.right_name(code).capitalize() in visible(table)
    if language == "nl":
        assert "Geldige rechten: e-books en luisterboeken." in text
        assert "10 tegelijk" in visible(table)
        assert "06-05-1984" in text  # Anna's birth date as Dutch forms write it
        assert re.search(r"\b\d{2}-\d{2}-\d{4}\b", visible(table))  # valid until
    else:
        assert "06/05/1984" in text  # day first, never American
        assert re.search(r"\b\d{2}/\d{2}/\d{4}\b", visible(table))
