"""The login history in the staff console names browsers and rights in words; the exact string stays
available to staff on hover (helpdesk work sometimes needs the version)."""

from django.template.loader import render_to_string
from django.utils import translation

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_history_rows_name_the_browser_in_words():
    event = {
        "at": "2026-12-06T10:15:00Z",
        "kind": "login",
        "reason": "wrong_password",
        "address": "192.0.2.0/24",
        "browser": UA,
        "service": "Online Bibliotheek",
        "details": {"needed": "audiobooks"},
    }
    with translation.override("nl"):
        html = render_to_string("console/_history.html", {"events": [event]})
    assert ">Firefox op Windows</span>" in html
    assert f'title="{UA}"' in html  # the string itself only as the hover text
    assert f">{UA}" not in html
    # The right a service found missing, as a word: the code is for the API only.
    assert "(luisterboeken)" in html and "audiobooks" not in html


def test_history_rows_tell_a_passkey_sign_in_and_its_refusals():
    """Issue 17: identity marks passkey attempts with details.method; the helpdesk reads
    which way the patron tried, and a removed passkey as such (the diagnosis names it)."""

    def row(reason: str, outcome: str) -> dict:
        return {
            "at": "2026-12-06T10:15:00Z",
            "kind": "login",
            "outcome": outcome,
            "reason": reason,
            "address": "192.0.2.0/24",
            "browser": UA,
            "service": "",
            "details": {"method": "passkey", "credential": "ab12"},
        }

    password = {**row("wrong_password", "failure"), "details": None}
    events = [row("ok", "success"), row("passkey_removed", "failure"), password]
    with translation.override("nl"):
        html = render_to_string("console/_history.html", {"events": events})
    assert html.count("inloggen met passkey") == 2
    assert "verwijderde passkey (staat nog op het apparaat)" in html
    assert "<td>inloggen</td>" in html  # the password attempt says just that
    assert "passkey_removed" not in html  # the code is for the API only
