"""The staff console in a real browser: what a library's staff see when they sign in, find a
customer, use the Inlogaccount menu and register new members at the desk.

One running system is shared by every e2e test and its demo data is never reset. Tests that
change something work on customers they register themselves at the desk (unique names);
demo customers are only read. Failed sign-ins come from addresses of their own (through the
trusted proxy header), so no guessing limit of this module reaches another test.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest
import requests
from playwright.sync_api import Locator, Page, Response, expect

pytestmark = pytest.mark.browser

TIMEOUT = 30
PUSH_WAIT = 70  # seconds: a push is queued on every change; the task worker drains the queue
CONSOLE = "/console/"
SIGN_IN = "/console/inloggen/"
DESK = "/console/lid-worden/"
NOBODY_LINKED = "Er is geen inlogaccount gekoppeld."
WRONG_SIGN_IN = "Onjuiste gebruikersnaam of wachtwoord."
SEARCH_LABEL = "Zoek op pasnummer, naam, e-mailadres of gebruikersnaam"
SHOW = "Toon inlogaccount gegevens"
RIGHTS = "Toon inlogaccount-rechten"
HISTORY = "Inloggeschiedenis"
ACTIVATE = "Activeer inlogaccount"
AUTHORIZE = "Autoriseer inlogaccount (klantgegevens en rechten)"
RECOVERY = "Reset herstel-e-mailadres naar het adres van de bibliotheek"
PASSWORD_RESET = "Stuur wachtwoordherstel-e-mail"
UNBLOCK = "Deblokkeer"
UNLINK = "Ontkoppel inlogaccount"
LINK_LABEL = "Gebruikersnaam waarmee de klant inlogt"
LINK_STEP = "Koppelen: de klant bevestigt"
HANDOVER = "Laat de klant inloggen"
PATRON_CONFIRMED = "De klant heeft bevestigd"
ACCOUNT_TERMS = ["Gebruikersnaam", "Status", "Herstel-e-mailadres", "Aangemaakt",
                 "Laatst ingelogd", "Gekoppeld bij", "Blokkade"]
MAAS = "Bibliotheek aan de Maas"
JEROEN, KARIN, LOTTE = "2010000010", "2010000011", "2010000012"
ANNA_MAAS, NINA, OTTO, ANNA_DUIN = "2010000001", "2010000014", "2010000015", "3020000001"
DATE = re.compile(r"^\d{2}-\d{2}-\d{4}$")


# -- helpers -----------------------------------------------------------------------------------


def url(system, path: str) -> str:
    return system.urls["library"] + path


def staff(system, username: str) -> dict:
    return next(s for s in system.demo["staff"] if s["username"] == username)


def demo_password(system, username: str) -> str:
    return next(p["password"] for p in system.demo["patrons"] if p["username"] == username)


def tag() -> str:
    return uuid.uuid4().hex[:10]


def fresh_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def dmy(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d-%m-%Y")


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def search_field(page: Page) -> Locator:
    return page.get_by_label(SEARCH_LABEL)


def region(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name, exact=True)


def menu(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Inlogaccount-menu")


def link_state(page: Page) -> Locator:
    return page.get_by_test_id("link-state")


def result_panel(page: Page) -> Locator:
    return page.get_by_role("status").filter(has=page.get_by_test_id("result-summary"))


def expect_result(page: Page, summary: str | re.Pattern, *, ok: bool = True) -> Locator:
    """The result panel of the last menu item: one panel, its heading, its plain sentence."""
    panel = result_panel(page)
    expect(panel).to_have_count(1)
    expect(panel.get_by_role("heading")).to_have_text("Gelukt" if ok else "Niet gelukt")
    expect(panel.get_by_test_id("result-summary")).to_have_text(summary)
    return panel


def navigate(page: Page, act: Callable[[], None]) -> Response:
    with page.expect_navigation() as navigation:
        act()
    response = navigation.value
    assert response is not None
    return response


def sign_in(page: Page, system, username: str) -> None:
    page.goto(url(system, SIGN_IN))
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(staff(system, username)["password"])
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(heading(page)).to_have_text("Klant zoeken")


def open_customer(page: Page, system, card: str) -> None:
    page.goto(url(system, f"/console/klanten/{card}/"))
    expect(heading(page)).to_contain_text(card)


def search(page: Page, system, text: str) -> None:
    page.goto(url(system, CONSOLE))
    search_field(page).fill(text)
    navigate(page, lambda: search_field(page).press("Enter"))


def show(page: Page, item: str) -> None:
    """A Bekijken item of the Inlogaccount menu (a button)."""
    navigate(page, menu(page).get_by_role("button", name=item, exact=True).click)


def post_item(page: Page, system, card: str, action: str) -> None:
    """Ask for a menu item by address, as a forged form would (the server must refuse)."""
    page.goto(url(system, f"/console/klanten/{card}/"))
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    page.request.post(url(system, f"/console/klanten/{card}/inlogaccount/{action}/"),
                      form={"csrfmiddlewaretoken": token}, max_redirects=0,
                      headers={"Referer": url(system, f"/console/klanten/{card}/")})
    page.goto(url(system, f"/console/klanten/{card}/"))


def act(page: Page, item: str) -> None:
    """A Wijzigen item of the Inlogaccount menu (a button; the answer shows after a redirect)."""
    navigate(page, menu(page).get_by_role("button", name=item, exact=True).click)


def menu_form(page: Page, summary: str) -> Locator:
    """Open the Genereer or Koppel part of the menu; return it."""
    part = menu(page).locator("details").filter(
        has=page.locator("summary", has_text=re.compile(f"^{summary}$")))
    if not part.evaluate("element => element.open"):
        part.locator("summary").click()
    return part


def generate(page: Page, *, recovery_email: str = "") -> None:
    part = menu_form(page, "Genereer inlogaccount")
    part.get_by_label("Herstel-e-mailadres").fill(recovery_email)
    navigate(page, part.get_by_role("button", name="Genereer", exact=True).click)


def link_step(page: Page) -> Locator:
    """Step 2 of Koppel inlogaccount: the patron confirms (code, or the handover page)."""
    return page.get_by_test_id("link-step")


def ask_to_link(page: Page, username: str = "") -> None:
    """Koppel inlogaccount, step 1 (rule L2): it opens a link request and links nothing; the
    link step shows (or a refusal, in the result panel)."""
    part = menu_form(page, "Koppel inlogaccount")
    part.get_by_label(LINK_LABEL).fill(username)
    navigate(page, part.get_by_role("button", name="Koppel", exact=True).click)


def open_handover(page: Page) -> Page:
    """"Laat de klant inloggen": identity's handover page, in a new tab (the desk turns the
    screen to the patron)."""
    with page.context.expect_page() as opened:
        link_step(page).get_by_role("link", name=HANDOVER, exact=True).click()
    handover = opened.value
    handover.wait_for_load_state()
    return handover


def patron_agrees(handover: Page, username: str, password: str, library: str = MAAS) -> None:
    """The patron signs in on the handover page and agrees to the link."""
    expect(heading(handover)).to_have_text(f"Je inlogaccount koppelen aan {library}")
    handover.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    handover.get_by_label("Wachtwoord", exact=True).fill(password)
    navigate(handover, handover.get_by_role("button", name="Inloggen en koppelen").click)
    expect(heading(handover)).to_have_text("Bedankt")


def patron_has_confirmed(page: Page) -> None:
    navigate(page, link_step(page).get_by_role("button", name=PATRON_CONFIRMED,
                                               exact=True).click)


def link(page: Page, username: str, password: str) -> None:
    """Koppel inlogaccount with the patron at the desk, all in the browser: ask, the patron
    signs in on the handover page in a new tab, back in the console "De klant heeft
    bevestigd". What the last step answered shows in the result panel."""
    ask_to_link(page, username)
    expect(link_step(page)).to_be_visible()
    expect(link_step(page).get_by_role("heading")).to_have_text(LINK_STEP)
    handover = open_handover(page)
    patron_agrees(handover, username, password)
    handover.close()
    patron_has_confirmed(page)


