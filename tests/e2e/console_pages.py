"""The staff console in a real browser, as the e2e modules drive it: its words, helpers that
act as a staff member (and as the patron on identity's handover page), a look at identity
through the library API, and the page fixtures."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from urllib.parse import urlparse

import pyotp
import pytest
import requests
from playwright.sync_api import Locator, Page, Response, expect

# A real browser string: the console names it in words ("Firefox op Windows").
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"

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
ACCOUNT_TERMS = [
    "Gebruikersnaam",
    "Status",
    "Herstel-e-mailadres",
    "Aangemaakt",
    "Laatst ingelogd",
    "Gekoppeld bij",
    "Blokkade",
]
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


SECOND_STEP = "/console/tweede-stap/"
CODE_LABEL = "Code uit je app, of een herstelcode"
_USED_STEPS: dict[tuple[str, str], int] = {}


def totp_code(system, username: str) -> str:
    """A code the second step accepts now, computed from the demo's published secret as an
    authenticator app would. Each code's time step is accepted once (replays are refused),
    and the step before and after the current one are accepted too: take the earliest step
    not used yet in this run, so several sign-ins of one staff member need no wait."""
    people = system.demo["staff"] + system.demo.get("library_operators", [])
    secret = next(s["totp_secret"] for s in people if s["username"] == username)
    totp = pyotp.TOTP(secret)
    key = (system.urls["library"], username)
    while True:
        offset = 0.0
        clock_file = getattr(system, "clock_file", None)
        if clock_file is not None and clock_file.exists():
            offset = float(clock_file.read_text() or 0)  # the services' moved clock
        now = time.time() + offset
        current = totp.timecode(datetime.fromtimestamp(now))
        for delta in (-1, 0, 1):
            if current + delta > _USED_STEPS.get(key, 0):
                _USED_STEPS[key] = current + delta
                return totp.at(int(now), counter_offset=delta)
        time.sleep(1)


def second_step(page: Page, system, username: str) -> None:
    """The console's second step after the password: a code from the demo's app."""
    expect(heading(page)).to_have_text("Tweede stap")
    page.get_by_label(CODE_LABEL).fill(totp_code(system, username))
    page.get_by_role("button", name="Bevestig", exact=True).click()


def http_second_step(http: requests.Session, system, username: str) -> requests.Response:
    """The second step with a plain HTTP client (after the password was posted)."""
    page_url = url(system, SECOND_STEP)
    page = http.get(page_url, timeout=TIMEOUT)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    return http.post(
        page_url,
        data={"csrfmiddlewaretoken": token.group(1), "code": totp_code(system, username)},
        headers={"Referer": page_url},
        timeout=TIMEOUT,
        allow_redirects=False,
    )


# The signed-in staff sessions of this run, per (console, staff member): the session's cookies.
# Each second step spends one time step of the app, and a step is accepted once (three usable
# per 30 s, the one before and after included), so the fourth sign-in of one member within
# 30 s waited for the clock: up to half a minute per test, minutes per CI run. Later sign-ins
# of a member therefore reuse the session the first one made; a session that has ended (signed
# out, expired, the member's factor reset) is noticed and replaced by a new sign-in. The form
# and the second step themselves are driven by the tests about them (test_browser_console's
# sign-in tests, test_browser_mfa, the page walk), which do not use these helpers.
_STAFF_SESSIONS: dict[tuple[str, str], dict[str, str]] = {}


def _signed_in_path(path: str) -> bool:
    return path.startswith(CONSOLE) and not path.startswith((SIGN_IN, SECOND_STEP))


def sign_in(page: Page, system, username: str) -> None:
    """The console as this staff member: this run's session of theirs, else a sign-in by the
    form with the second step."""
    key = (system.urls["library"], username)
    saved = _STAFF_SESSIONS.get(key)
    if saved:
        page.context.add_cookies(
            [{"name": n, "value": v, "url": system.urls["library"]} for n, v in saved.items()]
        )
        page.goto(url(system, CONSOLE))
        if _signed_in_path(urlparse(page.url).path):
            expect(heading(page)).to_have_text("Klant zoeken")
            return
        del _STAFF_SESSIONS[key]
    page.goto(url(system, SIGN_IN))
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(staff(system, username)["password"])
    page.get_by_role("button", name="Inloggen", exact=True).click()
    second_step(page, system, username)
    expect(heading(page)).to_have_text("Klant zoeken")
    cookies = page.context.cookies(system.urls["library"])
    _STAFF_SESSIONS[key] = {c["name"]: c["value"] for c in cookies}


def staff_http(system, username: str, http: requests.Session | None = None) -> requests.Session:
    """A plain HTTP client signed in to the console as this staff member (this run's session
    of theirs when it is still valid, see _STAFF_SESSIONS)."""
    http = http or requests.Session()
    key = (system.urls["library"], username)
    saved = _STAFF_SESSIONS.get(key)
    if saved:
        for name, value in saved.items():
            http.cookies.set(name, value)
        check = http.get(url(system, CONSOLE), timeout=TIMEOUT, allow_redirects=False)
        if check.status_code == 200:
            return http
        del _STAFF_SESSIONS[key]
        http.cookies.clear()
    page = http.get(url(system, SIGN_IN), timeout=TIMEOUT)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    signed = http.post(
        url(system, SIGN_IN),
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": staff(system, username)["password"],
        },
        headers={"Referer": url(system, SIGN_IN)},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert signed.status_code == 302, signed.text[:300]
    done = http_second_step(http, system, username)
    assert done.status_code == 302, done.text[:300]
    _STAFF_SESSIONS[key] = http.cookies.get_dict()
    return http


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
    page.request.post(
        url(system, f"/console/klanten/{card}/inlogaccount/{action}/"),
        form={"csrfmiddlewaretoken": token},
        max_redirects=0,
        headers={"Referer": url(system, f"/console/klanten/{card}/")},
    )
    page.goto(url(system, f"/console/klanten/{card}/"))


def act(page: Page, item: str) -> None:
    """A Wijzigen item of the Inlogaccount menu (a button; the answer shows after a redirect)."""
    navigate(page, menu(page).get_by_role("button", name=item, exact=True).click)


def menu_form(page: Page, summary: str) -> Locator:
    """Open the Genereer or Koppel part of the menu; return it."""
    part = (
        menu(page)
        .locator("details")
        .filter(has=page.locator("summary", has_text=re.compile(f"^{summary}$")))
    )
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
    """ "Laat de klant inloggen": identity's handover page, in a new tab (the desk turns the
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
    navigate(page, link_step(page).get_by_role("button", name=PATRON_CONFIRMED, exact=True).click)


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


def register(
    page: Page,
    system,
    *,
    name: str,
    birth_date: str,
    type_name: str,
    email: str = "",
    login_account: bool = True,
    activate_now: bool = False,
    members: tuple[tuple[str, str, str], ...] = (),
) -> Response:
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
            data={
                "csrfmiddlewaretoken": token,
                "username": username,
                "password": "Niet-het-goede-wachtwoord",
            },
            headers={"X-Forwarded-For": fresh_address(), "User-Agent": FIREFOX_WINDOWS},
            allow_redirects=False,
            timeout=TIMEOUT,
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
    return requests.request(
        method,
        url(system, f"/api/v1{path}"),
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {token}"},
        **options,
    )


class Identity:
    """The identity service's library API, read as Bibliotheek aan de Maas."""

    def __init__(self, system) -> None:
        self.base = system.urls["identity"]
        client = next(c for c in system.demo["library_clients"] if c["library"] == "aan-de-maas")
        answer = requests.post(
            f"{self.base}/o/token/",
            data={"grant_type": "client_credentials", "scope": "accounts:read"},
            auth=(client["client_id"], client["client_secret"]),
            timeout=TIMEOUT,
        )
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
