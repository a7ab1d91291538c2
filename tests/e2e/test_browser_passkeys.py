"""Passkeys in a real browser: Chromium's virtual authenticator (DevTools' WebAuthn domain).

One system (conftest's named_system) with identity at http://localhost:<port> (a browser
refuses an IP address as a WebAuthn relying party id), and ONE test that walks the whole
journey, so the start-up is paid once: a patron adds a passkey in Mijn inlogaccount, signs
out, signs in with it at identity and through Mijn Menu (an OIDC sign-in that says "met een
passkey") and so in the Online Bibliotheek, removes it, and is then refused with the same
generic message as a passkey identity never saw (the enumeration rule of
test_enumeration.py, on the passkey path).
"""

from __future__ import annotations

import base64
import re
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Page, expect

from .authenticator import virtual_authenticator

pytestmark = pytest.mark.browser

ANNA = "anna.jansen"  # linked at aan-de-maas in the demo data (src/bibid/common/demo.py)
LIBRARY = "aan-de-maas"
GENERIC = re.compile(r"^Inloggen met deze passkey is niet gelukt\.")


@pytest.fixture(scope="module")
def system(named_system):
    return named_system  # identity and library on localhost (conftest: named_system)


def identity(system, path: str) -> str:
    return system.urls["identity"] + path


def mijn_menu(system) -> str:
    return f"{system.urls['library']}/mijn/{LIBRARY}/"


def demo_password(system, username: str) -> str:
    return next(p["password"] for p in system.demo["patrons"] if p["username"] == username)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign_in_with_password(page: Page, system, username: str, password: str) -> None:
    page.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen", exact=True).click()


def sign_out(page: Page, system) -> None:
    page.goto(identity(system, "/uitloggen/"))
    page.get_by_role("main").get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(identity(system, "/uitgelogd/"))


def passkey_answer(page: Page) -> tuple[int, str]:
    """Press "Inloggen met een passkey"; the status and body of identity's answer."""
    with page.expect_response(lambda r: r.url.endswith("/inloggen/passkey/")) as answer:
        page.get_by_role("button", name="Inloggen met een passkey").click()
    return answer.value.status, answer.value.text()


def test_a_patron_adds_a_passkey_signs_in_with_it_and_removes_it(system, browser):
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    try:
        cdp, authenticator = virtual_authenticator(page)
        password = demo_password(system, ANNA)

        # Mijn inlogaccount: just signed in, so adding needs no password again.
        page.goto(identity(system, "/inloggen/?next=/passkeys/"))
        sign_in_with_password(page, system, ANNA, password)
        expect(page.get_by_role("heading", level=1)).to_have_text("Passkeys")
        expect(page.get_by_test_id("passkey-lost")).to_contain_text("Je wachtwoord blijft")
        page.get_by_label("Naam van de passkey").fill("telefoon")
        page.get_by_role("button", name="Passkey toevoegen").click()
        rows = page.get_by_test_id("passkeys").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(page.get_by_label("Naam van de passkey").first).to_have_value("telefoon")
        expect(rows.first).to_contain_text("nog niet")
        held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert [c["isResidentCredential"] for c in held["credentials"]] == [True]

        # Signed out, then in with the passkey alone: no username, no password.
        sign_out(page, system)
        page.goto(identity(system, "/inloggen/"))
        with page.expect_navigation():
            page.get_by_role("button", name="Inloggen met een passkey").click()
        expect(page.get_by_test_id("username")).to_have_text(ANNA)

        # Through Mijn Menu: an OIDC sign-in whose ID token says "passkey".
        sign_out(page, system)
        page.goto(mijn_menu(system))
        expect(page).to_have_url(re.compile("^" + re.escape(identity(system, "/inloggen/"))))
        page.get_by_role("button", name="Inloggen met een passkey").click()
        expect(page).to_have_url(mijn_menu(system))
        expect(page.get_by_test_id("signed-in-with")).to_have_text(
            "Je bent ingelogd met een passkey."
        )
        # And so in the Online Bibliotheek: Mijn Menu's link, no password asked on the way.
        page.get_by_role("link", name="Naar de Online Bibliotheek").click()
        expect(page).to_have_url(system.urls["reading"] + "/")
        expect(page.locator(".who")).to_have_text(ANNA)

        # The list shows its use; removing it (signed in) leaves the password.
        page.goto(identity(system, "/passkeys/"))
        expect(rows.first).not_to_contain_text("nog niet")
        page.get_by_role("button", name="Verwijder telefoon").click()
        expect(page.get_by_test_id("passkeys")).to_have_count(0)
        sign_out(page, system)

        # The removed passkey (still in the authenticator) is refused, generically.
        page.goto(identity(system, "/inloggen/"))
        removed = passkey_answer(page)
        expect(page.get_by_test_id("passkey-error")).to_have_text(GENERIC)
        expect(page).to_have_url(identity(system, "/inloggen/"))

        # A passkey identity never saw: the very same answer.
        cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator})
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cdp.send(
            "WebAuthn.addCredential",
            {
                "authenticatorId": authenticator,
                "credential": {
                    "credentialId": b64(secrets.token_bytes(16)),
                    "isResidentCredential": True,
                    "rpId": "localhost",
                    "privateKey": b64(key),
                    "userHandle": b64(secrets.token_bytes(32)),
                    "signCount": 0,
                },
            },
        )
        page.goto(identity(system, "/inloggen/"))
        unknown = passkey_answer(page)
        expect(page.get_by_test_id("passkey-error")).to_have_text(GENERIC)
        assert removed == unknown and removed[0] == 400, (removed, unknown)

        # The password still works after all this.
        sign_in_with_password(page, system, ANNA, password)
        expect(page.get_by_test_id("username")).to_have_text(ANNA)
    finally:
        context.close()