def choose_type(page: Page, name: str) -> None:
    select = page.get_by_role("group", name="Abonnement").get_by_label("Abonnement")
    option = select.locator("option").filter(has_text=re.compile(f"^{re.escape(name)} \\("))
    select.select_option(option.get_attribute("value"))


def register(page: Page, system, *, name: str, birth_date: str, type_name: str,
             email: str = "", login_account: bool = True, activate_now: bool = False,
             members: tuple[tuple[str, str, str], ...] = ()) -> Response:
    """Fill in "Lid worden aan de balie" and send it; members are (rol, naam, geboortedatum)."""
    page.goto(url(system, DESK))
    expect(heading(page)).to_have_text("Lid worden aan de balie")
    new = page.get_by_role("group", name="Nieuwe klant")
    new.get_by_label("Naam").fill(name)
    new.get_by_label("Geboortedatum").fill(birth_date)
    new.get_by_label("E-mailadres").fill(email)
    choose_type(page, type_name)
    use_account = page.get_by_label("Gebruik inlogaccount")
    activate = page.get_by_label("De klant staat aan de balie: activeer het inlogaccount direct")
    expect(use_account).to_be_checked()  # the desk's default
    expect(activate).not_to_be_checked()
    use_account.set_checked(login_account)
    activate.set_checked(activate_now)
    rows = page.locator(".member-row")
    for index, (role, member_name, member_birth) in enumerate(members):
        row = rows.nth(index)
        row.get_by_label("Rol").select_option(label=role)
        row.get_by_label("Naam").fill(member_name)
        row.get_by_label("Geboortedatum").fill(member_birth)
    return navigate(page, page.get_by_role("button", name="Inschrijven").click)


