"""The helpdesk in the staff console, in a real browser: "kan niet inloggen" resolved in two
clicks after opening the customer page (an inactive account, out-of-date rights, a wrong
username), the child's account taken from the parent only once the child agrees (rule L2),
keyboard focus on the answer, no JavaScript needed, and axe on the pages.

The running system is shared and its demo data never reset (tests/e2e/test_system.py reads
Bram de Vries as inactive), so every customer here is made fresh through the library's REST
API; out-of-date rights are pushed behind the library's back with identity's library API.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
import requests
from playwright.sync_api import Page, Response, expect

from .console_pages import sign_in as console_sign_in
from .library_api import approve_handover
from .oidc import library_api as identity_api

pytestmark = pytest.mark.browser

TIMEOUT = 30
PUSH_WAIT = 70  # seconds: the task worker drains the push queue
STAFF = "helpdesk.maas"
CANNOT_LOGIN = "Kan niet inloggen"
TYPED = "Gebruikersnaam die de klant intypt"
COMPLEET_EBOOKS = {"loans": 10, "period": "concurrent"}


# -- helpers -----------------------------------------------------------------------------------


def url(system, path: str) -> str:
    return system.urls["library"] + path


def staff(system, username: str) -> dict:
    return next(s for s in system.demo["staff"] if s["username"] == username)


class Desk:
    """The library's REST API with a staff member's token: how the customers here are made."""

    def __init__(self, system, user: str = STAFF) -> None:
        self.system = system
        self.base = url(system, "/api/v1")
        self.headers = {"Authorization": f"Bearer {staff(system, user)['api_token']}"}

    def call(self, method: str, path: str, body=None, status: int = 200) -> dict:
        answer = requests.request(
            method, self.base + path, json=body, headers=self.headers, timeout=TIMEOUT
        )
        assert answer.status_code == status, (method, path, answer.status_code, answer.text[:800])
        return answer.json()

    def member(self, *, active: bool) -> tuple[str, str]:
        """A customer with Volwassen Compleet and a login account; (card, name). Active: the
        patron also chose a password (else the helpdesk rightly says that is what's missing)."""
        mark = uuid.uuid4().hex[:8]
        name = f"E2E Helpdesk {mark}"
        card = self.call(
            "POST",
            "/customers",
            {"name": name, "birth_date": "1986-05-04", "email": f"e2e.helpdesk.{mark}@example.org"},
            status=201,
        )["card_number"]
        self.call("POST", "/subscriptions", {"card_number": card, "type": "compleet"}, status=201)
        self.call("POST", f"/customers/{card}/login-account", {}, status=201)
        if active:
            self.call("POST", f"/customers/{card}/login-account/activate")
            self.system.identity_shell(
                "from bibid.identity.accounts.models import Account\n"
                f"account = Account.objects.get(username={card!r})\n"
                "account.set_password('Een-eigen-wachtwoord-gekozen')\n"
                "account.save()\n"
            )
        return card, name


def wait_for_push(system, card: str) -> None:
    """Until the library's push (queued when the account was made) reached identity."""
    api = identity_api(system)
    deadline = time.monotonic() + PUSH_WAIT
    seen = None
    while time.monotonic() < deadline:
        seen = api.rights(card).json().get("rights", [])
        if any(r["code"] == "ebooks" and r["limits"] == COMPLEET_EBOOKS for r in seen):
            return
        time.sleep(0.5)
    pytest.fail(f"no push for {card} within {PUSH_WAIT} s: {seen}")


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def navigate(page: Page, act) -> Response:
    with page.expect_navigation() as navigation:
        act()
    response = navigation.value
    assert response is not None
    return response


def sign_in(page: Page, system, username: str = STAFF) -> None:
    console_sign_in(page, system, username)


def open_customer(page: Page, system, card: str, name: str) -> None:
    page.goto(url(system, f"/console/klanten/{card}/"))
    expect(heading(page)).to_have_text(f"{name} {card}")


class Clicks:
    """Counts what the staff member clicks (typing is not a click)."""

    def __init__(self, page: Page) -> None:
        self.page, self.count = page, 0

    def button(self, name: str, scope=None, *, status: int = 200) -> Response:
        target = (scope or self.page).get_by_role("button", name=name, exact=True)
        self.count += 1
        response = navigate(self.page, target.click)
        assert response.status == status, (name, response.status)
        return response


def helpdesk_box(page: Page):
    return page.get_by_role("region", name="Helpdesk", exact=True)


def cause(page: Page):
    return page.get_by_test_id("cause")


def result_heading(page: Page):
    return page.locator("#resultaat")


def check_chart(page: Page, system) -> None:
    """The flowchart with the path, once helpdesk.charts is there (built alongside)."""
    image = page.get_by_test_id("chart")
    built = page.request.get(url(system, "/console/helpdesk/schema/cannot-login.svg"))
    if built.status == 404 and image.count() == 0:
        return  # not there yet
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("alt", re.compile(r"^Stroomschema .+, met de gevolgde"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=10_000
    )
    link = page.get_by_role("link", name="Bekijk het hele stroomschema")
    expect(link).to_have_attribute("href", re.compile(r"^/console/helpdesk/schema/.+\?case=\d+$"))
    shown = page.request.get(url(system, image.get_attribute("src")))
    assert shown.status == 200 and shown.headers["content-type"].startswith("image/svg+xml")


def account_state(page: Page, system, card: str) -> str:
    """The account's state as the Inlogaccount menu shows it (not counted: it only checks)."""
    page.goto(url(system, f"/console/klanten/{card}/"))
    menu = page.get_by_role("navigation", name="Inlogaccount-menu")
    navigate(page, menu.get_by_role("button", name="Toon inlogaccount gegevens").click)
    data = page.get_by_test_id("account-data")
    return data.locator("dt:has-text('Status') + dd").inner_text()


@pytest.fixture(scope="module")
def desk(system) -> Desk:
    return Desk(system)


# -- "kan niet inloggen" in two clicks ----------------------------------------------------------


def test_inactive_account_activated_in_two_clicks(system, page, desk):
    card, name = desk.member(active=False)
    sign_in(page, system)
    open_customer(page, system, card, name)
    clicks = Clicks(page)

    clicks.button(CANNOT_LOGIN, helpdesk_box(page))
    expect(heading(page)).to_have_text(f"Helpdesk: {CANNOT_LOGIN}")
    expect(result_heading(page)).to_be_focused()  # the answer is where the keyboard is
    expect(cause(page)).to_have_text(
        f"Het inlogaccount {card} is nog niet geactiveerd; zonder activering wordt het na "
        "24 uur verwijderd."
    )
    expect(page.get_by_test_id("evidence")).to_contain_text("Aangemaakt op")
    check_chart(page, system)
    fix = page.get_by_test_id("fix")
    expect(fix.get_by_role("button")).to_have_text(["Activeer inlogaccount"])

    clicks.button("Activeer inlogaccount", fix)
    assert clicks.count == 2
    expect(result_heading(page)).to_be_focused()
    expect(result_heading(page)).to_have_text("Gedaan: Activeer inlogaccount")
    expect(page.get_by_test_id("done-summary")).to_contain_text("Het inlogaccount is geactiveerd")
    rechecked = page.get_by_test_id("diagnosis")
    expect(rechecked.get_by_role("heading", level=2)).to_contain_text("Opnieuw gecontroleerd:")
    expect(cause(page)).not_to_contain_text("nog niet geactiveerd")
    assert rechecked.get_attribute("data-outcome") in ("no-problem-found", "fix-available")

    assert account_state(page, system, card).startswith("actief")


def test_outdated_rights_authorized_in_two_clicks_without_javascript(system, browser, desk):
    card, name = desk.member(active=True)
    wait_for_push(system, card)
    # Identity now gets other rights than the subscription gives (as if a push were lost).
    stale = identity_api(system).authorize(card, {"customer": {"name": name}, "rights": []})
    assert stale.status_code == 200, stale.text
    context = browser.new_context(locale="nl-NL", java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, system)
        open_customer(page, system, card, name)
        clicks = Clicks(page)

        clicks.button(CANNOT_LOGIN, helpdesk_box(page))
        expect(cause(page)).to_have_text(
            "De inlogdienst heeft verouderde klantgegevens en rechten."
        )
        expect(page.get_by_test_id("evidence").locator("li")).to_have_text(
            [
                re.compile(r"^Doorgegeven op .+: rechten geen\.$"),
                "Volgens het abonnement nu: rechten e-books en luisterboeken.",
            ]
        )
        clicks.button("Autoriseer inlogaccount", page.get_by_test_id("fix"))
        assert clicks.count == 2
        expect(page.get_by_test_id("done-summary")).to_have_text(
            "Klantgegevens en rechten zijn bijgewerkt bij de inlogdienst (rechten: e-books en "
            "luisterboeken)."
        )
        expect(page.get_by_test_id("diagnosis")).to_have_attribute(
            "data-outcome", "no-problem-found"
        )
        expect(cause(page)).to_have_text("In de gegevens is geen oorzaak te zien.")
    finally:
        context.close()
    rights = identity_api(system).rights(card).json()["rights"]
    assert {r["code"] for r in rights} == {"ebooks", "audiobooks"}


def test_wrong_username_named_at_the_first_click(system, page, desk):
    card, name = desk.member(active=True)
    wait_for_push(system, card)
    sign_in(page, system)
    open_customer(page, system, card, name)
    clicks = Clicks(page)

    box = helpdesk_box(page)
    box.get_by_label(TYPED).fill(f"niet.{card}")  # what the customer types (not a click)
    clicks.button(CANNOT_LOGIN, box)
    # Rule L5: the library does not learn whether the name exists, only that it is not the
    # customer's account (and which one is).
    expect(cause(page)).to_have_text(
        f"De klant typt niet.{card}; dat is niet het inlogaccount dat aan deze klant "
        f"gekoppeld is ({card})."
    )
    expect(page.get_by_test_id("question")).to_contain_text(
        f"Vertel de klant de gebruikersnaam {card}"
    )
    expect(
        page.get_by_role("region", name="Opnieuw, of een ander probleem").get_by_label(TYPED)
    ).to_have_value(f"niet.{card}")

    # The customer tries again with the right name: the path's next question, answered.
    question = page.get_by_role("group", name="Volgende vraag: Kan de klant nu inloggen?")
    clicks.button("Ja", question)
    assert clicks.count == 2
    expect(page.get_by_test_id("path").locator("li").last).to_have_text("Opgelost — opgelost")
    expect(page.get_by_test_id("next-question")).to_have_count(0)


def test_a_childs_account_moves_from_the_parent_only_when_the_child_agrees(system, page, desk):
    """The seed's partner/child mix-up: the child's own account is linked to the parent.
    The fix (after the tick that staff checked who is who) opens a link request and moves
    nothing; the child signs in on identity's handover page; only the confirmation takes the
    account from the parent and links it to the child (rules L2 and the seed's mix-up)."""
    mark = uuid.uuid4().hex[:8]
    parent = desk.call(
        "POST",
        "/customers",
        {
            "name": f"E2E Ouder {mark}",
            "birth_date": "1980-02-02",
            "email": f"e2e.ouder.{mark}@example.org",
        },
        status=201,
    )["card_number"]
    child_name = f"E2E Kind {mark}"
    child = desk.call(
        "POST", "/customers", {"name": child_name, "birth_date": "2015-06-01"}, status=201
    )["card_number"]
    desk.call(
        "POST",
        "/subscriptions",
        {
            "card_number": parent,
            "type": "gezin",
            "members": [{"card_number": child, "role": "child"}],
        },
        status=201,
    )
    kid, password = f"e2e.kind.{mark}", f"Het-kind-kiest-een-zin-{mark}"
    system.create_patron(kid, password)
    identity = identity_api(system)
    assert identity.link_with_patron(parent, kid, password).status_code == 201

    def linked_to(card: str) -> str | None:
        shown = identity.show(card)
        return shown.json()["username"] if shown.status_code == 200 else None

    sign_in(page, system)
    open_customer(page, system, child, child_name)
    clicks = Clicks(page)
    box = helpdesk_box(page)
    box.get_by_label(TYPED).fill(kid)
    clicks.button(CANNOT_LOGIN, box)
    expect(cause(page)).to_contain_text(
        f"Het inlogaccount {kid} hoort bij deze klant, maar is gekoppeld aan E2E Ouder {mark}"
    )
    fix = page.get_by_test_id("fix")
    fix.get_by_label(
        "Ik heb met de klant gecontroleerd dat dit het juiste inlogaccount en de juiste klant is."
    ).check()
    clicks.button(f"Koppel {kid} aan deze klant", fix)
    expect(result_heading(page)).to_have_text("Gedaan: Koppel inlogaccount")
    step = page.get_by_test_id("link-step")
    expect(step).to_contain_text("Vraag de klant om de code uit de e-mail")
    assert (linked_to(parent), linked_to(child)) == (kid, None)  # nothing moved yet

    # Before the child agrees, "confirmed" changes nothing: the step stays open.
    clicks.button("De klant heeft bevestigd", step, status=400)
    expect(page.get_by_test_id("link-error")).to_contain_text("nog niet bevestigd")
    assert (linked_to(parent), linked_to(child)) == (kid, None)

    handover = page.get_by_test_id("link-step").get_by_test_id("handover")
    url_ = handover.get_attribute("href")
    assert url_.startswith(system.urls["identity"] + "/koppelen/"), url_
    approve_handover(url_, kid, password)  # the child, on the desk's screen
    clicks.button("De klant heeft bevestigd", page.get_by_test_id("link-step"))
    expect(result_heading(page)).to_have_text("Gedaan: Koppel")
    expect(page.get_by_test_id("done-summary")).to_contain_text(
        f"Inlogaccount {kid} is gekoppeld aan deze klant"
    )
    expect(page.get_by_test_id("link-step")).to_have_count(0)
    expect(cause(page)).not_to_contain_text("hoort bij deze klant")
    assert (linked_to(parent), linked_to(child)) == (None, kid)


def test_the_whole_diagnosis_by_keyboard(system, page, desk):
    card, name = desk.member(active=False)
    sign_in(page, system)
    open_customer(page, system, card, name)
    field = helpdesk_box(page).get_by_label(TYPED)
    field.focus()
    page.keyboard.press("Tab")  # from the field to the first problem
    expect(helpdesk_box(page).get_by_role("button", name=CANNOT_LOGIN)).to_be_focused()
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(result_heading(page)).to_be_focused()
    fix = page.get_by_test_id("fix").get_by_role("button", name="Activeer inlogaccount")
    for _ in range(20):
        page.keyboard.press("Tab")
        if fix.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the fix")
    navigate(page, lambda: page.keyboard.press("Enter"))
    expect(result_heading(page)).to_have_text("Gedaan: Activeer inlogaccount")


def test_a_colleague_is_not_diagnosed(system, page):
    sign_in(page, system, "balie.maas")
    page.goto(url(system, "/console/klanten/2010000014/"))
    expect(page.get_by_role("region", name="Helpdesk", exact=True)).to_have_count(0)


# -- accessibility -------------------------------------------------------------------------------


def test_helpdesk_pages_have_no_axe_violations(system, browser, desk):
    from axe_playwright_python.sync_playwright import Axe

    card, name = desk.member(active=False)
    # axe is injected as a script; the pages' CSP would rightly refuse that.
    context = browser.new_context(locale="nl-NL", bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    problems = {}

    def check(what: str) -> None:
        result = axe.run(page)
        if result.violations_count:
            problems[what] = result.generate_report()

    try:
        sign_in(page, system)
        open_customer(page, system, card, name)
        check("customer page with the Helpdesk box")
        navigate(page, helpdesk_box(page).get_by_role("button", name=CANNOT_LOGIN).click)
        check("diagnosis")
        navigate(page, page.get_by_test_id("fix").get_by_role("button").click)
        check("after the fix")
        page.goto(url(system, f"/console/klanten/{card}/"))
        helpdesk_box(page).get_by_label(TYPED).fill("bestaat.niet")
        navigate(page, helpdesk_box(page).get_by_role("button", name=CANNOT_LOGIN).click)
        check("wrong username, next question")
    finally:
        context.close()
    assert not problems, "\n\n".join(f"{p}:\n{r}" for p, r in problems.items())
