"""The staff console in a real browser: what a library's staff see when they sign in, find a
customer, use the Inlogaccount menu and register new members at the desk.

One running system is shared by every e2e test and its demo data is never reset. Tests that
change something work on customers they register themselves at the desk (unique names);
demo customers are only read. Failed sign-ins come from addresses of their own (through the
trusted proxy header), so no guessing limit of this module reaches another test.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from .console_pages import (
    ACCOUNT_TERMS,
    ACTIVATE,
    ANNA_DUIN,
    ANNA_MAAS,
    AUTHORIZE,
    CODE_LABEL,
    CONSOLE,
    DATE,
    DESK,
    HISTORY,
    JEROEN,
    KARIN,
    LINK_LABEL,
    LOTTE,
    MAAS,
    NINA,
    NOBODY_LINKED,
    OTTO,
    PASSWORD_RESET,
    RECOVERY,
    RIGHTS,
    SECOND_STEP,
    SHOW,
    SIGN_IN,
    UNBLOCK,
    UNLINK,
    WRONG_SIGN_IN,
    Identity,
    act,
    ask_to_link,
    demo_password,
    dmy,
    expect_result,
    fail_until_blocked,
    failed_identity_sign_in,
    fresh_address,
    generate,
    heading,
    library_api,
    link,
    link_state,
    link_step,
    menu,
    menu_form,
    navigate,
    open_customer,
    open_handover,
    patron_agrees,
    patron_has_confirmed,
    post_item,
    region,
    register,
    registered,
    result_panel,
    search,
    search_field,
    second_step,
    show,
    sign_in,
    staff,
    tab_to,
    tag,
    totp_code,
    url,
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


# 1. Signing in and out -----------------------------------------------------------------------


def test_staff_sign_in_generic_failure_and_sign_out(system, new_page):
    page = new_page(extra_http_headers={"X-Forwarded-For": fresh_address()})
    page.goto(url(system, CONSOLE))
    expect(page).to_have_url(url(system, SIGN_IN) + "?next=/console/")
    expect(heading(page)).to_have_text("Inloggen medewerkers")
    username = page.get_by_label("Gebruikersnaam")
    password = page.get_by_label("Wachtwoord")
    expect(username).to_be_focused()
    expect(username).to_have_attribute("autocomplete", "username")
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "current-password")
    button = page.get_by_role("button", name="Inloggen", exact=True)

    username.fill("balie.maas")
    password.fill("Niet-het-wachtwoord-1")
    response = navigate(page, button.click)
    assert response.status == 200
    expect(page.get_by_role("alert")).to_have_text(WRONG_SIGN_IN)
    expect(heading(page)).to_have_text("Inloggen medewerkers")
    expect(username).to_have_value("balie.maas")
    expect(password).to_have_value("")

    # An unknown name gets exactly the same answer.
    username.fill(f"niemand.{tag()}")
    password.fill("Niet-het-wachtwoord-1")
    navigate(page, button.click)
    expect(page.get_by_role("alert")).to_have_text(WRONG_SIGN_IN)

    username.fill("balie.maas")
    password.fill(staff(system, "balie.maas")["password"])
    navigate(page, button.click)
    # The password alone is not enough: the second step, with a code from the demo's app.
    expect(page).to_have_url(url(system, SECOND_STEP))
    page.goto(url(system, CONSOLE))
    expect(page).to_have_url(url(system, SIGN_IN) + "?next=/console/")  # not signed in yet
    page.goto(url(system, SECOND_STEP))
    navigate(page, lambda: second_step(page, system, "balie.maas"))
    expect(page).to_have_url(url(system, CONSOLE))
    expect(heading(page)).to_have_text("Klant zoeken")
    expect(page.get_by_role("alert")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Hoofdmenu")
    expect(nav).to_contain_text("Bas Baliemedewerker · balie")

    navigate(page, nav.get_by_role("button", name="Uitloggen").click)
    expect(page).to_have_url(url(system, SIGN_IN))
    expect(heading(page)).to_have_text("Inloggen medewerkers")
    expect(page.get_by_role("button", name="Uitloggen")).to_have_count(0)

    # Signed out for real: a customer page asks to sign in, and then opens.
    page.goto(url(system, f"/console/klanten/{ANNA_MAAS}/"))
    expect(page).to_have_url(url(system, SIGN_IN) + f"?next=/console/klanten/{ANNA_MAAS}/")
    username.fill("balie.maas")
    password.fill(staff(system, "balie.maas")["password"])
    navigate(page, button.click)
    navigate(page, lambda: second_step(page, system, "balie.maas"))
    expect(page).to_have_url(url(system, f"/console/klanten/{ANNA_MAAS}/"))
    expect(heading(page)).to_contain_text("Anna Jansen")


# 2. Finding a customer -----------------------------------------------------------------------


def test_find_a_customer_by_name_and_by_card_number(system, page):
    sign_in(page, system, "balie.maas")
    search(page, system, "bos")
    table = page.get_by_role("table", name="3 klanten gevonden")
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Naam", "Pasnummer", "Geboortedatum", "E-mailadres", "Inlogaccount"]
    )
    rows = table.locator("tbody tr")
    expect(rows.locator("td:nth-child(2)")).to_have_text([JEROEN, KARIN, LOTTE])
    expect(rows.first.locator("td")).to_have_text(
        ["Jeroen Bos", JEROEN, "21-08-1982", "jeroen.bos@example.org", "lotte.bos"]
    )
    expect(rows.nth(1).locator("td").last).to_have_text("geen")

    navigate(page, table.get_by_role("link", name="Jeroen Bos").click)
    expect(page).to_have_url(url(system, f"/console/klanten/{JEROEN}/"))
    expect(heading(page)).to_have_text(f"Jeroen Bos {JEROEN}")

    # A whole card number (as a scanner types it, with Enter) goes straight to the customer.
    page.goto(url(system, CONSOLE))
    search_field(page).fill(JEROEN)
    navigate(page, lambda: search_field(page).press("Enter"))
    expect(page).to_have_url(url(system, f"/console/klanten/{JEROEN}/"))
    expect(heading(page)).to_have_text(f"Jeroen Bos {JEROEN}")

    expect(region(page, "Klantgegevens").locator("dd")).to_have_text(
        ["21-08-1982", "jeroen.bos@example.org", "—", DATE]
    )
    subscription = library_api(system, "GET", f"/customers/{JEROEN}").json()["subscription"]
    period = f"{dmy(subscription['start'])} – {dmy(subscription['end'])}"
    box = region(page, "Abonnement")
    expect(box.locator("dt")).to_have_text(["Soort", "Periode", "Status", "Rol", "E-books"])
    expect(box.locator("dd")).to_have_text(["Gezin Compleet", period, "lopend", "hoofdlid", "ja"])
    expect(box.get_by_role("heading", name="Gezin")).to_be_visible()
    family = box.locator("ul.family > li")
    expect(family).to_have_text([f"Karin Bos · partner · {KARIN}", f"Lotte Bos · kind · {LOTTE}"])
    expect(link_state(page)).to_have_text("Gekoppeld inlogaccount: lotte.bos")

    navigate(page, family.get_by_role("link", name="Lotte Bos").click)
    expect(page).to_have_url(url(system, f"/console/klanten/{LOTTE}/"))
    expect(heading(page)).to_have_text(f"Lotte Bos {LOTTE}")
    expect(region(page, "Abonnement").locator("ul.family > li")).to_have_text(
        [f"Jeroen Bos · hoofdlid · {JEROEN}", f"Karin Bos · partner · {KARIN}"]
    )
    expect(link_state(page)).to_have_text(NOBODY_LINKED)

    search(page, system, f"niemand-{tag()}")
    expect(page.get_by_role("heading", name="0 klanten gevonden")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_text("Geen klanten gevonden.")).to_be_visible()


# 3. Every Inlogaccount menu item -------------------------------------------------------------


def test_every_inlogaccount_menu_item_says_what_happened(system, page, identity, mailbox, new_page):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    email = f"e2e.menu.{mark}@example.org"
    register(
        page,
        system,
        name=f"E2E Menu {mark}",
        birth_date="1979-10-11",
        type_name="Volwassen Compleet",
        email=email,
        login_account=False,
    )
    card = registered(page)[0]
    end = library_api(system, "GET", f"/customers/{card}").json()["subscription"]["end"]
    end_nl = date.fromisoformat(end).strftime("%d-%m-%Y")  # as the console writes a date
    open_customer(page, system, card)
    expect(result_panel(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)

    generate(page)
    expect_result(
        page,
        f"Inlogaccount {card} aangemaakt (nog niet actief). "
        f"De activeringsmail is onderweg naar {email}.",
    )
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")

    show(page, SHOW)
    panel = expect_result(page, f"Inlogaccount {card}: inactief (wacht op activering).")
    data = panel.get_by_test_id("account-data")
    expect(data.locator("dt")).to_have_text(ACCOUNT_TERMS)
    expect(data.locator("dd")).to_have_text(
        [
            card,
            "inactief (wacht op activering; wordt 24 uur na aanmaken verwijderd) · nog geen "
            "wachtwoord gekozen",
            f"{email} (niet bevestigd)",
            re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$"),
            "nooit",
            MAAS,
            "geen",
        ]
    )

    act(page, ACTIVATE)
    expect_result(
        page,
        "Het inlogaccount is geactiveerd en wordt niet meer verwijderd. "
        "De klant krijgt een e-mail om een wachtwoord te kiezen.",
    )
    assert identity.account(card)["state"] == "active"

    act(page, AUTHORIZE)
    panel = expect_result(
        page,
        re.compile(
            r"^(Klantgegevens en rechten zijn bijgewerkt bij de inlogdienst|De gegevens bij de "
            r"inlogdienst waren al actueel) \(rechten: e-books en luisterboeken\)\.$"
        ),
    )
    expect(panel).to_contain_text(f"Gestuurd: Volwassen Compleet, tot {end_nl}")

    show(page, RIGHTS)
    panel = expect_result(page, "Geldige rechten: e-books en luisterboeken.")
    rows = panel.get_by_test_id("rights").locator("tbody tr")
    expect(rows).to_have_count(2)
    # Words, never codes: the code stays in a data attribute.
    for row, (code, word) in zip(
        rows.all(), (("audiobooks", "Luisterboeken"), ("ebooks", "E-books")), strict=True
    ):
        expect(row.locator("td")).to_have_text([word, end_nl, "10 tegelijk", MAAS])
        expect(row.locator("td").first).to_have_attribute("data-right", code)

    show(page, HISTORY)
    expect_result(page, re.compile(r"^0 recente gebeurtenissen"))
    expect(result_panel(page)).to_contain_text("Nog geen inlogpogingen.")
    failed_identity_sign_in(system, card)
    open_customer(page, system, card)
    show(page, HISTORY)
    panel = expect_result(page, "1 recente gebeurtenis, waarvan 1 mislukte poging.")
    history = panel.get_by_test_id("history")
    expect(history.get_by_role("columnheader")).to_have_text(
        ["Wanneer", "Wat", "Reden", "Netwerk", "Browser"]
    )
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody td")).to_have_text(
        [
            re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$"),
            "inloggen",
            "nog geen wachtwoord gekozen",
            re.compile(r"^10\.\d+\.\d+\.0/24$"),
            "Firefox op Windows",
        ]
    )

    show(page, SHOW)
    failing = expect_result(page, f"Inlogaccount {card}: actief, nog zonder wachtwoord.")
    expect(failing.get_by_test_id("account-data").locator("dd").last).to_have_text(
        "1 mislukte poging in het laatste uur"
    )
    act(page, UNBLOCK)  # one failure makes no one wait
    expect_result(page, "Er was geen blokkade.")
    # Eight failures: the last one makes the patron wait 16 seconds.
    fail_until_blocked(system, card, 7)
    show(page, SHOW)
    blocked = expect_result(page, f"Inlogaccount {card}: actief, nog zonder wachtwoord.")
    expect(blocked.get_by_test_id("account-data").locator("dd").last).to_have_text(
        re.compile(r"^geblokkeerd tot \S.* na 8 mislukte pogingen$")
    )
    act(page, UNBLOCK)
    expect_result(page, "De blokkade is opgeheven; de klant kan direct opnieuw inloggen.")
    # Rule L4: the wait ends, the failures of the hour stay counted.
    assert identity.account(card)["block"] == {"failures": 8, "blocked_until": None}
    show(page, SHOW)
    expect(result_panel(page).get_by_test_id("account-data").locator("dd").last).to_have_text(
        "8 mislukte pogingen in het laatste uur"
    )
    act(page, UNBLOCK)
    expect_result(page, "Er was geen blokkade.")

    act(page, PASSWORD_RESET)
    expect_result(
        page,
        "De klant krijgt een e-mail om een nieuw wachtwoord te kiezen (ook in de spammap kijken).",
    )

    act(page, UNLINK)
    expect_result(
        page,
        "Het inlogaccount is ontkoppeld. Het account zelf bestaat nog; de klant "
        "kan het aan een andere klant laten koppelen.",
    )
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert identity.account(card) is None

    # The account still exists: its username is the card number. Linking it again needs the
    # patron: they choose a password from the mail the desk's activation sent, and sign in
    # on the handover page with it.
    password = f"Mijn-eigen-zin-{mark}"
    choose = mailbox.wait_for(email, "Kies een wachtwoord")
    patron = new_page()
    patron.goto(choose.link("/activeren/"))
    patron.get_by_label("Nieuw wachtwoord", exact=True).fill(password)
    patron.get_by_label("Herhaal het nieuwe wachtwoord").fill(password)
    navigate(patron, patron.get_by_role("button", name=re.compile("Activeer|Bewaar")).click)
    expect(heading(patron)).to_have_text("Je inlogaccount is klaar")
    link(page, card, password)
    expect_result(
        page, f"Inlogaccount {card} is gekoppeld aan deze klant; de rechten worden bijgewerkt."
    )
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")
    assert identity.account(card)["username"] == card

    # A menu item that cannot be done says so plainly, and changes nothing.
    ask_to_link(page, f"bestaat.niet.{mark}")
    expect_result(
        page, "Aan deze klant is al een inlogaccount gekoppeld. Ontkoppel het eerst.", ok=False
    )
    expect(link_step(page)).to_have_count(0)  # no link request was opened
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")


def test_koppel_refuses_an_account_linked_to_a_family_member(system, page, identity):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    register(
        page,
        system,
        name=f"E2E Gezin {mark}",
        birth_date="1979-10-11",
        type_name="Volwassen Compleet",
        email=f"e2e.gezin.{mark}@example.org",
        login_account=False,
    )
    card = registered(page)[0]
    open_customer(page, system, card)

    # Asking links nothing (rule L2): the patron must agree first.
    ask_to_link(page, "lotte.bos")
    expect(link_step(page)).to_be_visible()
    expect(result_panel(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert identity.account(card) is None
    # lotte.bos is linked to her father in this library: even with her agreement on the
    # handover page, refused, naming his card.
    handover = open_handover(page)
    patron_agrees(handover, "lotte.bos", demo_password(system, "lotte.bos"))
    handover.close()
    patron_has_confirmed(page)
    expect_result(
        page,
        f"Dit inlogaccount is in deze bibliotheek al gekoppeld aan klant {JEROEN}."
        " Koppel bij een gezin ieder zijn eigen inlogaccount.",
        ok=False,
    )
    expect(link_step(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert identity.account(JEROEN)["username"] == "lotte.bos"
    assert identity.account(card) is None


def test_reset_recovery_email_from_the_menu(system, page, identity):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    email = f"e2e.herstel.{mark}@example.org"
    register(
        page,
        system,
        name=f"E2E Herstel {mark}",
        birth_date="1986-01-20",
        type_name="Volwassen Compleet",
        email=email,
        login_account=False,
    )
    card = registered(page)[0]
    open_customer(page, system, card)
    old = f"oud.{mark}@example.org"
    generate(page, recovery_email=old)
    expect_result(
        page,
        f"Inlogaccount {card} aangemaakt (nog niet actief). "
        f"De activeringsmail is onderweg naar {old}.",
    )
    assert identity.account(card)["recovery_email"] == old

    expect(menu(page).get_by_role("button", name=RECOVERY, exact=True)).to_be_visible()
    act(page, RECOVERY)
    expect_result(page, f"Het herstel-e-mailadres is nu {email}.")
    assert identity.account(card)["recovery_email"] == email


def test_koppel_username_field_is_labelled(system, page):
    sign_in(page, system, "balie.maas")
    open_customer(page, system, JEROEN)
    part = menu_form(page, "Koppel inlogaccount")
    field = part.get_by_label(LINK_LABEL)
    expect(field).to_be_visible(timeout=2000)
    field.fill("lotte.bos")
    expect(part.get_by_role("textbox")).to_have_value("lotte.bos")
    ids = page.locator("[id]").evaluate_all("elements => elements.map(e => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_menu_still_works_after_a_form_error(system, page):
    sign_in(page, system, "helpdesk.maas")
    open_customer(page, system, JEROEN)
    part = menu_form(page, "Koppel inlogaccount")
    # The username may be left out now (the patron signs in on the screen); a name pasted
    # with an invisible character is the form error left.
    part.get_by_label(LINK_LABEL).fill("lotte.bos\u200b")
    response = navigate(page, part.get_by_role("button", name="Koppel", exact=True).click)
    assert response.status == 400
    expect(page.locator(".field-error")).to_have_text(
        ["Dit veld bevat tekens die niet getypt kunnen worden."]
    )
    expect(menu_form(page, "Koppel inlogaccount").get_by_label(LINK_LABEL)).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(link_step(page)).to_have_count(0)  # no link request was opened
    expect(link_state(page)).to_have_text("Gekoppeld inlogaccount: lotte.bos")  # unchanged

    show_button = menu(page).get_by_role("button", name=SHOW, exact=True)
    show_button.click()
    expect_result(page, re.compile(r"^Inlogaccount lotte\.bos: "))


def test_inloggeschiedenis_clicked_again_shows_the_new_attempt(system, page):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    register(
        page,
        system,
        name=f"E2E Opnieuw {mark}",
        birth_date="1970-07-07",
        type_name="Volwassen Compleet",
        activate_now=True,
    )
    [card] = registered(page)
    open_customer(page, system, card)
    show(page, HISTORY)
    expect_result(page, re.compile(r"^0 recente gebeurtenissen"))
    failed_identity_sign_in(system, card)  # the customer tries again, meanwhile
    menu(page).get_by_role("button", name=HISTORY, exact=True).click()
    expect_result(page, "1 recente gebeurtenis, waarvan 1 mislukte poging.")


# 4. Colleagues and volunteers; roles ---------------------------------------------------------


def test_colleagues_and_volunteers_are_private(system, page, new_page):
    sign_in(page, system, "balie.maas")
    for card, name, kind in (
        (NINA, "Nina de Groot", "collega"),
        (OTTO, "Otto Vermeer", "vrijwilliger"),
    ):
        open_customer(page, system, card)
        expect(heading(page)).to_have_text(f"{name} {card} {kind}")
        expect(page.get_by_test_id("private-notice")).to_have_text(
            f"Dit is een {kind}. Het inlogaccount van collega's en vrijwilligers kun je niet "
            f"inzien of wijzigen: laat de {kind} zelf inloggen."
        )
        expect(menu(page)).to_have_count(0)
        expect(link_state(page)).to_have_count(0)
        expect(page.get_by_role("button", name=SHOW)).to_have_count(0)
        expect(region(page, "Abonnement")).to_be_visible()  # the membership itself is not secret

    # Asking for the data by address is refused too, and shows none of it.
    post_item(page, system, NINA, "gegevens")
    expect_result(
        page,
        "Dit is een collega of vrijwilliger: hun inlogaccount kun je niet "
        "inzien of wijzigen. Laat de collega of vrijwilliger zelf inloggen.",
        ok=False,
    )
    expect(page.get_by_test_id("account-data")).to_have_count(0)
    expect(page.get_by_text("nina.degroot", exact=True)).to_have_count(0)

    search(page, system, "de Groot")
    row = page.get_by_role("table", name="1 klant gevonden").locator("tbody tr")
    expect(row.locator("td")).to_have_text(
        ["Nina de Groot collega", NINA, "24-12-1993", "nina.degroot@example.org", "—"]
    )

    # Nina herself sees her own account's menu and can look herself up.
    nina = new_page()
    sign_in(nina, system, "nina")
    open_customer(nina, system, NINA)
    expect(nina.get_by_test_id("private-notice")).to_have_count(0)
    expect(link_state(nina)).to_have_text("Gekoppeld inlogaccount: nina.degroot")
    show(nina, SHOW)
    panel = expect_result(nina, "Inlogaccount nina.degroot: actief.")
    expect(panel.get_by_test_id("account-data").locator("dd").first).to_have_text("nina.degroot")
    open_customer(nina, system, OTTO)  # another volunteer stays private for her
    expect(nina.get_by_test_id("private-notice")).to_be_visible()
    expect(menu(nina)).to_have_count(0)


def test_menu_items_follow_the_role(system, page, new_page):
    sign_in(page, system, "balie.maas")
    open_customer(page, system, ANNA_MAAS)
    desk = menu(page)
    for item in (SHOW, RIGHTS):
        expect(desk.get_by_role("button", name=item, exact=True)).to_be_visible()
    for item in (ACTIVATE, AUTHORIZE, PASSWORD_RESET):
        expect(desk.get_by_role("button", name=item, exact=True)).to_be_visible()
    expect(desk.get_by_role("button", name=HISTORY)).to_have_count(0)
    for item in (UNBLOCK, UNLINK):
        expect(desk.get_by_role("button", name=item)).to_have_count(0)
    expect(desk.get_by_text(HISTORY)).to_have_count(0)
    expect(desk.get_by_text(UNBLOCK)).to_have_count(0)
    expect(desk.get_by_text("Ontkoppel")).to_have_count(0)
    # The rule holds on the server too, not only in the menu.
    post_item(page, system, ANNA_MAAS, "geschiedenis")
    expect_result(page, "Dit mag je met jouw rol niet doen.", ok=False)
    expect(page.get_by_test_id("history")).to_have_count(0)

    helpdesk = new_page()
    sign_in(helpdesk, system, "helpdesk.maas")
    open_customer(helpdesk, system, ANNA_MAAS)
    expect(menu(helpdesk).get_by_role("button", name=HISTORY, exact=True)).to_be_visible()
    for item in (UNBLOCK, UNLINK):
        expect(menu(helpdesk).get_by_role("button", name=item, exact=True)).to_be_visible()


# 5. One library does not see another's customers ---------------------------------------------


def test_another_librarys_customers_do_not_exist(system, page):
    sign_in(page, system, "balie.duin")
    expect(page.get_by_role("navigation", name="Hoofdmenu")).to_contain_text("Daan Duin")
    response = page.goto(url(system, f"/console/klanten/{ANNA_MAAS}/"))
    assert response is not None and response.status == 404
    expect(heading(page)).to_have_text("Klant niet gevonden")
    expect(page.get_by_role("navigation", name="Hoofdmenu")).to_contain_text("Daan Duin")
    expect(page.get_by_text("Anna Jansen")).to_have_count(0)

    search(page, system, "Anna")
    rows = page.get_by_role("table", name="1 klant gevonden").locator("tbody tr")
    expect(rows.locator("td")).to_have_text(
        ["Anna Jansen", ANNA_DUIN, "06-05-1984", "anna.jansen@example.org", "anna.jansen"]
    )
    search(page, system, ANNA_MAAS)  # the other library's card number finds nothing either
    expect(page).to_have_url(re.compile(r"/console/\?q="))
    expect(page.get_by_role("heading", name="0 klanten gevonden")).to_be_visible()

    open_customer(page, system, ANNA_DUIN)
    expect(heading(page)).to_have_text(f"Anna Jansen {ANNA_DUIN}")
    expect(region(page, "Abonnement").locator("dd").first).to_have_text("Volwassen Compact")


# 6. Lid worden aan de balie ------------------------------------------------------------------


def test_desk_registration_with_an_active_login_account(system, page, identity):
    sign_in(page, system, "balie.maas")
    mark = tag()
    name, email = f"E2E Lid {mark}", f"e2e.lid.{mark}@example.org"
    register(
        page,
        system,
        name=name,
        birth_date="1985-03-04",
        type_name="Volwassen Compleet",
        email=email,
        login_account=True,
        activate_now=True,
    )
    [card] = registered(page)
    expect(page.get_by_role("status")).to_have_text(f"{name} · pasnummer {card}")
    expect(page.locator("main h2:has-text('Inlogaccount') + ul > li")).to_have_text(
        [
            f"{name}: Inlogaccount {card} aangemaakt (nog niet actief). De activeringsmail is "
            f"onderweg naar {email}.",
            f"{name}: Het inlogaccount is geactiveerd en wordt niet meer verwijderd. De klant "
            "krijgt een e-mail om een wachtwoord te kiezen.",
        ]
    )

    navigate(page, page.get_by_role("link", name=name).click)
    expect(heading(page)).to_have_text(f"{name} {card}")
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")
    expect(region(page, "Klantgegevens").locator("dd").nth(1)).to_have_text(email)
    expect(region(page, "Abonnement").locator("dd")).to_have_text(
        [
            "Volwassen Compleet",
            re.compile(r"^\d{2}-\d{2}-\d{4} – \d{2}-\d{2}-\d{4}$"),
            "lopend",
            "hoofdlid",
            "ja",
        ]
    )
    audit = region(page, "Laatste handelingen").locator("tbody tr td:nth-child(3)")
    expect(audit).to_have_text(
        [
            "inlogaccount geactiveerd",
            "inlogaccount gegenereerd",
            "abonnement afgesloten",
            "klant ingeschreven",
        ]
    )

    account = identity.account(card)
    assert account is not None
    assert (account["username"], account["state"], account["recovery_email"]) == (
        card,
        "active",
        email,
    )
    end = library_api(system, "GET", f"/customers/{card}").json()["subscription"]["end"]
    ebooks = identity.wait_for_ebooks(card, {"loans": 10, "period": "concurrent"})
    assert ebooks["valid_until"] == end
    assert ebooks["this_library"] is True


def test_desk_registration_of_a_family(system, page):
    sign_in(page, system, "balie.maas")
    mark = tag()
    parent, child = f"E2E Ouder {mark}", f"E2E Kind {mark}"
    child_birth = date.today().replace(year=date.today().year - 8, month=6, day=1)
    register(
        page,
        system,
        name=parent,
        birth_date="1981-09-09",
        type_name="Gezin Compleet",
        email=f"e2e.gezin.{mark}@example.org",
        login_account=False,
        members=(("kind", child, child_birth.isoformat()),),
    )
    parent_card, child_card = registered(page)
    expect(page.get_by_role("status").locator("li")).to_have_text(
        [f"{parent} · pasnummer {parent_card}", f"{child} · pasnummer {child_card}"]
    )
    expect(page.get_by_role("heading", name="Inlogaccount")).to_have_count(0)

    navigate(page, page.get_by_role("link", name=child).click)
    expect(heading(page)).to_have_text(f"{child} {child_card}")
    box = region(page, "Abonnement")
    expect(box.locator("dd")).to_have_text(
        ["Gezin Compleet", re.compile("–"), "lopend", "kind", "ja"]
    )
    family = box.locator("ul.family > li")
    expect(family).to_have_text([f"{parent} · hoofdlid · {parent_card}"])
    navigate(page, family.get_by_role("link", name=parent).click)
    expect(heading(page)).to_have_text(f"{parent} {parent_card}")
    expect(region(page, "Abonnement").locator("ul.family > li")).to_have_text(
        [f"{child} · kind · {child_card}"]
    )
    expect(link_state(page)).to_have_text(NOBODY_LINKED)


# 7. Bad input at the desk --------------------------------------------------------------------


def test_desk_form_refuses_bad_input_and_creates_nothing(system, page):
    sign_in(page, system, "balie.maas")
    mark = tag()
    email = f"e2e.fout.{mark}@example.org"
    future = (date.today() + timedelta(days=30)).isoformat()

    response = register(
        page, system, name="", birth_date=future, type_name="Volwassen Compleet", email=email
    )
    assert response.status == 400
    expect(heading(page)).to_have_text("Lid worden aan de balie")
    new = page.get_by_role("group", name="Nieuwe klant")
    name, birth = new.get_by_label("Naam"), new.get_by_label("Geboortedatum")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description("Dit veld is verplicht.")
    expect(birth).to_have_attribute("aria-invalid", "true")
    expect(birth).to_have_accessible_description("Deze datum ligt in de toekomst.")
    expect(page.locator(".field-error")).to_have_text(
        ["Dit veld is verplicht.", "Deze datum ligt in de toekomst."]
    )
    expect(new.get_by_label("E-mailadres")).to_have_value(email)  # what was typed stays

    # A child cannot have an adult subscription, neither alone nor as a family member.
    child, child_birth = (
        f"E2E Kind {mark}",
        date.today().replace(year=date.today().year - 10, month=3, day=1).isoformat(),
    )
    response = register(
        page,
        system,
        name=child,
        birth_date=child_birth,
        type_name="Volwassen Compleet",
        email=email,
    )
    assert response.status == 400
    # The refusal sits at the subscription field, read out with it.
    subscription = page.get_by_role("group", name="Abonnement").get_by_label("Abonnement")
    expect(subscription).to_have_attribute("aria-invalid", "true")
    expect(subscription).to_have_accessible_description(
        f"{child} is te jong voor Volwassen Compleet."
    )
    expect(page.get_by_role("group", name="Nieuwe klant").get_by_label("Naam")).to_have_value(child)

    response = register(
        page,
        system,
        name=f"E2E Ouder {mark}",
        birth_date="1975-05-05",
        type_name="Volwassen Compleet",
        email=email,
        members=(("kind", child, child_birth),),
    )
    assert response.status == 400
    expect(subscription).to_have_accessible_description(
        "Bij dit abonnement horen geen gezinsleden."
    )
    expect(heading(page)).to_have_text("Lid worden aan de balie")

    for text in (mark, email):
        search(page, system, text)
        expect(page.get_by_role("heading", name="0 klanten gevonden")).to_be_visible()


# 8. Subscription changes reach identity by themselves ----------------------------------------


def test_subscription_change_reaches_identity(system, page, identity):
    sign_in(page, system, "balie.maas")
    mark = tag()
    register(
        page,
        system,
        name=f"E2E Wissel {mark}",
        birth_date="1990-12-12",
        type_name="Volwassen Compleet",
        email=f"e2e.wissel.{mark}@example.org",
        activate_now=True,
    )
    [card] = registered(page)
    identity.wait_for_ebooks(card, {"loans": 10, "period": "concurrent"})

    customer = library_api(system, "GET", f"/customers/{card}")
    assert customer.status_code == 200, customer.text
    subscription = customer.json()["subscription"]
    assert subscription["type"] == "compleet"
    changed = library_api(
        system, "PATCH", f"/subscriptions/{subscription['id']}", json={"type": "compact"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["type"] == "compact"

    ebooks = identity.wait_for_ebooks(card, {"loans": 6, "period": "year"})
    assert ebooks["valid_until"] == subscription["end"]

    open_customer(page, system, card)
    expect(region(page, "Abonnement").locator("dd").first).to_have_text("Volwassen Compact")
    show(page, RIGHTS)
    panel = expect_result(page, "Geldige rechten: e-books en luisterboeken.")
    expect(panel.get_by_test_id("rights").locator("tbody tr").last.locator("td")).to_have_text(
        [
            "E-books",
            date.fromisoformat(subscription["end"]).strftime("%d-%m-%Y"),
            "6 per jaar",
            MAAS,
        ]
    )


# 9. Keyboard only ----------------------------------------------------------------------------


def test_search_customer_and_show_account_by_keyboard(system, page):
    page.goto(url(system, CONSOLE))
    expect(page.get_by_label("Gebruikersnaam")).to_be_focused()
    page.keyboard.type("balie.maas")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Wachtwoord")).to_be_focused()
    page.keyboard.type(staff(system, "balie.maas")["password"])
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(page.get_by_label(CODE_LABEL)).to_be_focused()
    page.keyboard.type(totp_code(system, "balie.maas"))
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(heading(page)).to_have_text("Klant zoeken")
    expect(search_field(page)).to_be_focused()

    page.keyboard.type("Jansen")
    navigate(page, lambda: page.keyboard.press("Enter"))
    result = page.get_by_role("table", name="1 klant gevonden").get_by_role(
        "link", name="Anna Jansen"
    )
    tab_to(page, result)
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(heading(page)).to_have_text(f"Anna Jansen {ANNA_MAAS}")

    tab_to(page, menu(page).get_by_role("button", name=SHOW, exact=True))
    navigate(page, lambda: page.keyboard.press("Enter"))
    panel = expect_result(page, re.compile(r"^Inlogaccount anna\.jansen: actief"))
    expect(panel).to_be_focused()  # the answer is where the keyboard is
    expect(panel.get_by_test_id("account-data").locator("dd").first).to_have_text("anna.jansen")

    # And back to the search by keyboard: Shift+Tab reaches the crumb "Zoeken".
    crumb = page.locator(".crumbs").get_by_role("link", name="Zoeken")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if crumb.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("Shift+Tab never reached the crumb")
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(search_field(page)).to_be_focused()


# 10. No console errors, no CSP violations ----------------------------------------------------


def test_no_console_errors_or_csp_violations_in_the_console(system, page):
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.expose_function("bibidCspViolation", lambda text: problems.append(f"CSP: {text}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (event) =>"
        " window.bibidCspViolation(`${event.effectiveDirective} refused ${event.blockedURI}"
        " at ${event.documentURI}`));"
    )

    def check(title: str | re.Pattern) -> None:
        expect(heading(page)).to_have_text(title)
        expect(page.locator("link[rel='stylesheet']")).to_have_count(1)
        # The stylesheet applied (a blocked one would leave the skip link on screen).
        expect(page.get_by_role("link", name="Naar de inhoud")).not_to_be_in_viewport()

    page.goto(url(system, SIGN_IN))
    check("Inloggen medewerkers")
    sign_in(page, system, "helpdesk.maas")
    check("Klant zoeken")
    search(page, system, "Bos")
    check("Klant zoeken")
    page.goto(url(system, f"/console/klanten/{JEROEN}/"))
    check(re.compile(r"^Jeroen Bos \d+$"))
    page.goto(url(system, f"/console/klanten/{ANNA_MAAS}/"))
    for item in (SHOW, RIGHTS, HISTORY):
        show(page, item)
        check(re.compile(r"^Anna Jansen \d+$"))
    menu_form(page, "Genereer inlogaccount")
    menu_form(page, "Koppel inlogaccount")
    page.goto(url(system, DESK))
    check("Lid worden aan de balie")
    page.goto(url(system, "/console/tokens/"))
    check("API-tokens")
    navigate(page, page.get_by_role("button", name="Uitloggen").click)
    check("Inloggen medewerkers")
    page.wait_for_timeout(300)  # let late console messages arrive

    assert problems == []