def registered(page: Page) -> list[str]:
    """The card numbers on the "Ingeschreven" page."""
    expect(heading(page)).to_have_text("Ingeschreven")
    cards = page.get_by_test_id("card-number").all_inner_texts()
    assert cards and all(re.fullmatch(r"201\d{7}", card) for card in cards), cards
    return cards


def tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"Tab never reached {target}")


def wrong_password_at_identity(system, username: str) -> requests.Response:
    """A wrong password on the identity service's login page, from an address of its own."""
    identity = system.urls["identity"]
    with requests.Session() as browser:
        form = browser.get(f"{identity}/inloggen/", timeout=TIMEOUT)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        return browser.post(
            f"{identity}/inloggen/",
            data={"csrfmiddlewaretoken": token, "username": username,
                  "password": "Niet-het-goede-wachtwoord"},
            headers={"X-Forwarded-For": fresh_address(), "User-Agent": "bibid-e2e-console"},
            allow_redirects=False, timeout=TIMEOUT,
        )


def failed_identity_sign_in(system, username: str) -> None:
    answer = wrong_password_at_identity(system, username)
    assert answer.status_code == 200  # the generic failure


def fail_until_blocked(system, username: str, failures: int) -> None:
    """Wrong passwords until the account has `failures` of them this hour; each one after
    the fifth waits out the delay first (2, 4, 8, ... seconds), so the last starts a wait
    of 2 ** (failures - 4) seconds."""
    done = 0
    while done < failures:
        answer = wrong_password_at_identity(system, username)
        if answer.status_code == 429:  # the delay of the previous failure runs
            time.sleep(int(answer.headers["Retry-After"]) + 0.2)
            continue
        assert answer.status_code == 200, answer.status_code
        done += 1


