"""Every self-service flow end to end in a real browser, following the e-mails through a
real SMTP server (tests/e2e/mailbox.py), and the axe-core accessibility check on each page."""

from __future__ import annotations

import re
import time
import uuid

import pytest
import requests
from playwright.sync_api import Page, expect

from .library_api import fresh_card

pytestmark = pytest.mark.browser
PASSWORD = "Een-zin-die-ik-onthoud"
NEW_PASSWORD = "Een-nieuwe-zin-die-ik-onthoud"


def identity(system, path: str = "/") -> str:
    return system.urls["identity"] + path


def library(system, path: str = "/") -> str:
    return system.urls["library"] + path


def fresh(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def new_patron(system, *, password: str | None = PASSWORD, active: bool = True) -> tuple[str, str]:
    username = fresh("patroon")
    address = f"{username}@example.org"
    system.create_patron(username, password, active=active, recovery_email=address)
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={username!r})"
        ".update(recovery_email_confirmed_at=clock.now())\n"
    )
    return username, address


def sign_in(page: Page, system, username: str, password: str) -> None:
    page.goto(identity(system, "/inloggen/"))
    page.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn inlogaccount")


def can_sign_in(system, username: str, password: str) -> bool:
    session = requests.Session()
    page = session.get(identity(system, "/inloggen/"), timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    answer = session.post(
        identity(system, "/inloggen/"),
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        allow_redirects=False,
        timeout=30,
        headers={"X-Forwarded-For": f"10.9.{uuid.uuid4().int % 250}.1"},
    )
    return answer.status_code == 302


def choose_password(page: Page, password: str) -> None:
    page.get_by_label("Nieuw wachtwoord", exact=True).fill(password)
    page.get_by_label("Herhaal het nieuwe wachtwoord").fill(password)
    page.get_by_role("button").filter(has_text=re.compile("Activeer|Bewaar")).click()


# -- forgot password, forgot username -------------------------------------------------------


def test_forgot_password_from_the_login_page(page, system, mailbox):
    username, address = new_patron(system)
    page.goto(identity(system, "/inloggen/"))
    page.get_by_role("link", name="Wachtwoord vergeten?").click()
    page.get_by_label("Gebruikersnaam of pasnummer").fill(username.upper())
    page.get_by_role("button", name="Stuur mij een link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kijk in je e-mail")
    mail = mailbox.wait_for(address, "nieuw wachtwoord")
    assert mail.html and "<a href=" in mail.html
    page.goto(mail.link("/wachtwoord-herstellen/"))
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Je nieuwe wachtwoord is ingesteld")
    assert can_sign_in(system, username, NEW_PASSWORD)
    assert not can_sign_in(system, username, PASSWORD)
    page.goto(mail.link("/wachtwoord-herstellen/"))  # a second time: used
    expect(page.get_by_role("heading", level=1)).to_have_text("Deze link werkt niet meer")
    mailbox.wait_for(address, "wachtwoord is gewijzigd")


def test_forgot_username(page, system, mailbox):
    username, address = new_patron(system)
    page.goto(identity(system, "/gebruikersnaam-vergeten/"))
    page.get_by_label("E-mailadres").fill(address.upper())
    page.get_by_role("button", name="Stuur mij mijn gebruikersnaam").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kijk in je e-mail")
    mail = mailbox.wait_for(address, "gebruikersnaam")
    assert username in mail.text


# -- activation ----------------------------------------------------------------------------


def test_generated_account_is_activated_from_the_e_mail(page, system, mailbox):
    client = system.demo["library_clients"][0]
    token = requests.post(
        identity(system, "/o/token/"),
        data={"grant_type": "client_credentials", "scope": "accounts:read accounts:write"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    ).json()["access_token"]
    ref = fresh_card(client["library"])  # in the library's own range (rule L6)
    address = f"lid{ref}@example.org"
    generated = requests.post(
        identity(system, f"/api/v1/customers/{ref}/account"),
        json={"recovery_email": address},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert generated.status_code == 201, generated.text
    mail = mailbox.wait_for(address, "Activeer")
    assert ref in mail.text  # the username (the card number) is in the mail
    page.goto(mail.link("/activeren/"))
    expect(page.get_by_text(ref)).to_be_visible()
    choose_password(page, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Je inlogaccount is klaar")
    assert can_sign_in(system, ref, PASSWORD)


# -- self-service lid worden --------------------------------------------------------------


def test_self_service_sign_up_then_activation(page, system, mailbox):
    username = fresh("nieuwlid")
    address = f"{username}@example.org"
    page.goto(library(system, "/aanmelden/"))
    page.get_by_role("link", name="Bibliotheek aan de Maas").click()
    page.get_by_label("Je naam").fill(f"Nieuw Lid {username}")
    page.get_by_label("Geboortedatum").fill("1991-05-17")
    page.get_by_label("E-mailadres").fill(address)
    page.get_by_label(re.compile("Volwassen Compleet")).check()
    # No username on the sign-up form: the page and the mail must read the same whether a
    # name is free or taken. The patron chooses one after the link proved the address.
    expect(page.get_by_label("Gebruikersnaam (mag je zelf kiezen)")).to_have_count(0)
    page.get_by_label("Ik ga akkoord met de voorwaarden van de bibliotheek.").check()
    page.get_by_role("button", name="Word lid").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bijna klaar: kijk in je e-mail")
    mail = mailbox.wait_for(address, "Activeer")
    card = _card_of(system, address)
    assert card in mail.text
    page.goto(mail.link("/activeren/"))
    page.get_by_label("Gebruikersnaam (mag je zelf kiezen)").fill(username)
    choose_password(page, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Je inlogaccount is klaar")
    assert can_sign_in(system, username, PASSWORD)
    # The library learns of the activation from its changes feed (every minute).
    staff = next(s for s in system.demo["staff"] if s["username"] == "balie.maas")
    deadline = time.monotonic() + 90
    state = None
    while time.monotonic() < deadline:
        found = requests.get(
            library(system, "/api/v1/customers/") + card,
            headers={"Authorization": f"Bearer {staff['api_token']}"},
            timeout=30,
        ).json()
        assert "subscription" in found, found
        state = found["subscription"]["state"]
        if state == "active":
            break
        time.sleep(2)
    assert state == "active"


def _card_of(system, address: str) -> str:
    return system.bibid(
        "library",
        "shell",
        "-v",
        "0",
        "-c",
        "from bibid.library.customers.models import Customer\n"
        f"print(Customer.objects.get(email={address!r}).card_number)",
    ).strip()


def test_an_unactivated_sign_up_is_purged_after_24_hours(page, system, mailbox):
    username = fresh("laatlid")
    address = f"{username}@example.org"
    page.goto(library(system, "/aanmelden/aan-de-maas/"))
    page.get_by_label("Je naam").fill(f"Laat Lid {username}")
    page.get_by_label("Geboortedatum").fill("1985-01-02")
    page.get_by_label("E-mailadres").fill(address)
    page.get_by_label(re.compile("Volwassen Compact")).check()
    page.get_by_label("Ik ga akkoord met de voorwaarden van de bibliotheek.").check()
    page.get_by_role("button", name="Word lid").click()
    mail = mailbox.wait_for(address, "Activeer")
    card = _card_of(system, address)
    system.move_clock(hours=25)
    try:
        system.bibid("purge-inactive", "--no-progress")
        page.goto(mail.link("/activeren/"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Deze link werkt niet meer")
    finally:
        system.move_clock(hours=-25)
    staff = next(s for s in system.demo["staff"] if s["username"] == "balie.maas")
    deadline = time.monotonic() + 90
    state = None
    while time.monotonic() < deadline:
        found = requests.get(
            library(system, f"/api/v1/customers/{card}"),
            headers={"Authorization": f"Bearer {staff['api_token']}"},
            timeout=30,
        ).json()
        state = found["subscription"]["state"]
        if state == "lapsed":
            break
        time.sleep(2)
    assert state == "lapsed"
    assert found["login_account"]["linked"] is False


# -- Mijn inlogaccount ------------------------------------------------------------------


def test_change_password_signs_out_elsewhere(browser, system, mailbox):
    username, address = new_patron(system)
    here = browser.new_context(locale="nl-NL").new_page()
    elsewhere = browser.new_context(locale="nl-NL").new_page()
    sign_in(here, system, username, PASSWORD)
    sign_in(elsewhere, system, username, PASSWORD)
    here.get_by_role("link", name="Wachtwoord wijzigen").click()
    here.get_by_label("Huidig wachtwoord").fill(PASSWORD)
    here.get_by_label("Nieuw wachtwoord", exact=True).fill(NEW_PASSWORD)
    here.get_by_label("Herhaal het nieuwe wachtwoord").fill(NEW_PASSWORD)
    here.get_by_role("button", name="Wijzig mijn wachtwoord").click()
    expect(here.get_by_role("status")).to_contain_text("Je wachtwoord is gewijzigd")
    elsewhere.goto(identity(system, "/"))
    expect(elsewhere.get_by_role("heading", level=1)).to_have_text("Inloggen")
    mailbox.wait_for(address, "wachtwoord is gewijzigd")
    here.context.close()
    elsewhere.context.close()


def test_change_email_counts_after_the_link(page, system, mailbox):
    username, address = new_patron(system)
    new_address = f"nieuw.{username}@example.org"
    sign_in(page, system, username, PASSWORD)
    page.get_by_role("link", name="E-mailadres wijzigen").click()
    page.get_by_label("Nieuw herstel-e-mailadres").fill(new_address)
    page.get_by_role("button", name="Stuur een bevestigingslink").click()
    expect(page.get_by_role("status")).to_contain_text(new_address)
    expect(page.get_by_role("definition").filter(has_text=address)).to_be_visible()
    mailbox.wait_for(address, "wordt gewijzigd")
    confirm = mailbox.wait_for(new_address, "Bevestig")
    page.goto(confirm.link("/e-mailadres-bevestigen/"))
    page.get_by_role("button", name="Ja, bevestig dit adres").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Je herstel-e-mailadres is bevestigd")
    mailbox.wait_for(address, "is gewijzigd")
    page.goto(identity(system, "/"))
    expect(page.get_by_role("definition").filter(has_text=new_address)).to_be_visible()


def test_change_username(page, system, mailbox):
    username, address = new_patron(system)
    new_name = fresh("hernoemd")
    sign_in(page, system, username, PASSWORD)
    page.get_by_role("link", name="Gebruikersnaam wijzigen").click()
    page.get_by_label("Nieuwe gebruikersnaam").fill("anna.jansen")
    page.get_by_role("button", name="Wijzig mijn gebruikersnaam").click()
    expect(page.get_by_text("Deze gebruikersnaam is al in gebruik.")).to_be_visible()
    page.get_by_label("Nieuwe gebruikersnaam").fill(new_name)
    page.get_by_role("button", name="Wijzig mijn gebruikersnaam").click()
    expect(page.get_by_test_id("username")).to_have_text(new_name)
    mailbox.wait_for(address, "gebruikersnaam is gewijzigd")
    assert can_sign_in(system, new_name, PASSWORD)


def test_delete_account(page, system, mailbox):
    username, address = new_patron(system)
    sign_in(page, system, username, PASSWORD)
    page.get_by_role("link", name="Account verwijderen").click()
    expect(
        page.get_by_text("Je lidmaatschap bij de bibliotheek blijft wel bestaan", exact=False)
    ).to_be_visible()
    page.get_by_label("Je wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Verwijder mijn inlogaccount").click()
    expect(page.get_by_text("Vink aan dat je dit begrijpt.")).to_be_visible()
    page.get_by_label("Je wachtwoord").fill(PASSWORD)
    page.get_by_label(re.compile("Ik begrijp dat mijn inlogaccount verdwijnt")).check()
    page.get_by_role("button", name="Verwijder mijn inlogaccount").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Je inlogaccount is verwijderd")
    mailbox.wait_for(address, "is verwijderd")
    assert not can_sign_in(system, username, PASSWORD)


# -- accessibility (axe-core) ---------------------------------------------------------------


def test_self_service_pages_have_no_axe_violations(browser, system, mailbox):
    from axe_playwright_python.sync_playwright import Axe

    username, _address = new_patron(system)
    # axe is injected as a script; the pages' CSP would rightly refuse that.
    context = browser.new_context(locale="nl-NL", bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    pages = [
        "/inloggen/",
        "/hulp-bij-inloggen/",
        "/wachtwoord-vergeten/",
        "/gebruikersnaam-vergeten/",
        "/activeren/ongeldig/",
        "/uitgelogd/",
    ]
    problems = {}
    for path in pages:
        page.goto(identity(system, path))
        result = axe.run(page)
        if result.violations_count:
            problems[path] = result.generate_report()
    sign_in(page, system, username, PASSWORD)
    for path in [
        "/",
        "/wachtwoord-wijzigen/",
        "/e-mailadres-wijzigen/",
        "/gebruikersnaam-wijzigen/",
        "/account-verwijderen/",
    ]:
        page.goto(identity(system, path))
        result = axe.run(page)
        if result.violations_count:
            problems[path] = result.generate_report()
    page.goto(identity(system, "/wachtwoord-wijzigen/"))
    page.get_by_role("button", name="Wijzig mijn wachtwoord").click()  # with errors shown
    result = axe.run(page)
    if result.violations_count:
        problems["/wachtwoord-wijzigen/ (errors)"] = result.generate_report()
    page.goto(library(system, "/aanmelden/aan-de-maas/"))
    result = axe.run(page)
    if result.violations_count:
        problems["/aanmelden/aan-de-maas/"] = result.generate_report()
    context.close()
    assert not problems, "\n\n".join(f"{p}:\n{r}" for p, r in problems.items())
