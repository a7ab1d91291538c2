"""Linking an existing login account needs the patron (rule L2), and the patron sees and can
undo what a library did (rule L7), in a real browser.

The staff console's link step both ways: the patron signs in on identity's handover page in a
new tab, or reads out the code mailed to the confirmed recovery address. Then Mijn
inlogaccount: the linked library and what it did, and withdrawing the link, after which the
library (its API, its console, Mijn Menu) no longer has the patron. And axe-core on the new
pages. Patrons and customers are the tests' own (docs/security/library-api-rules.md).
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from . import harness
from .console_pages import (
    ACCOUNT_TERMS,
    HANDOVER,
    LINK_LABEL,
    LINK_STEP,
    MAAS,
    NOBODY_LINKED,
    Identity,
    ask_to_link,
    expect_result,
    heading,
    link,
    link_state,
    link_step,
    menu_form,
    navigate,
    open_customer,
    open_handover,
    patron_agrees,
    patron_has_confirmed,
    region,
    register,
    registered,
    result_panel,
    show,
    sign_in,
    tag,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def identity(system) -> Identity:
    return Identity(system)


@pytest.fixture
def new_page(browser):
    """Pages in browser contexts of their own (for example with a client address)."""
    contexts = []

    def make(**options) -> Page:
        context = browser.new_context(locale="nl-NL", **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


COMPLEET = {"loans": 10, "period": "concurrent"}
CODE_SUBJECT = "Je code om je inlogaccount te koppelen"
LINKED_SUBJECT = "Je inlogaccount is gekoppeld aan een bibliotheek"
WAITING = (
    "De klant heeft de koppeling nog niet bevestigd. Vraag om de code uit de e-mail of "
    "laat de klant inloggen op het scherm."
)
FEED_WAIT = 120  # seconds: the library reads identity's changes feed every minute


def identity_url(system, path: str = "/") -> str:
    return system.urls["identity"] + path


def mijn_menu(system, path: str = "") -> str:
    return f"{system.urls['library']}/mijn/aan-de-maas/{path}"


def new_patron(system, *, confirmed: bool) -> tuple[str, str, str]:
    """A fresh active account with a recovery address; (username, password, address)."""
    username = f"koppel.{uuid.uuid4().hex[:10]}"
    password = f"Lang-genoeg-{uuid.uuid4().hex[:8]}"
    address = f"{username}@example.org"
    system.create_patron(username, password, recovery_email=address)
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={username!r})"
        f".update(recovery_email_confirmed_at={'clock.now()' if confirmed else 'None'})\n"
    )
    return username, password, address


def new_customer(page: Page, system) -> str:
    """A customer of Bibliotheek aan de Maas without a login account, registered at the desk
    by the signed-in staff member; the customer page is open."""
    mark = tag()
    register(
        page,
        system,
        name=f"E2E Koppel {mark}",
        birth_date="1983-02-03",
        type_name="Volwassen Compleet",
        email=f"e2e.koppel.{mark}@example.org",
        login_account=False,
    )
    [card] = registered(page)
    open_customer(page, system, card)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    return card


def audit_actions(page: Page) -> list[str]:
    rows = region(page, "Laatste handelingen").locator("tbody tr")
    return [" | ".join(row.locator("td").all_inner_texts()[2:]) for row in rows.all()]


def sign_in_at_identity(page: Page, system, username: str, password: str) -> None:
    page.goto(identity_url(system, "/inloggen/"))
    page.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    navigate(page, page.get_by_role("button", name="Inloggen", exact=True).click)
    expect(heading(page)).to_have_text("Mijn inlogaccount")


# 1. The patron signs in on the handover page ----------------------------------------------


def test_link_step_the_patron_signs_in_on_the_handover_page(system, page, identity, mailbox):
    username, password, address = new_patron(system, confirmed=False)
    sign_in(page, system, "balie.maas")
    card = new_customer(page, system)

    # The username may be left out: the patron says who they are by signing in.
    ask_to_link(page)
    step = link_step(page)
    expect(step).to_be_visible()
    expect(step.get_by_role("heading")).to_have_text(LINK_STEP)
    expect(step.get_by_test_id("link-step-hint")).to_contain_text(
        "Vraag de klant om de code uit de e-mail, of laat de klant zelf inloggen op het scherm."
    )
    # The keyboard is at the step (the answer's target), the code field is the next stop.
    expect(step).to_be_focused()
    page.keyboard.press("Tab")
    expect(step.get_by_label("Code uit de e-mail")).to_be_focused()
    handover_link = step.get_by_role("link", name=HANDOVER, exact=True)
    expect(handover_link).to_have_attribute(
        "href", re.compile("^" + re.escape(identity_url(system, "/koppelen/")) + r"[0-9a-f-]{36}/$")
    )
    expect(handover_link).to_have_attribute("target", "_blank")
    expect(handover_link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    handover_url = handover_link.get_attribute("href")
    expect(result_panel(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert identity.account(card) is None

    # "De klant heeft bevestigd" before the patron did: said in the step, nothing linked.
    patron_has_confirmed(page)
    expect(link_step(page).get_by_test_id("link-error")).to_have_text(WAITING)
    expect(result_panel(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)

    # The patron's turn, in a new tab: identity's own page, not the console's.
    handover = open_handover(page)
    expect(handover).to_have_url(
        re.compile("^" + re.escape(identity_url(system, "/koppelen/")) + r"[0-9a-f-]{36}/$")
    )
    expect(heading(handover)).to_have_text(f"Je inlogaccount koppelen aan {MAAS}")
    expect(handover.get_by_role("main")).to_contain_text("De medewerker ziet je wachtwoord niet.")
    handover.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    handover.get_by_label("Wachtwoord", exact=True).fill("Niet-het-goede-wachtwoord")
    response = navigate(handover, handover.get_by_role("button", name="Inloggen en koppelen").click)
    assert response.status == 400
    expect(handover.get_by_role("alert")).to_contain_text("Onjuiste inlog")
    expect(handover.get_by_label("Gebruikersnaam of pasnummer")).to_have_value(username)
    expect(handover.get_by_label("Wachtwoord", exact=True)).to_have_value("")
    patron_agrees(handover, username, password)
    expect(handover.get_by_role("status")).to_contain_text(
        f"Je hebt de koppeling aan {MAAS} bevestigd."
    )
    expect(handover.get_by_role("status")).to_contain_text("Je bent hier niet ingelogd gebleven.")
    # The desk's browser is not signed in as the patron.
    handover.goto(identity_url(system, "/"))
    expect(handover).to_have_url(identity_url(system, "/inloggen/?next=/"))
    handover.close()

    # Back in the console: now it links.
    patron_has_confirmed(page)
    expect_result(
        page, f"Inlogaccount {username} is gekoppeld aan deze klant; de rechten worden bijgewerkt."
    )
    expect(link_step(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {username}")
    assert identity.account(card)["username"] == username
    assert audit_actions(page)[:3] == [
        "inlogaccount gekoppeld | gelukt",
        "inlogaccount gekoppeld | geweigerd",  # "De klant heeft bevestigd" too early
        "koppelen aangevraagd (wacht op de klant) | gelukt",
    ], audit_actions(page)
    mailbox.wait_for(address, LINKED_SUBJECT)
    # No code was mailed: the address is not confirmed.
    assert not [m for m in mailbox.messages if address in m.to and CODE_SUBJECT in m.subject]
    identity.wait_for_ebooks(card, COMPLEET)  # and the rights follow

    # The used request is done with: its handover page says so.
    gone = page.context.new_page()
    response = gone.goto(handover_url)
    assert response is not None and response.status == 410
    expect(heading(gone)).to_have_text("Deze link werkt niet meer")
    gone.close()


# 2. The code from the e-mail ---------------------------------------------------------------


def test_link_step_with_the_code_from_the_e_mail(system, page, identity, mailbox):
    username, _password, address = new_patron(system, confirmed=True)
    sign_in(page, system, "balie.maas")
    card = new_customer(page, system)

    before = mailbox.count()
    ask_to_link(page, username)
    step = link_step(page)
    expect(step).to_be_visible()
    mail = mailbox.wait_for(address, CODE_SUBJECT, after=before)
    assert f"{MAAS} wil je inlogaccount koppelen" in mail.text, mail.text
    code = re.search(r"^\s+(\d{6})\s*$", mail.text, re.MULTILINE).group(1)
    assert identity.account(card) is None

    field = step.get_by_label("Code uit de e-mail")
    expect(field).to_have_attribute("inputmode", "numeric")
    expect(field).to_have_attribute("autocomplete", "one-time-code")

    # Not six digits: said in the step, and nothing is asked of the login service.
    field.fill("12ab")
    navigate(page, step.get_by_role("button", name="Koppel", exact=True).click)
    error = link_step(page).get_by_test_id("link-error")
    expect(error).to_have_text("De code bestaat uit 6 cijfers.")

    # A wrong code: counted, said in the step, with the tries left; the field says so too.
    # (The exact sentence: test_a_wrong_code_says_the_tries_left_once.)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    link_step(page).get_by_label("Code uit de e-mail").fill(wrong)
    navigate(page, link_step(page).get_by_role("button", name="Koppel", exact=True).click)
    expect(error).to_have_text(re.compile(r"^Deze code klopt niet\. Nog 4 pogingen\."))
    field = link_step(page).get_by_label("Code uit de e-mail")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(
        re.compile(r"^Deze code klopt niet\. Nog 4 pogingen\.")
    )
    expect(result_panel(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert identity.account(card) is None

    # The code the patron reads out (spaces around it do no harm).
    field.fill(f" {code} ")
    navigate(page, link_step(page).get_by_role("button", name="Koppel", exact=True).click)
    expect_result(
        page, f"Inlogaccount {username} is gekoppeld aan deze klant; de rechten worden bijgewerkt."
    )
    expect(link_step(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {username}")
    assert identity.account(card)["username"] == username
    mailbox.wait_for(address, LINKED_SUBJECT, after=before)
    show(page, "Toon inlogaccount gegevens")
    panel = expect_result(page, f"Inlogaccount {username}: actief.")
    data = panel.get_by_test_id("account-data")
    expect(data.locator("dt")).to_have_text(ACCOUNT_TERMS)
    expect(data.locator("dd").first).to_have_text(username)


def test_a_wrong_code_says_the_tries_left_once(system, page, mailbox):
    username, _password, address = new_patron(system, confirmed=True)
    sign_in(page, system, "balie.maas")
    new_customer(page, system)
    before = mailbox.count()
    ask_to_link(page, username)
    mail = mailbox.wait_for(address, CODE_SUBJECT, after=before)
    code = re.search(r"^\s+(\d{6})\s*$", mail.text, re.MULTILINE).group(1)
    for tries_left, wrong in ((4, 1), (3, 2)):
        field = link_step(page).get_by_label("Code uit de e-mail")
        field.fill(f"{(int(code) + wrong) % 10**6:06d}")
        navigate(page, link_step(page).get_by_role("button", name="Koppel", exact=True).click)
        said = f"Deze code klopt niet. Nog {tries_left} pogingen."
        expect(link_step(page).get_by_test_id("link-error")).to_have_text(said)
        expect(link_step(page).get_by_label("Code uit de e-mail")).to_have_accessible_description(
            said
        )


# 3. Mijn inlogaccount: the library, what it did, withdrawing -----------------------------


def test_the_patron_sees_the_library_and_withdraws_the_link(system, page, identity, new_page):
    username, password, _address = new_patron(system, confirmed=False)
    sign_in(page, system, "balie.maas")
    card = new_customer(page, system)
    link(page, username, password)
    expect_result(
        page, f"Inlogaccount {username} is gekoppeld aan deze klant; de rechten worden bijgewerkt."
    )
    identity.wait_for_ebooks(card, COMPLEET)

    patron = new_page()
    # Mijn Menu knows the patron as its customer.
    patron.goto(mijn_menu(system))
    patron.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    patron.get_by_label("Wachtwoord", exact=True).fill(password)
    navigate(patron, patron.get_by_role("button", name="Inloggen", exact=True).click)
    expect(patron).to_have_url(mijn_menu(system))
    expect(heading(patron)).to_have_text("Mijn Menu")
    expect(patron.get_by_test_id("customer-data")).to_contain_text(card)

    # Mijn inlogaccount (signed in already: one session).
    patron.goto(identity_url(system, "/"))
    expect(heading(patron)).to_have_text("Mijn inlogaccount")
    expect(patron.get_by_role("heading", name="Bibliotheken", exact=True)).to_be_visible()
    libraries = patron.get_by_role("table", name="Gekoppelde bibliotheken")
    expect(libraries.get_by_role("columnheader")).to_have_text(
        ["Bibliotheek", "Gekoppeld sinds", "Rechten nu", "Actie"]
    )
    expect(libraries.locator("tbody tr")).to_have_count(1)
    expect(libraries.locator("tbody td")).to_have_text(
        [
            MAAS,
            re.compile(r"^\d{1,2} \S+ \d{4}$"),
            re.compile("^(e-books lenen, luisterboeken lenen|luisterboeken lenen, e-books lenen)$"),
            "Koppeling intrekken",
        ]
    )
    expect(patron.get_by_role("heading", name="Wat bibliotheken deden")).to_be_visible()
    actions = patron.get_by_role("table", name="Wat bibliotheken deden")
    expect(actions.get_by_role("columnheader")).to_have_text(
        ["Wanneer", "Bibliotheek", "Rol", "Wat"]
    )
    rows = [row.locator("td").all_inner_texts()[1:] for row in actions.locator("tbody tr").all()]
    # The desk asked and linked (the acting role the console sends), newest first.
    assert [MAAS, "balie", "Je inlogaccount gekoppeld aan je lidmaatschap"] in rows, rows
    assert [MAAS, "balie", "Gevraagd je inlogaccount te koppelen"] in rows, rows
    assert rows.index(
        [MAAS, "balie", "Je inlogaccount gekoppeld aan je lidmaatschap"]
    ) < rows.index([MAAS, "balie", "Gevraagd je inlogaccount te koppelen"]), rows
    assert all(row[0] == MAAS for row in rows), rows

    # Withdrawing: a page that says what it means, then the button (the password when the
    # sign-in is not recent: 16 minutes later it is asked).
    system.move_clock(minutes=16)
    try:
        navigate(patron, libraries.get_by_role("link", name="Koppeling intrekken").click)
        expect(heading(patron)).to_have_text("Koppeling intrekken")
        main = patron.get_by_role("main")
        expect(main).to_contain_text(f"Je trekt de koppeling van je inlogaccount met {MAAS} in.")
        expect(main).to_contain_text(f"{MAAS} kan je inlogaccount niet meer zien of wijzigen.")
        expect(main.get_by_role("link", name="Nee, terug naar Mijn inlogaccount")).to_be_visible()
        confirm = patron.get_by_role("button", name="Ja, trek de koppeling in")
        current = patron.get_by_label("Je wachtwoord")
        expect(current).to_be_visible()
        expect(current).to_have_attribute("autocomplete", "current-password")
        current.fill("Niet-het-goede-wachtwoord")
        response = navigate(patron, confirm.click)
        assert response.status == 400
        expect(heading(patron)).to_have_text("Koppeling intrekken")  # nothing withdrawn
        assert identity.account(card)["username"] == username
        patron.get_by_label("Je wachtwoord").fill(password)
        navigate(patron, confirm.click)
    finally:
        system.move_clock(minutes=-16)
    expect(patron).to_have_url(identity_url(system, "/"))
    expect(patron.get_by_role("status").filter(has_text="ingetrokken")).to_have_text(
        f"De koppeling met {MAAS} is ingetrokken."
    )
    expect(patron.get_by_role("table", name="Gekoppelde bibliotheken")).to_have_count(0)
    expect(
        patron.get_by_text("Er is geen bibliotheek gekoppeld aan je inlogaccount.")
    ).to_be_visible()
    # What the library did stays listed.
    expect(patron.get_by_role("table", name="Wat bibliotheken deden")).to_contain_text(
        "Je inlogaccount gekoppeld aan je lidmaatschap"
    )

    # The library no longer has the patron: its API at once, its own records from the feed.
    assert identity.account(card) is None
    assert identity.get(f"/customers/{card}/rights").status_code == 404

    def mijn_menu_forgot() -> bool:
        patron.goto(mijn_menu(system))
        return patron.get_by_test_id("not-linked").count() == 1

    harness.eventually(mijn_menu_forgot, "Mijn Menu shows the patron as not linked", FEED_WAIT)
    expect(heading(patron)).to_have_text("Geen lidmaatschap gevonden")
    expect(patron.get_by_test_id("not-linked")).to_contain_text(
        f"Je bent ingelogd met het inlogaccount {username}, maar dat inlogaccount is niet "
        f"gekoppeld aan een lidmaatschap van {MAAS}."
    )
    open_customer(page, system, card)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert "koppeling verwijderd (inlogdienst) | gelukt" in audit_actions(page), audit_actions(page)


# 4. Accessibility of the new pages ----------------------------------------------------------


def test_linking_pages_have_no_axe_violations(system, new_page, identity):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: dict[str, str] = {}

    def check(page: Page, name: str) -> None:
        result = axe.run(page)
        if result.violations_count:
            problems[name] = result.generate_report()

    username, password, _address = new_patron(system, confirmed=False)
    # axe is injected as a script; the pages' CSP would rightly refuse that.
    desk = new_page(bypass_csp=True)
    sign_in(desk, system, "balie.maas")
    card = new_customer(desk, system)
    menu_form(desk, "Koppel inlogaccount").get_by_label(LINK_LABEL).fill(username)
    check(desk, "console: Koppel inlogaccount opened")
    ask_to_link(desk, username)
    expect(link_step(desk)).to_be_visible()
    check(desk, "console: link step")
    patron_has_confirmed(desk)
    expect(link_step(desk).get_by_test_id("link-error")).to_have_text(WAITING)
    check(desk, "console: link step with an error")

    handover = open_handover(desk)
    expect(heading(handover)).to_have_text(f"Je inlogaccount koppelen aan {MAAS}")
    check(handover, "handover page")
    navigate(handover, handover.get_by_role("button", name="Inloggen en koppelen").click)
    check(handover, "handover page: empty form")
    handover.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    handover.get_by_label("Wachtwoord", exact=True).fill("Niet-het-goede-wachtwoord")
    navigate(handover, handover.get_by_role("button", name="Inloggen en koppelen").click)
    expect(handover.get_by_role("alert")).to_contain_text("Onjuiste inlog")
    check(handover, "handover page: wrong password")
    patron_agrees(handover, username, password)
    check(handover, "handover page: done")
    handover.close()
    patron_has_confirmed(desk)
    expect_result(desk, re.compile(f"^Inlogaccount {re.escape(username)} is gekoppeld"))
    identity.wait_for_ebooks(card, COMPLEET)

    patron = new_page(bypass_csp=True)
    sign_in_at_identity(patron, system, username, password)
    expect(patron.get_by_role("table", name="Gekoppelde bibliotheken")).to_be_visible()
    expect(patron.get_by_role("table", name="Wat bibliotheken deden")).to_be_visible()
    check(patron, "Mijn inlogaccount with a library and its actions")
    navigate(patron, patron.get_by_role("link", name="Koppeling intrekken").click)
    check(patron, "Koppeling intrekken")
    navigate(patron, patron.get_by_role("button", name="Ja, trek de koppeling in").click)
    expect(
        patron.get_by_text("Er is geen bibliotheek gekoppeld aan je inlogaccount.")
    ).to_be_visible()
    check(patron, "Mijn inlogaccount after withdrawing")

    gone = new_page(bypass_csp=True)
    gone.goto(identity_url(system, f"/koppelen/{uuid.uuid4()}/"))
    expect(heading(gone)).to_have_text("Deze link werkt niet meer")
    check(gone, "handover page: gone")

    assert not problems, "\n\n".join(f"{p}:\n{r}" for p, r in problems.items())