def library_api(system, method: str, path: str, *, user: str = "balie.maas", **options):
    token = staff(system, user)["api_token"]
    return requests.request(method, url(system, f"/api/v1{path}"), timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {token}"}, **options)


class Identity:
    """The identity service's library API, read as Bibliotheek aan de Maas."""

    def __init__(self, system) -> None:
        self.base = system.urls["identity"]
        client = next(c for c in system.demo["library_clients"] if c["library"] == "aan-de-maas")
        answer = requests.post(f"{self.base}/o/token/",
                               data={"grant_type": "client_credentials", "scope": "accounts:read"},
                               auth=(client["client_id"], client["client_secret"]),
                               timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}/api/v1{path}", headers=self.headers, timeout=TIMEOUT)

    def account(self, card: str) -> dict | None:
        answer = self.get(f"/customers/{card}/account")
        if answer.status_code == 404 and answer.json()["code"] == "not_linked":
            return None
        assert answer.status_code == 200, answer.text
        return answer.json()

    def rights(self, card: str) -> list[dict]:
        answer = self.get(f"/customers/{card}/rights")
        assert answer.status_code == 200, answer.text
        return answer.json()["rights"]

    def wait_for_ebooks(self, card: str, limits: dict) -> dict:
        """Poll until the account's ebooks right has these limits (the push worker's work)."""
        deadline = time.monotonic() + PUSH_WAIT
        seen: list[dict] = []
        while time.monotonic() < deadline:
            seen = [r for r in self.rights(card) if r["code"] == "ebooks"]
            if any(r["limits"] == limits for r in seen):
                return next(r for r in seen if r["limits"] == limits)
            time.sleep(0.5)
        pytest.fail(f"no ebooks right with {limits} for {card} within {PUSH_WAIT} s: {seen}")


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
    expect(page).to_have_url(url(system, f"/console/klanten/{ANNA_MAAS}/"))
    expect(heading(page)).to_contain_text("Anna Jansen")


# 2. Finding a customer -----------------------------------------------------------------------


def test_find_a_customer_by_name_and_by_card_number(system, page):
    sign_in(page, system, "balie.maas")
    search(page, system, "bos")
    table = page.get_by_role("table", name="3 klanten gevonden")
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Naam", "Pasnummer", "Geboortedatum", "E-mailadres", "Inlogaccount"])
    rows = table.locator("tbody tr")
    expect(rows.locator("td:nth-child(2)")).to_have_text([JEROEN, KARIN, LOTTE])
    expect(rows.first.locator("td")).to_have_text(
        ["Jeroen Bos", JEROEN, "21-08-1982", "jeroen.bos@example.org", "lotte.bos"])
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
        ["21-08-1982", "jeroen.bos@example.org", "—", DATE])
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
        [f"Jeroen Bos · hoofdlid · {JEROEN}", f"Karin Bos · partner · {KARIN}"])
    expect(link_state(page)).to_have_text(NOBODY_LINKED)

    search(page, system, f"niemand-{tag()}")
    expect(page.get_by_role("heading", name="0 klanten gevonden")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_text("Geen klanten gevonden.")).to_be_visible()


# 3. Every Inlogaccount menu item -------------------------------------------------------------


