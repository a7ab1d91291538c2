"""Flows 5-9 walked against the running system: Self-service lid worden and the four
Mijn inlogaccount journeys (wachtwoord, e-mailadres, gebruikersnaam wijzigen; account
verwijderen)."""

from __future__ import annotations

import re

import requests

from ..library_api import fresh_card
from ..oidc import TIMEOUT, library_api
from .walk import (
    LIBRARY,
    NEW_PASSWORD,
    PASSWORD,
    Walk,
    account_of,
    browser,
    can_sign_in,
    errors,
    eventually,
    fresh,
    h1,
    library_customer,
    library_shell_json,
    make_patron,
    member_with_account,
    option,
    service_sign_in,
    service_state,
    sign_in,
    signed_in,
    submit,
)

# == 5. Self-service lid worden =============================================================


def card_of(system, address: str) -> str:
    return library_shell_json(
        system,
        (
            "from bibid.library.customers.models import Customer\n"
            f"result = Customer.objects.get(email={address!r}).card_number\n"
        ),
    )


def sign_up(
    system, walk: Walk, http, *, address: str, type_label: str, birth_date: str = "1984-02-03"
) -> requests.Response:
    library = system.urls["library"]
    walk.at("choose_library")
    choose = http.get(f"{library}/aanmelden/", timeout=TIMEOUT)
    assert f'href="/aanmelden/{LIBRARY}/"' in choose.text
    walk.at("fill_form")
    form = http.get(f"{library}/aanmelden/{LIBRARY}/", timeout=TIMEOUT)
    return submit(
        http,
        f"{library}/aanmelden/{LIBRARY}/",
        {
            # Named after the address, not the username: a taken name like "anna.jansen" in the
            # customer's name would make the console's search for "Jansen" find two customers.
            "name": f"Nieuw Lid {address.split('@')[0]}",
            "birth_date": birth_date,
            "email": address,
            "subscription_type": option(form.text, "subscription_type", type_label),
            "terms": "on",
        },
    )


def test_self_service_lid_worden_and_activate(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    username = fresh("aanmelder")
    address = f"{username}@example.org"
    before = mailbox.count()
    answer = sign_up(system, walk, http, address=address, type_label="Volwassen Compact")
    assert (
        'name="username"'
        not in http.get(f"{system.urls['library']}/aanmelden/{LIBRARY}/", timeout=TIMEOUT).text
    )
    walk.answer("accepted", "ja")
    walk.at("created")
    card = card_of(system, address)
    customer = library_customer(system, card)
    assert customer["subscription"]["state"] == "pending"
    assert customer["login_account"] == {
        "linked": True,
        "username": card,
        "visible": True,
        "unconfirmed": 0,
    }
    account = account_of(system, card)
    assert account["state"] == "inactive" and account["recovery_email"] == address
    walk.at("sent_page")
    assert h1(answer.text) == "Bijna klaar: kijk in je e-mail"
    assert "Activeer je inlogaccount binnen 24 uur." in answer.text
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "Activeer", after=before)
    assert card in mail.text and "Deze link werkt 24 uur en één keer." in mail.text
    assert "24 uur" in walk.text("mail_sent")
    walk.answer("activated_in_time", "ja")
    walk.at("choose_password")
    link = mail.link("/activeren/")
    walk.answer("name_free", "ja")
    done = submit(
        http, link, {"username": username, "password": PASSWORD, "password_again": PASSWORD}
    )
    walk.at("active")
    assert h1(done.text) == "Je inlogaccount is klaar"
    assert account_of(system, card)["state"] == "active"
    assert account_of(system, card)["recovery_email_confirmed"] is True
    assert can_sign_in(system, username, PASSWORD)
    walk.at("subscription_runs")
    eventually(
        lambda: library_customer(system, card)["subscription"]["state"] == "active",
        "the subscription runs",
    )
    rights = eventually(
        lambda: library_api(system, LIBRARY).rights(card).json().get("rights"), "the rights pushed"
    )
    assert {r["code"] for r in rights} == {"ebooks", "audiobooks"}
    walk.at("solved")
    walk.done()


