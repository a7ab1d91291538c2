"""Flow 10 walked against the running system: Balie: lid worden."""

from __future__ import annotations

import re
from datetime import date

import requests

from ..console_pages import staff_http
from ..library_api import fresh_card
from ..oidc import TIMEOUT, library_api
from .walk import (
    LIBRARY,
    PASSWORD,
    Walk,
    account_of,
    browser,
    can_sign_in,
    eventually,
    fresh,
    h1,
    hidden_fields,
    library_customer,
    option,
    submit,
)

# == 10. Balie: lid worden ==================================================================


def staff_console(system) -> requests.Session:
    """balie.maas at the console (password and second step, or this run's session of theirs)."""
    return staff_http(system, "balie.maas", browser())


def register(
    system,
    walk: Walk,
    http,
    *,
    name: str,
    email: str = "",
    type_label: str = "Volwassen Compact",
    birth_date: str = "1975-06-07",
    login: bool = True,
    username: str = "",
    activate_now: bool = False,
) -> requests.Response:
    url = f"{system.urls['library']}/console/lid-worden/"
    walk.at("open_form")
    page = http.get(url, timeout=TIMEOUT)
    assert page.status_code == 200 and "Gebruik inlogaccount" in page.text
    walk.at("fill_form")
    data = {
        **hidden_fields(page.text),
        "name": name,
        "birth_date": birth_date,
        "email": email,
        "phone": "",
        "subscription_type": option(page.text, "subscription_type", type_label),
        "start": "",
        "username": username,
    }
    if login:
        data["login_account"] = "on"
    if activate_now:
        data["activate_now"] = "on"
    return http.post(url, data=data, headers={"Referer": url}, timeout=TIMEOUT)


def registered_card(answer: requests.Response) -> str:
    assert h1(answer.text) == "Ingeschreven", h1(answer.text)
    return re.search(r'data-testid="card-number">([^<]+)<', answer.text).group(1)


def test_balie_lid_worden_activated_at_the_desk(system, mailbox):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    address = f"{fresh('balie')}@example.org"
    before = mailbox.count()
    answer = register(system, walk, http, name="Balie Lid", email=address, activate_now=True)
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    assert library_customer(system, card)["subscription"]["state"] == "active"
    walk.answer("use_login", "ja")
    walk.answer("generated_ok", "ja")
    walk.at("generated")
    assert f"Inlogaccount {card} aangemaakt (nog niet actief)." in answer.text
    assert account_of(system, card)["has_password"] is False
    walk.answer("has_email", "ja")
    walk.at("activation_mail")
    assert f"De activeringsmail is onderweg naar {address}." in answer.text
    assert "24 uur" in mailbox.wait_for(address, "Activeer", after=before).text
    walk.answer("activate_now", "ja")
    walk.at("activated")
    assert "Het inlogaccount is geactiveerd en wordt niet meer verwijderd." in answer.text
    assert account_of(system, card)["state"] == "active"
    choose = mailbox.wait_for(address, "Kies een wachtwoord", after=before)
    assert "Deze link werkt 24 uur en één keer." in choose.text
    done = submit(
        browser(), choose.link("/activeren/"), {"password": PASSWORD, "password_again": PASSWORD}
    )
    assert h1(done.text) == "Je inlogaccount is klaar"
    walk.at("solved")
    assert can_sign_in(system, card, PASSWORD)
    eventually(
        lambda: library_api(system, LIBRARY).rights(card).json().get("rights"), "the rights pushed"
    )
    walk.done()


def test_balie_lid_worden_without_e_mail_the_patron_must_activate(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    answer = register(system, walk, http, name="Zonder Mail")
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    walk.answer("use_login", "ja")
    walk.answer("generated_ok", "ja")
    walk.at("generated")
    walk.answer("has_email", "nee")
    walk.at("no_mail")
    assert "Er is geen e-mailadres: activeer het account aan de balie." in answer.text
    assert "activeer het account aan de balie" in walk.text("no_mail")
    walk.answer("activate_now", "nee")
    walk.at("patron_activates")
    account = account_of(system, card)
    assert account["state"] == "inactive" and not account["recovery_email"]
    walk.at("solved")
    walk.done()


def test_balie_lid_worden_without_login_account(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    answer = register(system, walk, http, name="Geen Account", login=False)
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    walk.answer("use_login", "nee")
    walk.at("no_login")
    assert "<h2>Inlogaccount</h2>" not in answer.text
    assert library_customer(system, card)["login_account"]["linked"] is False
    walk.at("member_only")
    walk.done()


def test_balie_lid_worden_username_taken(system):
    other_library_card = fresh_card("duinstreek")
    for name, username, message in (
        ("Bezette Naam", "anna.jansen", "Deze gebruikersnaam is al in gebruik."),
        # Rule L6: a card number names one library's patron; it is nobody's username.
        ("Pasnummer Naam", other_library_card, "Een pasnummer kan geen gebruikersnaam worden."),
    ):
        walk, http = Walk("balie-lid-worden"), staff_console(system)
        answer = register(system, walk, http, name=name, username=username)
        walk.answer("accepted", "ja")
        walk.at("registered")
        card = registered_card(answer)
        walk.answer("use_login", "ja")
        walk.answer("generated_ok", "nee")
        walk.at("login_failed")
        assert message in answer.text, answer.text[:2000]
        customer = library_customer(system, card)
        assert customer["subscription"]["state"] == "active"  # the membership is kept
        assert customer["login_account"]["linked"] is False
        assert "met de klant erbij" in walk.text("login_failed")
        walk.at("generate_later")
        walk.done()
    assert "een pasnummer" in walk.text("generated_ok")


def test_balie_lid_worden_refused(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    year = date.today().year - 40
    answer = register(
        system, walk, http, name="Te Oud", type_label="Jeugd", birth_date=f"{year}-01-01"
    )
    walk.answer("accepted", "nee")
    walk.at("form_error")
    assert answer.status_code == 400 and h1(answer.text) == "Lid worden aan de balie"
    assert "Te Oud is te oud voor Jeugd (tot 18 jaar)." in answer.text
    assert "te oud voor" in walk.text("form_error")
    walk.at("not_registered")
    walk.done()