def test_every_inlogaccount_menu_item_says_what_happened(system, page, identity, mailbox,
                                                         new_page):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    email = f"e2e.menu.{mark}@example.org"
    register(page, system, name=f"E2E Menu {mark}", birth_date="1979-10-11",
             type_name="Volwassen Compleet", email=email, login_account=False)
    card = registered(page)[0]
    end = library_api(system, "GET", f"/customers/{card}").json()["subscription"]["end"]
    open_customer(page, system, card)
    expect(result_panel(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)

    generate(page)
    expect_result(page, f"Inlogaccount {card} aangemaakt (nog niet actief). "
                        f"De activeringsmail is onderweg naar {email}.")
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")

    show(page, SHOW)
    panel = expect_result(page, f"Inlogaccount {card}: inactief (wacht op activering).")
    data = panel.get_by_test_id("account-data")
    expect(data.locator("dt")).to_have_text(ACCOUNT_TERMS)
    expect(data.locator("dd")).to_have_text([
        card, "inactief (wacht op activering; wordt 24 uur na aanmaken verwijderd) · nog geen "
        "wachtwoord gekozen", f"{email} (niet bevestigd)",
        re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$"),
        "nooit", MAAS, "geen"])

    act(page, ACTIVATE)
    expect_result(page, "Het inlogaccount is geactiveerd en wordt niet meer verwijderd. "
                        "De klant krijgt een e-mail om een wachtwoord te kiezen.")
    assert identity.account(card)["state"] == "active"

    act(page, AUTHORIZE)
    panel = expect_result(page, re.compile(
        r"^(Klantgegevens en rechten zijn bijgewerkt bij de inlogdienst|De gegevens bij de "
        r"inlogdienst waren al actueel) \(rechten: ebooks, audiobooks\)\.$"))
    expect(panel).to_contain_text(f"Gestuurd: Volwassen Compleet, tot {end}")

    show(page, RIGHTS)
    panel = expect_result(page, "Geldige rechten: audiobooks, ebooks.")
    rows = panel.get_by_test_id("rights").locator("tbody tr")
    expect(rows).to_have_count(2)
    for row, code in zip(rows.all(), ("audiobooks", "ebooks"), strict=True):
        expect(row.locator("td")).to_have_text([code, end, "loans: 10, period: concurrent", MAAS])

    show(page, HISTORY)
    expect_result(page, re.compile(r"^0 recente gebeurtenissen"))
    expect(result_panel(page)).to_contain_text("Nog geen inlogpogingen.")
    failed_identity_sign_in(system, card)
    open_customer(page, system, card)
    show(page, HISTORY)
    panel = expect_result(page, "1 recente gebeurtenis, waarvan 1 mislukte poging.")
    history = panel.get_by_test_id("history")
    expect(history.get_by_role("columnheader")).to_have_text(
        ["Wanneer", "Wat", "Reden", "Netwerk", "Browser"])
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody td")).to_have_text(
        [re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}$"), "inloggen",
         "nog geen wachtwoord gekozen", re.compile(r"^10\.\d+\.\d+\.0/24$"),
         "bibid-e2e-console"])

    show(page, SHOW)
    failing = expect_result(page, f"Inlogaccount {card}: actief, nog zonder wachtwoord.")
    expect(failing.get_by_test_id("account-data").locator("dd").last).to_have_text(
        "1 mislukte poging in het laatste uur")
    act(page, UNBLOCK)  # one failure makes no one wait
    expect_result(page, "Er was geen blokkade.")
    # Eight failures: the last one makes the patron wait 16 seconds.
    fail_until_blocked(system, card, 7)
    show(page, SHOW)
    blocked = expect_result(page, f"Inlogaccount {card}: actief, nog zonder wachtwoord.")
    expect(blocked.get_by_test_id("account-data").locator("dd").last).to_have_text(
        re.compile(r"^geblokkeerd tot \S.* na 8 mislukte pogingen$"))
    act(page, UNBLOCK)
    expect_result(page, "De blokkade is opgeheven; de klant kan direct opnieuw inloggen.")
    # Rule L4: the wait ends, the failures of the hour stay counted.
    assert identity.account(card)["block"] == {"failures": 8, "blocked_until": None}
    show(page, SHOW)
    expect(result_panel(page).get_by_test_id("account-data").locator("dd").last).to_have_text(
        "8 mislukte pogingen in het laatste uur")
    act(page, UNBLOCK)
    expect_result(page, "Er was geen blokkade.")

    act(page, PASSWORD_RESET)
    expect_result(page, "De klant krijgt een e-mail om een nieuw wachtwoord te kiezen "
                        "(ook in de spammap kijken).")

    act(page, UNLINK)
    expect_result(page, "Het inlogaccount is ontkoppeld. Het account zelf bestaat nog; de klant "
                        "kan het aan een andere klant laten koppelen.")
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
    expect_result(page, f"Inlogaccount {card} is gekoppeld aan deze klant; de rechten worden "
                        "bijgewerkt.")
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")
    assert identity.account(card)["username"] == card

    # A menu item that cannot be done says so plainly, and changes nothing.
    ask_to_link(page, f"bestaat.niet.{mark}")
    expect_result(page, "Aan deze klant is al een inlogaccount gekoppeld. Ontkoppel het eerst.",
                  ok=False)
    expect(link_step(page)).to_have_count(0)  # no link request was opened
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")