def test_self_service_lid_worden_name_taken_at_activation(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    address = f"{fresh('bezet')}@example.org"
    before = mailbox.count()
    sign_up(system, walk, http, address=address, type_label="Volwassen Compact")
    walk.answer("accepted", "ja")
    walk.at("created")
    card = card_of(system, address)
    walk.at("sent_page")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "Activeer", after=before)
    walk.answer("activated_in_time", "ja")
    walk.at("choose_password")
    link = mail.link("/activeren/")
    walk.answer("name_free", "nee")
    taken = submit(
        http, link, {"username": "anna.jansen", "password": PASSWORD, "password_again": PASSWORD}
    )
    walk.at("name_taken")
    assert taken.status_code == 400 and "al in gebruik" in taken.text
    assert account_of(system, card)["state"] == "inactive"  # nothing changed
    done = submit(http, link, {"username": "", "password": PASSWORD, "password_again": PASSWORD})
    walk.at("active")
    assert h1(done.text) == "Je inlogaccount is klaar"
    assert can_sign_in(system, card, PASSWORD)
    walk.at("subscription_runs")
    eventually(
        lambda: library_customer(system, card)["subscription"]["state"] == "active",
        "the subscription runs",
    )
    walk.at("solved")
    walk.done()


def test_self_service_lid_worden_not_activated_is_purged(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    address = f"{fresh('laat')}@example.org"
    before = mailbox.count()
    answer = sign_up(system, walk, http, address=address, type_label="Volwassen Compleet")
    walk.answer("accepted", "ja")
    walk.at("created")
    mail = mailbox.wait_for(address, "Activeer", after=before)
    card = re.search(r"Je gebruikersnaam is: (\S+)", mail.text).group(1)
    assert card == card_of(system, address)
    assert library_customer(system, card)["login_account"]["username"] == card
    walk.at("sent_page")
    assert h1(answer.text) == "Bijna klaar: kijk in je e-mail"
    walk.at("mail_sent")
    walk.answer("activated_in_time", "nee")
    walk.at("purged")
    system.move_clock(hours=25)
    try:
        system.bibid("purge-inactive", "--no-progress")
        assert library_api(system, LIBRARY).show(card).status_code == 404
        dead = http.get(mail.link("/activeren/"), timeout=TIMEOUT)
        assert h1(dead.text) == "Deze link werkt niet meer"
    finally:
        system.move_clock(hours=-25)
    walk.at("lapsed")
    customer = eventually(
        lambda: (c := library_customer(system, card))["subscription"]["state"] == "lapsed" and c,
        "the sign-up lapsed",
    )
    assert customer["login_account"]["linked"] is False
    assert customer["name"].startswith("Nieuw Lid")  # the customer stays
    walk.at("start_again")
    walk.done()


def test_self_service_lid_worden_refused(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    username = fresh("tejong")
    answer = sign_up(system, walk, http, address=f"{username}@example.org", type_label="Jeugd")
    walk.answer("accepted", "nee")
    walk.at("form_error")
    assert answer.status_code == 400
    assert "Dit abonnement past niet bij je leeftijd." in answer.text
    assert "Dit abonnement past niet bij je leeftijd." in walk.text("form_error")
    walk.at("not_member")
    assert (
        library_shell_json(
            system,
            (
                "from bibid.library.customers.models import Customer\n"
                f"result = Customer.objects.filter(email='{username}@example.org').count()\n"
            ),
        )
        == 0
    )
    walk.done()


# == 6-9. Mijn inlogaccount =================================================================


def settings_session(system, username: str) -> requests.Session:
    http = browser()
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    return http


def not_recent(system, username: str) -> None:
    """The patron signed in longer than 15 minutes ago."""
    system.identity_shell(
        "from datetime import timedelta\n"
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={username!r})"
        ".update(last_login=clock.now() - timedelta(minutes=20))\n"
    )


def status_message(html: str) -> str:
    found = re.search(r'role="status"[^>]*>(.*?)</', html, re.S)
    return found.group(1).strip() if found else ""


def test_self_service_wachtwoord_wijzigen(system, mailbox):
    identity = system.urls["identity"]
    walk = Walk("self-service-wachtwoord-wijzigen")
    username, address, _ref = make_patron(system)
    here, elsewhere = settings_session(system, username), settings_session(system, username)
    shelf_here = service_sign_in(system, here, "reading")
    shelf_elsewhere = service_sign_in(system, elsewhere, "reading")
    before = mailbox.count()
    walk.at("signed_in")
    assert 'href="/wachtwoord-wijzigen/"' in here.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("fill_form")
    answer = submit(
        here,
        f"{identity}/wachtwoord-wijzigen/",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    walk.answer("current_right", "ja")
    walk.answer("new_fits", "ja")
    walk.at("saved")
    assert "Je wachtwoord is gewijzigd. Op andere apparaten ben je uitgelogd." in answer.text
    assert signed_in(system, here) and service_state(here, shelf_here) == "signed_in"
    assert not signed_in(system, elsewhere)
    eventually(
        lambda: service_state(elsewhere, shelf_elsewhere) == "logout_detected",
        "the other device's Online Bibliotheek signed out",
        60,
    )
    walk.at("notice")
    mailbox.wait_for(address, "wachtwoord is gewijzigd", after=before)
    walk.at("solved")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.done()


def test_self_service_wachtwoord_wijzigen_refused(system):
    identity = system.urls["identity"]
    for answers, data, error, end_node in (
        (
            {"current_right": "nee"},
            {
                "current_password": "Niet-mijn-wachtwoord",
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
            },
            "Dit is niet je huidige wachtwoord.",
            "wrong_current",
        ),
        (
            {"current_right": "ja", "new_fits": "nee"},
            {"current_password": PASSWORD, "password": "kort", "password_again": "kort"},
            "Een wachtwoord heeft minstens 8 tekens.",
            "weak",
        ),
    ):
        walk = Walk("self-service-wachtwoord-wijzigen")
        username = make_patron(system)[0]
        http = settings_session(system, username)
        walk.at("signed_in")
        walk.answer("offered", "ja")
        walk.at("fill_form")
        answer = submit(http, f"{identity}/wachtwoord-wijzigen/", data)
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at(end_node)
        shown = errors(answer.text)
        assert answer.status_code == 400, answer.status_code
        assert error in shown, shown
        if end_node == "weak":
            assert "8 tekens" in walk.text("weak")
        walk.at("not_changed")
        assert can_sign_in(system, username, PASSWORD)
        walk.done()


def change_email(system, walk: Walk, http, new: str, **extra) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("signed_in")
    assert 'href="/e-mailadres-wijzigen/"' in http.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("fill_form")
    return submit(http, f"{identity}/e-mailadres-wijzigen/", {"email": new, **extra})


def test_self_service_emailadres_wijzigen(system, mailbox):
    identity = system.urls["identity"]
    walk = Walk("self-service-emailadres-wijzigen")
    username, address, ref = make_patron(system)
    http = settings_session(system, username)
    new = f"nieuw.{address}"
    before = mailbox.count()
    not_recent(system, username)  # signed in 20 minutes ago: the password again
    form = http.get(f"{identity}/e-mailadres-wijzigen/", timeout=TIMEOUT)
    assert 'name="current_password"' in form.text
    answer = change_email(system, walk, http, new, current_password=PASSWORD)
    walk.answer("recent", "nee")
    walk.answer("password_right", "ja")
    walk.at("link_sent")
    assert "Je herstel-e-mailadres verandert pas als je die link gebruikt." in answer.text
    confirm = mailbox.wait_for(new, "Bevestig", after=before)
    assert "De link werkt 24 uur en één keer." in confirm.text and "24 uur" in walk.text(
        "link_sent"
    )
    assert account_of(system, ref)["recovery_email"] == address  # not yet
    walk.at("old_told")
    mailbox.wait_for(address, "wordt gewijzigd", after=before)
    walk.answer("link_works", "ja")
    walk.at("confirm")
    link = confirm.link("/e-mailadres-bevestigen/")
    page = http.get(link, timeout=TIMEOUT)
    assert page.status_code == 200 and "Ja, bevestig dit adres" in page.text
    assert account_of(system, ref)["recovery_email"] == address  # opening it changes nothing
    done = submit(http, link, {})
    walk.at("changed")
    assert h1(done.text) == "Je herstel-e-mailadres is bevestigd"
    account = account_of(system, ref)
    assert account["recovery_email"] == new and account["recovery_email_confirmed"] is True
    walk.at("old_notice")
    mailbox.wait_for(address, "is gewijzigd", after=before)
    walk.at("solved")
    walk.done()


def test_self_service_emailadres_wijzigen_needs_the_password_later(system, mailbox):
    walk = Walk("self-service-emailadres-wijzigen")
    username, address, ref = make_patron(system)
    http = settings_session(system, username)
    not_recent(system, username)
    form = http.get(f"{system.urls['identity']}/e-mailadres-wijzigen/", timeout=TIMEOUT)
    assert 'name="current_password"' in form.text
    answer = change_email(
        system, walk, http, f"ander.{address}", current_password="Niet-mijn-wachtwoord"
    )
    walk.answer("recent", "nee")
    walk.answer("password_right", "nee")
    walk.at("not_changed")
    assert answer.status_code == 400 and "Dit is niet je huidige wachtwoord." in answer.text
    assert account_of(system, ref)["recovery_email"] == address
    walk.done()


def test_self_service_emailadres_wijzigen_link_survives_a_sign_in_not_a_new_password(
    system, mailbox
):
    walk = Walk("self-service-emailadres-wijzigen")
    username, address, ref = make_patron(system)
    http = settings_session(system, username)
    new = f"later.{address}"
    before = mailbox.count()
    form = http.get(f"{system.urls['identity']}/e-mailadres-wijzigen/", timeout=TIMEOUT)
    assert 'name="current_password"' not in form.text  # just signed in
    change_email(system, walk, http, new)
    walk.answer("recent", "ja")
    walk.at("link_sent")
    confirm = mailbox.wait_for(new, "Bevestig", after=before)
    link = confirm.link("/e-mailadres-bevestigen/")
    walk.at("old_told")
    mailbox.wait_for(address, "wordt gewijzigd", after=before)
    # Before clicking the link, the patron signs in again, on the phone: the link still works.
    assert "opnieuw inlogt" in walk.text("link_works")
    assert can_sign_in(system, username, PASSWORD)
    page = browser().get(link, timeout=TIMEOUT)
    assert page.status_code == 200 and "Ja, bevestig dit adres" in page.text
    # A new password does void it.
    changed = submit(
        http,
        f"{system.urls['identity']}/wachtwoord-wijzigen/",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert changed.status_code == 200, changed.status_code
    assert "Na een nieuw wachtwoord werkt hij niet meer." in walk.text("link_works")
    walk.answer("link_works", "nee")
    walk.at("link_dead")
    page = browser().get(link, timeout=TIMEOUT)
    assert page.status_code == 410 and h1(page.text) == "Deze link werkt niet meer"
    walk.at("old_stays")
    assert account_of(system, ref)["recovery_email"] == address
    walk.done()


def change_username(system, walk: Walk, http, new: str, **extra) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("signed_in")
    assert 'href="/gebruikersnaam-wijzigen/"' in http.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("fill_form")
    return submit(http, f"{identity}/gebruikersnaam-wijzigen/", {"username": new, **extra})


def test_self_service_gebruikersnaam_wijzigen(system, mailbox):
    walk = Walk("self-service-gebruikersnaam-wijzigen")
    username, address, card = member_with_account(system)
    http = settings_session(system, username)
    new = fresh("hernoemd")
    before = mailbox.count()
    answer = change_username(system, walk, http, new)
    walk.answer("recent", "ja")
    walk.answer("rules", "ja")
    walk.answer("free", "ja")
    walk.at("changed")
    assert f"Je gebruikersnaam is nu {new}." in answer.text
    assert signed_in(system, http)  # the sessions stay
    assert can_sign_in(system, new, PASSWORD) and can_sign_in(system, card, PASSWORD)
    assert not can_sign_in(system, username, PASSWORD)
    walk.at("libraries_told")
    eventually(
        lambda: library_customer(system, card)["login_account"]["username"] == new,
        "the library has the new username",
    )
    walk.at("notice")
    mail = mailbox.wait_for(address, "gebruikersnaam is gewijzigd", after=before)
    assert username in mail.text and new in mail.text
    walk.at("solved")
    walk.done()


def test_self_service_gebruikersnaam_wijzigen_refused(system):
    cases = [  # (signed in recently?, password typed, new name, answers, end node, message)
        (
            False,
            PASSWORD,
            "anna.jansen",
            {"recent": "nee", "password_right": "ja", "rules": "ja", "free": "nee"},
            "refused",
            "Deze gebruikersnaam is al in gebruik.",
        ),
        (True, None, "ab", {"recent": "ja", "rules": "nee"}, "refused", None),
        # Rule L6: a card number of a library's range is nobody's username.
        (
            True,
            None,
            fresh_card("duinstreek"),
            {"recent": "ja", "rules": "nee"},
            "refused",
            "Een pasnummer kan geen gebruikersnaam worden.",
        ),
        (
            False,
            "Niet-mijn-wachtwoord",
            fresh("nieuw"),
            {"recent": "nee", "password_right": "nee"},
            "wrong_password",
            "Dit is niet je huidige wachtwoord.",
        ),
    ]
    assert "pasnummer van een bibliotheek kan geen gebruikersnaam" in Walk(
        "self-service-gebruikersnaam-wijzigen"
    ).text("rules")
    for recent, password, new, answers, node, message in cases:
        walk = Walk("self-service-gebruikersnaam-wijzigen")
        username = make_patron(system)[0]
        http = settings_session(system, username)
        if not recent:
            not_recent(system, username)
        extra = {"current_password": password} if password else {}
        answer = change_username(system, walk, http, new, **extra)
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at(node)
        assert answer.status_code == 400, answer.status_code
        assert errors(answer.text) and (message or "") in errors(answer.text), errors(answer.text)
        walk.at("not_changed")
        assert can_sign_in(system, username, PASSWORD)
        walk.done()


def test_self_service_account_verwijderen(system, mailbox):
    identity = system.urls["identity"]
    walk = Walk("self-service-account-verwijderen")
    username, address, card = member_with_account(system)
    http = settings_session(system, username)
    shelf = service_sign_in(system, http, "reading")
    before = mailbox.count()
    walk.at("signed_in")
    assert 'href="/account-verwijderen/"' in http.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("warning")
    page = http.get(f"{identity}/account-verwijderen/", timeout=TIMEOUT)
    assert "Je lidmaatschap bij de bibliotheek blijft wel bestaan" in page.text
    walk.at("fill_form")
    answer = submit(
        http, f"{identity}/account-verwijderen/", {"current_password": PASSWORD, "understood": "on"}
    )
    walk.answer("ticked", "ja")
    walk.answer("password_right", "ja")
    walk.at("deleted")
    assert h1(answer.text) == "Je inlogaccount is verwijderd"
    assert not can_sign_in(system, username, PASSWORD)
    assert not signed_in(system, http)
    eventually(
        lambda: service_state(http, shelf) != "signed_in",
        "signed out at the Online Bibliotheek",
        60,
    )
    walk.at("libraries_told")
    customer = eventually(
        lambda: (c := library_customer(system, card))["login_account"]["linked"] is False and c,
        "the library cleared the link",
    )
    assert customer["subscription"]["state"] == "active"  # the membership stays
    walk.at("notice")
    mailbox.wait_for(address, "is verwijderd", after=before)
    walk.at("solved")
    walk.done()


def test_self_service_account_verwijderen_refused(system):
    identity = system.urls["identity"]
    for data, answers, message in (
        ({"current_password": PASSWORD}, {"ticked": "nee"}, "Vink aan dat je dit begrijpt."),
        (
            {"current_password": "Niet-mijn-wachtwoord", "understood": "on"},
            {"ticked": "ja", "password_right": "nee"},
            "Dit is niet je huidige wachtwoord.",
        ),
    ):
        walk = Walk("self-service-account-verwijderen")
        username = make_patron(system)[0]
        http = settings_session(system, username)
        walk.at("signed_in")
        walk.answer("offered", "ja")
        walk.at("warning")
        walk.at("fill_form")
        answer = submit(http, f"{identity}/account-verwijderen/", data)
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at("refused")
        assert answer.status_code == 400 and message in answer.text
        walk.at("not_deleted")
        assert can_sign_in(system, username, PASSWORD)
        walk.done()


SETTINGS_FLOWS = {  # flow definition -> (identity's flow name, page)
    "self-service-wachtwoord-wijzigen": ("password_change", "/wachtwoord-wijzigen/"),
    "self-service-emailadres-wijzigen": ("email_change", "/e-mailadres-wijzigen/"),
    "self-service-gebruikersnaam-wijzigen": ("username_change", "/gebruikersnaam-wijzigen/"),
    "self-service-account-verwijderen": ("account_delete", "/account-verwijderen/"),
}


def test_self_service_flows_a_library_does_not_offer(system):
    """A library may switch flows off for its own customers (domain.md)."""
    api = library_api(system, "duinstreek")
    before = api.call("GET", "/settings").json()["self_service_flows"]
    username, _address, _ref = make_patron(system, link=False)
    ref = fresh_card("duinstreek")  # the library's own range (rule L6)
    assert api.link_with_patron(ref, username, PASSWORD).status_code == 201
    http = settings_session(system, username)
    identity = system.urls["identity"]
    try:
        off = api.call(
            "PUT",
            "/settings",
            {
                "self_service_flows": [
                    f for f in before if f not in {name for name, _page in SETTINGS_FLOWS.values()}
                ]
            },
        )
        assert off.status_code == 200, off.text
        home = http.get(f"{identity}/", timeout=TIMEOUT).text
        for flow_id, (_name, page) in SETTINGS_FLOWS.items():
            walk = Walk(flow_id)
            walk.at("signed_in")
            walk.answer("offered", "nee")
            assert f'href="{page}"' not in home
            walk.at("not_offered")
            assert http.get(identity + page, timeout=TIMEOUT).status_code == 404
            walk.done()
    finally:
        assert api.call("PUT", "/settings", {"self_service_flows": before}).status_code == 200
