"""The second step of staff in a real browser, ONE system start and one journey: a manager
signs in with a code (computed from the demo's published secret) and resets a desk
colleague's second step; the colleague enrols an authenticator app at the next sign-in (the
QR code's secret read from the page, codes computed with pyotp), sees the recovery codes
once, signs in again with a code, adds a security key with Chromium's virtual authenticator
(DevTools' WebAuthn domain) and signs in with the key.

The library runs at http://localhost:<port>: a browser refuses an IP address as a WebAuthn
relying party id.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from .authenticator import virtual_authenticator
from .console_pages import CODE_LABEL, heading, second_step
from .console_pages import staff as staff_of

pytestmark = pytest.mark.browser

DESK, MANAGER = "balie.maas", "manager.maas"


@pytest.fixture(scope="module")
def system(named_system):
    return named_system  # identity and library on localhost (conftest: named_system)


def url(system, path: str) -> str:
    return system.urls["library"] + path


def password_step(page: Page, system, username: str) -> None:
    page.goto(url(system, "/console/inloggen/"))
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(staff_of(system, username)["password"])
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen", exact=True).click()


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Uitloggen").click()
    expect(heading(page)).to_have_text("Inloggen medewerkers")


def test_staff_enrol_an_app_then_a_security_key_and_sign_in_with_each(system, browser):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    try:
        # A manager: password, then a code; the colleagues' list; the desk colleague reset.
        password_step(page, system, MANAGER)
        expect(page).to_have_url(url(system, "/console/tweede-stap/"))
        page.goto(url(system, "/console/"))  # the password alone gave no session
        expect(heading(page)).to_have_text("Inloggen medewerkers")
        password_step(page, system, MANAGER)
        with page.expect_navigation():
            second_step(page, system, MANAGER)
        expect(heading(page)).to_have_text("Klant zoeken")
        page.goto(url(system, "/console/medewerkers/"))
        row = page.get_by_role("row").filter(has_text=DESK)
        expect(row).to_contain_text("ingesteld")
        with page.expect_navigation():
            row.get_by_role("button", name="Herstel tweede stap").click()
        expect(page.get_by_role("status")).to_contain_text("is hersteld")
        expect(page.get_by_role("row").filter(has_text=DESK)).to_contain_text("nog niet")
        sign_out(page)

        # The colleague enrols an app at the next sign-in: the QR code, the typed secret.
        password_step(page, system, DESK)
        expect(heading(page)).to_have_text("Tweede stap instellen")
        expect(page.locator(".qr svg")).to_be_visible()
        secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
        totp = pyotp.TOTP(secret)
        page.get_by_label("Code uit je app").fill(totp.at(int(time.time()), counter_offset=-1))
        with page.expect_navigation():
            page.get_by_role("button", name="Bevestig de app").click()
        expect(heading(page)).to_have_text("Herstelcodes")
        codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
        assert len(codes) == 10 and all(
            re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", c) for c in codes
        )
        with page.expect_navigation():
            page.get_by_role("link", name="Ik heb ze bewaard, ga verder").click()
        expect(heading(page)).to_have_text("Klant zoeken")
        sign_out(page)

        # Again, with the next code of the app.
        password_step(page, system, DESK)
        page.get_by_label(CODE_LABEL).fill(totp.at(int(time.time()), counter_offset=1))
        with page.expect_navigation():
            page.get_by_role("button", name="Bevestig", exact=True).click()
        expect(heading(page)).to_have_text("Klant zoeken")

        # A security key: Chromium's virtual authenticator.
        virtual_authenticator(page)
        page.goto(url(system, "/console/tweede-stap/instellen/"))
        page.get_by_label("Naam van de sleutel").fill("virtuele sleutel")
        with page.expect_navigation():
            page.get_by_role("button", name="Voeg beveiligingssleutel toe").click()
        expect(page).to_have_url(url(system, "/console/tweede-stap/beheren/"))
        expect(page.get_by_role("table")).to_contain_text("virtuele sleutel")
        sign_out(page)

        # And signs in with it: the password, then the key (no code typed).
        password_step(page, system, DESK)
        expect(heading(page)).to_have_text("Tweede stap")
        with page.expect_navigation():
            page.get_by_role("button", name="Gebruik je beveiligingssleutel").click()
        expect(heading(page)).to_have_text("Klant zoeken")
    finally:
        context.close()