def test_koppel_refuses_an_account_linked_to_a_family_member(system, page, identity):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    register(page, system, name=f"E2E Gezin {mark}", birth_date="1979-10-11",
             type_name="Volwassen Compleet", email=f"e2e.gezin.{mark}@example.org",
             login_account=False)
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
    expect_result(page, f"Dit inlogaccount is in deze bibliotheek al gekoppeld aan klant {JEROEN}."
                        " Koppel bij een gezin ieder zijn eigen inlogaccount.", ok=False)
    expect(link_step(page)).to_have_count(0)
    expect(link_state(page)).to_have_text(NOBODY_LINKED)
    assert identity.account(JEROEN)["username"] == "lotte.bos"
    assert identity.account(card) is None


def test_reset_recovery_email_from_the_menu(system, page, identity):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    email = f"e2e.herstel.{mark}@example.org"
    register(page, system, name=f"E2E Herstel {mark}", birth_date="1986-01-20",
             type_name="Volwassen Compleet", email=email, login_account=False)
    card = registered(page)[0]
    open_customer(page, system, card)
    old = f"oud.{mark}@example.org"
    generate(page, recovery_email=old)
    expect_result(page, f"Inlogaccount {card} aangemaakt (nog niet actief). "
                        f"De activeringsmail is onderweg naar {old}.")
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
        ["Dit veld bevat tekens die niet getypt kunnen worden."])
    expect(menu_form(page, "Koppel inlogaccount").get_by_label(LINK_LABEL)).to_have_attribute(
        "aria-invalid", "true")
    expect(link_step(page)).to_have_count(0)  # no link request was opened
    expect(link_state(page)).to_have_text("Gekoppeld inlogaccount: lotte.bos")  # unchanged

    show_button = menu(page).get_by_role("button", name=SHOW, exact=True)
    show_button.click()
    expect_result(page, re.compile(r"^Inlogaccount lotte\.bos: "))


def test_inloggeschiedenis_clicked_again_shows_the_new_attempt(system, page):
    sign_in(page, system, "helpdesk.maas")
    mark = tag()
    register(page, system, name=f"E2E Opnieuw {mark}", birth_date="1970-07-07",
             type_name="Volwassen Compleet", activate_now=True)
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
    for card, name, kind in ((NINA, "Nina de Groot", "collega"),
                             (OTTO, "Otto Vermeer", "vrijwilliger")):
        open_customer(page, system, card)
        expect(heading(page)).to_have_text(f"{name} {card} {kind}")
        expect(page.get_by_test_id("private-notice")).to_have_text(
            f"Dit is een {kind}. Het inlogaccount van collega's en vrijwilligers kun je niet "
            f"inzien of wijzigen: laat de {kind} zelf inloggen.")
        expect(menu(page)).to_have_count(0)
        expect(link_state(page)).to_have_count(0)
        expect(page.get_by_role("button", name=SHOW)).to_have_count(0)
        expect(region(page, "Abonnement")).to_be_visible()  # the membership itself is not secret

    # Asking for the data by address is refused too, and shows none of it.
    post_item(page, system, NINA, "gegevens")
    expect_result(page, "Dit is een collega of vrijwilliger: hun inlogaccount kun je niet "
                        "inzien of wijzigen. Laat de collega of vrijwilliger zelf inloggen.",
                  ok=False)
    expect(page.get_by_test_id("account-data")).to_have_count(0)
    expect(page.get_by_text("nina.degroot", exact=True)).to_have_count(0)

    search(page, system, "de Groot")
    row = page.get_by_role("table", name="1 klant gevonden").locator("tbody tr")
    expect(row.locator("td")).to_have_text(
        ["Nina de Groot collega", NINA, "24-12-1993", "nina.degroot@example.org", "—"])

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
        ["Anna Jansen", ANNA_DUIN, "06-05-1984", "anna.jansen@example.org", "anna.jansen"])
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
    register(page, system, name=name, birth_date="1985-03-04", type_name="Volwassen Compleet",
             email=email, login_account=True, activate_now=True)
    [card] = registered(page)
    expect(page.get_by_role("status")).to_have_text(f"{name} · pasnummer {card}")
    expect(page.locator("main h2:has-text('Inlogaccount') + ul > li")).to_have_text([
        f"{name}: Inlogaccount {card} aangemaakt (nog niet actief). De activeringsmail is "
        f"onderweg naar {email}.",
        f"{name}: Het inlogaccount is geactiveerd en wordt niet meer verwijderd. De klant "
        "krijgt een e-mail om een wachtwoord te kiezen.",
    ])

    navigate(page, page.get_by_role("link", name=name).click)
    expect(heading(page)).to_have_text(f"{name} {card}")
    expect(link_state(page)).to_have_text(f"Gekoppeld inlogaccount: {card}")
    expect(region(page, "Klantgegevens").locator("dd").nth(1)).to_have_text(email)
    expect(region(page, "Abonnement").locator("dd")).to_have_text(
        ["Volwassen Compleet", re.compile(r"^\d{2}-\d{2}-\d{4} – \d{2}-\d{2}-\d{4}$"), "lopend",
         "hoofdlid", "ja"])
    audit = region(page, "Laatste handelingen").locator("tbody tr td:nth-child(3)")
    expect(audit).to_have_text(["inlogaccount geactiveerd", "inlogaccount gegenereerd",
                                "abonnement afgesloten", "klant ingeschreven"])

    account = identity.account(card)
    assert account is not None
    assert (account["username"], account["state"], account["recovery_email"]) == (
        card, "active", email)
    end = library_api(system, "GET", f"/customers/{card}").json()["subscription"]["end"]
    ebooks = identity.wait_for_ebooks(card, {"loans": 10, "period": "concurrent"})
    assert ebooks["valid_until"] == end
    assert ebooks["this_library"] is True


def test_desk_registration_of_a_family(system, page):
    sign_in(page, system, "balie.maas")
    mark = tag()
    parent, child = f"E2E Ouder {mark}", f"E2E Kind {mark}"
    child_birth = date.today().replace(year=date.today().year - 8, month=6, day=1)
    register(page, system, name=parent, birth_date="1981-09-09", type_name="Gezin Compleet",
             email=f"e2e.gezin.{mark}@example.org", login_account=False,
             members=(("kind", child, child_birth.isoformat()),))
    parent_card, child_card = registered(page)
    expect(page.get_by_role("status").locator("li")).to_have_text(
        [f"{parent} · pasnummer {parent_card}", f"{child} · pasnummer {child_card}"])
    expect(page.get_by_role("heading", name="Inlogaccount")).to_have_count(0)

    navigate(page, page.get_by_role("link", name=child).click)
    expect(heading(page)).to_have_text(f"{child} {child_card}")
    box = region(page, "Abonnement")
    expect(box.locator("dd")).to_have_text(["Gezin Compleet", re.compile("–"), "lopend", "kind",
                                            "ja"])
    family = box.locator("ul.family > li")
    expect(family).to_have_text([f"{parent} · hoofdlid · {parent_card}"])
    navigate(page, family.get_by_role("link", name=parent).click)
    expect(heading(page)).to_have_text(f"{parent} {parent_card}")
    expect(region(page, "Abonnement").locator("ul.family > li")).to_have_text(
        [f"{child} · kind · {child_card}"])
    expect(link_state(page)).to_have_text(NOBODY_LINKED)


# 7. Bad input at the desk --------------------------------------------------------------------


def test_desk_form_refuses_bad_input_and_creates_nothing(system, page):
    sign_in(page, system, "balie.maas")
    mark = tag()
    email = f"e2e.fout.{mark}@example.org"
    future = (date.today() + timedelta(days=30)).isoformat()

    response = register(page, system, name="", birth_date=future,
                        type_name="Volwassen Compleet", email=email)
    assert response.status == 400
    expect(heading(page)).to_have_text("Lid worden aan de balie")
    new = page.get_by_role("group", name="Nieuwe klant")
    name, birth = new.get_by_label("Naam"), new.get_by_label("Geboortedatum")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description("Dit veld is verplicht.")
    expect(birth).to_have_attribute("aria-invalid", "true")
    expect(birth).to_have_accessible_description("Deze datum ligt in de toekomst.")
    expect(page.locator(".field-error")).to_have_text(
        ["Dit veld is verplicht.", "Deze datum ligt in de toekomst."])
    expect(new.get_by_label("E-mailadres")).to_have_value(email)  # what was typed stays

    # A child cannot have an adult subscription, neither alone nor as a family member.
    child, child_birth = f"E2E Kind {mark}", date.today().replace(year=date.today().year - 10,
                                                                   month=3, day=1).isoformat()
    response = register(page, system, name=child, birth_date=child_birth,
                        type_name="Volwassen Compleet", email=email)
    assert response.status == 400
    # The refusal sits at the subscription field, read out with it.
    subscription = page.get_by_role("group", name="Abonnement").get_by_label("Abonnement")
    expect(subscription).to_have_attribute("aria-invalid", "true")
    expect(subscription).to_have_accessible_description(
        f"{child} is te jong voor Volwassen Compleet.")
    expect(page.get_by_role("group", name="Nieuwe klant").get_by_label("Naam")).to_have_value(
        child)

    response = register(page, system, name=f"E2E Ouder {mark}", birth_date="1975-05-05",
                        type_name="Volwassen Compleet", email=email,
                        members=(("kind", child, child_birth),))
    assert response.status == 400
    expect(subscription).to_have_accessible_description(
        "Bij dit abonnement horen geen gezinsleden.")
    expect(heading(page)).to_have_text("Lid worden aan de balie")

    for text in (mark, email):
        search(page, system, text)
        expect(page.get_by_role("heading", name="0 klanten gevonden")).to_be_visible()


# 8. Subscription changes reach identity by themselves ----------------------------------------


def test_subscription_change_reaches_identity(system, page, identity):
    sign_in(page, system, "balie.maas")
    mark = tag()
    register(page, system, name=f"E2E Wissel {mark}", birth_date="1990-12-12",
             type_name="Volwassen Compleet", email=f"e2e.wissel.{mark}@example.org",
             activate_now=True)
    [card] = registered(page)
    identity.wait_for_ebooks(card, {"loans": 10, "period": "concurrent"})

    customer = library_api(system, "GET", f"/customers/{card}")
    assert customer.status_code == 200, customer.text
    subscription = customer.json()["subscription"]
    assert subscription["type"] == "compleet"
    changed = library_api(system, "PATCH", f"/subscriptions/{subscription['id']}",
                          json={"type": "compact"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["type"] == "compact"

    ebooks = identity.wait_for_ebooks(card, {"loans": 6, "period": "year"})
    assert ebooks["valid_until"] == subscription["end"]

    open_customer(page, system, card)
    expect(region(page, "Abonnement").locator("dd").first).to_have_text("Volwassen Compact")
    show(page, RIGHTS)
    panel = expect_result(page, "Geldige rechten: audiobooks, ebooks.")
    expect(panel.get_by_test_id("rights").locator("tbody tr").last.locator("td")).to_have_text(
        ["ebooks", subscription["end"], "loans: 6, period: year", MAAS])


# 9. Keyboard only ----------------------------------------------------------------------------


def test_search_customer_and_show_account_by_keyboard(system, page):
    page.goto(url(system, CONSOLE))
    expect(page.get_by_label("Gebruikersnaam")).to_be_focused()
    page.keyboard.type("balie.maas")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Wachtwoord")).to_be_focused()
    page.keyboard.type(staff(system, "balie.maas")["password"])
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(heading(page)).to_have_text("Klant zoeken")
    expect(search_field(page)).to_be_focused()

    page.keyboard.type("Jansen")
    navigate(page, lambda: page.keyboard.press("Enter"))
    result = page.get_by_role("table", name="1 klant gevonden").get_by_role("link",
                                                                            name="Anna Jansen")
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
