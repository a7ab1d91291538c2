"""One login everywhere, in a real browser: Mijn Menu and the Online Bibliotheek sign in
through the identity service (OpenID Connect), borrow within the rights the library pushed,
and sign out everywhere at once; an identity session that ends under a service shows the
AUTHENTICATION.LOGOUT_DETECTED page and lands in the login history the library sees.

Fresh patrons (`new_patron`) are linked at identity only: right for exact limits in the
Online Bibliotheek; Mijn Menu shows them its "not linked" page. anna.jansen is the demo
patron linked at Bibliotheek aan de Maas (card 2010000001); her password is never changed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from . import harness
from .oidc import library_api, new_patron

pytestmark = pytest.mark.browser

ANNA = "anna.jansen"
ANNA_CARD = "2010000001"  # her customer at aan-de-maas (src/bibid/common/demo.py)
LIBRARY = "aan-de-maas"
MIJN_MENU_NAME = "Mijn Menu Bibliotheek aan de Maas"
READING_NAME = "Online Bibliotheek"
LOGOUT_DETECTED = "AUTHENTICATION.LOGOUT_DETECTED"
EBOOKS_ONE = {"code": "ebooks", "limits": {"loans": 1, "period": "concurrent"}}
EBOOKS_THREE = {"code": "ebooks", "limits": {"loans": 3, "period": "concurrent"}}
EBOOKS_YOUTH = {"code": "ebooks", "limits": {"loans": 3, "period": "concurrent", "youth": True}}
POLL_SECONDS = 20

# The services' CSP allows form posts to end on a sibling service (sign-in and sign-out are
# redirect chains across origins, and Chromium holds every hop to form-action); the two
# tests at the end check that with the CSP in force. True only to debug other failures.
BYPASS_CSP_FOR_BUG = False


# -- addresses and small helpers ---------------------------------------------------------------


def identity(system, path: str = "/") -> str:
    return system.urls["identity"] + path


def mijn_menu(system, path: str = "") -> str:
    return f"{system.urls['library']}/mijn/{LIBRARY}/{path}"


def reading(system, path: str = "/") -> str:
    return system.urls["reading"] + path


def demo_password(system, username: str) -> str:
    return next(p["password"] for p in system.demo["patrons"] if p["username"] == username)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def header(page: Page):
    return page.get_by_role("navigation", name="Hoofdmenu")


def new_context(browser: Browser, contexts: list[BrowserContext], **options) -> Page:
    context = browser.new_context(locale="nl-NL", **options)
    contexts.append(context)
    return context.new_page()


@pytest.fixture
def open_page(browser):
    """Pages in browser contexts of their own: another device, JavaScript off, ..."""
    contexts: list[BrowserContext] = []

    def make(**options) -> Page:
        options.setdefault("bypass_csp", BYPASS_CSP_FOR_BUG)
        return new_context(browser, contexts, **options)

    yield make
    for context in contexts:
        context.close()


def chromium_agent(browser: Browser) -> str:
    """Chromium's own user agent, with a mark of this test so its events can be told apart."""
    context = browser.new_context()
    try:
        agent = context.new_page().evaluate("navigator.userAgent")
    finally:
        context.close()
    assert "Chrome/" in agent
    return f"{agent} bibid-e2e/{uuid.uuid4().hex[:12]}"


def eventually(check: Callable[[], Any], what: str, timeout: float = POLL_SECONDS) -> Any:
    """Poll until check() returns something truthy (workers deliver asynchronously)."""
    return harness.eventually(check, what, timeout)


def sign_in_form(page: Page, system, username: str, password: str) -> None:
    """On identity's sign-in page (sent there by a service): fill it in and go on."""
    expect(page).to_have_url(re.compile("^" + re.escape(identity(system, "/inloggen/"))))
    expect(heading(page)).to_have_text("Inloggen")
    page.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    with page.expect_navigation(timeout=30_000):
        page.get_by_role("button", name="Inloggen", exact=True).click()
    page.wait_for_load_state()


def sign_in_at_reading(
    page: Page, system, username: str, password: str, slug: str = "max-havelaar"
) -> None:
    """The way a patron does it: a title page, "Inloggen om te lenen", the form, back."""
    page.goto(reading(system, f"/titel/{slug}/"))
    page.get_by_role("link", name="Inloggen om te lenen").click()
    sign_in_form(page, system, username, password)
    expect(page).to_have_url(reading(system, f"/titel/{slug}/"))
    expect(header(page).locator(".who")).to_have_text(username)


def sign_in_at_mijn_menu(page: Page, system, username: str, password: str) -> None:
    page.goto(mijn_menu(system))
    sign_in_form(page, system, username, password)
    expect(page).to_have_url(mijn_menu(system))


def borrow_button(page: Page):
    return page.get_by_role("button", name=re.compile(r"^Lenen\b"))


def borrow(page: Page, system, slug: str, title: str) -> None:
    """Borrow a title from its page; succeeds (the message, the loan on the page)."""
    page.goto(reading(system, f"/titel/{slug}/"))
    give_back = page.get_by_role("button", name=re.compile(r"^Inleveren\b"))
    if give_back.count():  # a loan of an earlier test of this shared system: start afresh
        give_back.click()
        expect(borrow_button(page)).to_be_visible()
    with page.expect_navigation() as navigation:
        borrow_button(page).click()
    assert navigation.value is not None and navigation.value.status == 200
    expect(page).to_have_url(reading(system, f"/titel/{slug}/"))
    expect(page.get_by_role("status")).to_contain_text(f"Je hebt “{title}” geleend tot ")
    expect(page.get_by_text("Je hebt deze titel geleend tot")).to_be_visible()


def refused(page: Page, system, slug: str, status: int) -> None:
    """Press "Lenen" on the title's page and be refused with this HTTP status."""
    page.goto(reading(system, f"/titel/{slug}/"))
    with page.expect_navigation() as navigation:
        borrow_button(page).click()
    assert navigation.value is not None
    assert navigation.value.status == status, navigation.value.url


def identity_sign_in_requests(page: Page, system) -> tuple[list[str], list[str]]:
    """Every main-frame navigation from now on that reached identity's sign-in page
    (redirect hops included); and all navigations, to show the way the browser went."""
    seen: list[str] = []
    form: list[str] = []

    def on_request(request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            seen.append(request.url)
            if request.url.startswith(identity(system, "/inloggen/")):
                form.append(request.url)

    page.on("request", on_request)
    return form, seen


def history_event(system, ref: str, kind: str, library: str = LIBRARY, **expected) -> dict | None:
    """The newest event of this kind in the library's view of the login history that has
    these fields (a value may be a callable test)."""
    answer = library_api(system, library).history(ref, params={"limit": 200})
    assert answer.status_code == 200, answer.text
    for event in answer.json()["events"]:
        if event["kind"] != kind:
            continue
        if all(v(event.get(k)) if callable(v) else event.get(k) == v for k, v in expected.items()):
            return event
    return None


def expect_logout_detected(page: Page, system, *, service_home: str, service_name: str) -> None:
    expect(heading(page)).to_have_text("Je bent uitgelogd")
    main = page.get_by_role("main")
    expect(main).to_contain_text(
        f"Je sessie bij de inlogdienst is beëindigd, en daarom ben je ook bij {service_name} "
        "uitgelogd."
    )
    expect(main.get_by_role("listitem")).to_have_text(
        [
            "een adblocker: zet die uit voor deze website;",
            "een VPN: zet die even uit;",
            "een browser die niet wordt ondersteund: gebruik Edge, Chrome, Safari of Firefox.",
        ]
    )
    expect(main.locator("code")).to_have_text(LOGOUT_DETECTED)
    expect(main.get_by_role("link", name="Opnieuw inloggen")).to_have_attribute(
        "href", f"{service_home}inloggen/"
    )


def reload_until_logout_detected(page: Page, system, url: str, detected_url: str) -> None:
    """Open `url` again until the service notices the ended identity session (the
    back-channel logout is delivered by identity's worker). Until then the page still
    shows the patron; once noticed, the very next visit is the LOGOUT_DETECTED page."""

    def check() -> bool:
        page.goto(url)
        assert not page.url.startswith(identity(system, "/inloggen/")), (
            "sent to the sign-in form: the end of the session went unnoticed"
        )
        return page.url == detected_url

    eventually(check, f"{url} shows the LOGOUT_DETECTED page")


# 1 -------------------------------------------------------------------------------------------


def test_one_login_everywhere(system, open_page):
    """The issue's "Done when": one sign-in for Mijn Menu and the Online Bibliotheek,
    borrowing within the rights, and one sign-out for all."""
    page = open_page()
    page.goto(mijn_menu(system))
    sign_in_form(page, system, ANNA, demo_password(system, ANNA))

    expect(page).to_have_url(mijn_menu(system))
    expect(heading(page)).to_have_text("Mijn Menu")
    expect(header(page).locator(".who")).to_have_text(ANNA)
    data = page.get_by_test_id("customer-data")
    expect(data).to_contain_text("Anna Jansen")
    expect(data).to_contain_text(ANNA_CARD)
    subscription = page.get_by_test_id("subscription")
    expect(subscription).to_contain_text("Volwassen Compleet")
    expect(page.get_by_test_id("subscription-state")).to_have_text("Lopend")
    rights = page.get_by_test_id("rights")
    expect(rights.get_by_role("listitem")).to_have_text(
        [re.compile(r"^E-books: 10 tegelijk\b"), re.compile(r"^Luisterboeken: 10 tegelijk\b")]
    )
    expect(page.get_by_test_id("rights-missing")).to_have_count(0)

    # To the Online Bibliotheek by Mijn Menu's own link: no password asked again.
    sign_in_pages, navigations = identity_sign_in_requests(page, system)
    rights.get_by_role("link", name="Naar de Online Bibliotheek").click()
    expect(page).to_have_url(reading(system, "/"))
    expect(heading(page)).to_have_text("Online Bibliotheek")
    expect(header(page).locator(".who")).to_have_text(ANNA)  # signed in on arrival
    expect(header(page).get_by_role("link", name="Mijn leenplank")).to_be_visible()
    assert sign_in_pages == [], navigations
    assert any(u.startswith(identity(system, "/o/authorize/")) for u in navigations), navigations

    # Borrowing within her limits (Compleet: 10 e-books at the same time).
    borrow(page, system, "max-havelaar", "Max Havelaar")
    header(page).get_by_role("link", name="Mijn leenplank").click()
    expect(heading(page)).to_have_text("Mijn leenplank")
    current = page.get_by_role("region", name="Nu geleend")
    expect(current.get_by_role("heading", name="Max Havelaar", exact=True)).to_be_visible()
    assert sign_in_pages == [], navigations

    # Beyond the limit: a patron whose library allows one e-book at a time.
    limited, password, _ref = new_patron(system, rights=[EBOOKS_ONE])
    other = open_page()
    sign_in_at_reading(other, system, limited, password, slug="eline-vere")
    borrow(other, system, "eline-vere", "Eline Vere")
    refused(other, system, "de-stille-kracht", 409)
    alert = other.get_by_role("alert")
    expect(alert).to_have_attribute("data-code", "limit_reached")
    expect(alert).to_contain_text(
        "Je hebt al 1 e-books tegelijk geleend; meer staat je abonnement niet toe "
        "(1 tegelijk). Er komt een plek vrij als je er een inlevert, en uiterlijk op "
    )
    expect(borrow_button(other)).to_be_visible()  # nothing borrowed
    other.goto(reading(system, "/leenplank/"))
    expect(
        other.get_by_role("region", name="Nu geleend").get_by_role("heading", level=3)
    ).to_have_text(["Eline Vere"])

    # Without the right at all: the 403 page names the right that is missing.
    username, password, _ref = new_patron(system, rights=[])
    without = open_page()
    sign_in_at_reading(without, system, username, password)
    refused(without, system, "max-havelaar", 403)
    expect(heading(without)).to_have_text("Je kunt “Max Havelaar” nu niet lenen")
    expect(without.get_by_role("alert")).to_have_text("Je hebt geen recht om e-books te lenen.")
    expect(without.get_by_role("main")).to_contain_text(
        "Voor deze titel heb je het recht op e-books nodig."
    )
    expect(without.get_by_role("main")).to_contain_text(
        "Je inlogaccount heeft nu geen rechten om e-books of luisterboeken te lenen."
    )
    without.goto(reading(system, "/leenplank/"))
    expect(without.get_by_role("region", name="Nu geleend")).to_contain_text(
        "Je hebt nu niets geleend."
    )

    # Signing out in one place: the Online Bibliotheek's header.
    header(page).get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(re.compile("^" + re.escape(reading(system, "/uitgelogd/"))))
    expect(heading(page)).to_have_text("Je bent uitgelogd")
    expect(page.get_by_role("main")).to_contain_text(
        "Je bent uitgelogd bij Online Bibliotheek, bij de inlogdienst en bij de andere "
        "diensten van de bibliotheek in deze browser."
    )
    expect(page.get_by_role("main").get_by_role("link", name="Opnieuw inloggen")).to_have_attribute(
        "href", "/inloggen/"
    )
    page.goto(reading(system, "/titel/max-havelaar/"))
    expect(header(page).locator(".who")).to_have_count(0)
    expect(header(page).get_by_role("link", name="Mijn leenplank")).to_have_count(0)
    expect(header(page).get_by_role("link", name="Inloggen")).to_be_visible()
    expect(page.get_by_role("link", name="Inloggen om te lenen")).to_be_visible()

    # Identity's own pages ask for the password again.
    page.goto(identity(system, "/"))
    expect(page).to_have_url(identity(system, "/inloggen/?next=/"))
    expect(page.get_by_label("Wachtwoord", exact=True)).to_be_visible()

    # Mijn Menu, open in the same browser, learns it too.
    reload_until_logout_detected(
        page, system, mijn_menu(system), mijn_menu(system, "sessie-beeindigd/")
    )
    expect_logout_detected(
        page, system, service_home=f"/mijn/{LIBRARY}/", service_name=MIJN_MENU_NAME
    )
    page.goto(mijn_menu(system))  # and asks for a sign-in, with the password
    expect(page.get_by_label("Wachtwoord", exact=True)).to_be_visible()

    # The other patrons' browsers are untouched by anna's sign-out.
    other.goto(reading(system, "/leenplank/"))
    expect(header(other).locator(".who")).to_have_text(limited)
    expect(heading(other)).to_have_text("Mijn leenplank")


# 2 -------------------------------------------------------------------------------------------


def test_logout_detected_when_the_identity_session_ends_under_mijn_menu(system, browser, open_page):
    agent = chromium_agent(browser)
    page = open_page(user_agent=agent)
    sign_in_at_mijn_menu(page, system, ANNA, demo_password(system, ANNA))
    expect(heading(page)).to_have_text("Mijn Menu")

    # Signing out on identity's own page, in the same browser.
    page.goto(identity(system, "/uitloggen/"))
    expect(page.get_by_text(f"Je bent ingelogd als {ANNA}.")).to_be_visible()
    page.get_by_role("main").get_by_role("button", name="Uitloggen").click()
    expect(heading(page)).to_have_text("Je bent uitgelogd")

    reload_until_logout_detected(
        page, system, mijn_menu(system), mijn_menu(system, "sessie-beeindigd/")
    )
    expect_logout_detected(
        page, system, service_home=f"/mijn/{LIBRARY}/", service_name=MIJN_MENU_NAME
    )

    # The helpdesk sees it in the login history (reported by the library service's worker).
    event = eventually(
        lambda: history_event(system, ANNA_CARD, "logout_detected", browser=agent),
        "a logout_detected event in anna's login history",
    )
    assert event["service"] == MIJN_MENU_NAME, event
    assert event["browser"] == agent and "Chrome/" in event["browser"], event
    assert event["outcome"] == "failure" and event["reason"] == "reported", event
    assert event["address"] == "127.0.0.0/24", event
    assert event["details"]["reason"] in ("backchannel", "session_check"), event

    # "Opnieuw inloggen" starts a real sign-in (the password is asked, the session is gone).
    page.get_by_role("link", name="Opnieuw inloggen").click()
    sign_in_form(page, system, ANNA, demo_password(system, ANNA))
    expect(page).to_have_url(mijn_menu(system))
    expect(heading(page)).to_have_text("Mijn Menu")


def test_logout_detected_after_a_new_password_on_another_device(system, browser, open_page):
    """A new password at identity (device B) ends the identity sessions of every other
    device: device A's Online Bibliotheek shows LOGOUT_DETECTED on its next page."""
    username, password, ref = new_patron(system, rights=[EBOOKS_THREE])
    agent = chromium_agent(browser)
    device_a = open_page(user_agent=agent)
    sign_in_at_reading(device_a, system, username, password)
    device_a.goto(reading(system, "/leenplank/"))
    expect(heading(device_a)).to_have_text("Mijn leenplank")

    device_b = open_page()
    device_b.goto(identity(system, "/inloggen/"))
    sign_in_form(device_b, system, username, password)
    expect(heading(device_b)).to_have_text("Mijn inlogaccount")
    device_b.get_by_role("link", name="Wachtwoord wijzigen").click()
    new_password = f"Een-nieuw-wachtwoord-{uuid.uuid4().hex[:8]}"
    device_b.get_by_label("Huidig wachtwoord").fill(password)
    device_b.get_by_label("Nieuw wachtwoord", exact=True).fill(new_password)
    device_b.get_by_label("Herhaal het nieuwe wachtwoord").fill(new_password)
    device_b.get_by_role("button", name="Wijzig mijn wachtwoord").click()
    expect(device_b.get_by_role("status")).to_contain_text("Je wachtwoord is gewijzigd")

    reload_until_logout_detected(
        device_a, system, reading(system, "/leenplank/"), reading(system, "/sessie-beeindigd/")
    )
    expect_logout_detected(device_a, system, service_home="/", service_name=READING_NAME)
    expect(header(device_a).locator(".who")).to_have_count(0)

    event = eventually(
        lambda: history_event(system, ref, "logout_detected", browser=agent),
        "a logout_detected event from the Online Bibliotheek",
    )
    assert event["service"] == READING_NAME, event

    # Device B, where the password was changed, stays signed in at identity.
    device_b.goto(identity(system, "/"))
    expect(heading(device_b)).to_have_text("Mijn inlogaccount")


# 3 -------------------------------------------------------------------------------------------


def test_rights_change_counts_without_signing_in_again(system, open_page):
    username, password, ref = new_patron(system, rights=[])
    page = open_page()
    sign_in_at_reading(page, system, username, password)
    refused(page, system, "max-havelaar", 403)
    expect(page.get_by_role("alert")).to_have_attribute("data-code", "no_right")

    # The library authorizes the patron; the open refusal page checks again.
    answer = library_api(system).authorize(
        ref, {"customer": {"name": "Test Lezer"}, "rights": [EBOOKS_THREE]}
    )
    assert answer.status_code == 200, answer.text
    sign_in_pages, navigations = identity_sign_in_requests(page, system)
    with page.expect_navigation(url=reading(system, "/titel/max-havelaar/")):
        page.get_by_role("button", name=re.compile("^Opnieuw controleren")).click()
    expect(page.get_by_role("status")).to_contain_text("Je hebt “Max Havelaar” geleend tot ")
    expect(header(page).locator(".who")).to_have_text(username)
    assert sign_in_pages == [], navigations
    assert not any(u.startswith(identity(system)) for u in navigations), navigations

    page.goto(reading(system, "/leenplank/"))
    expect(page.get_by_role("region", name="Wat je mag lenen")).to_contain_text(
        "E-books: 1 van 3 tegelijk"
    )


# 4 -------------------------------------------------------------------------------------------


def test_youth_right_only_youth_titles(system, open_page):
    username, password, _ref = new_patron(system, rights=[EBOOKS_YOUTH])
    page = open_page()
    sign_in_at_reading(page, system, username, password, slug="peter-pan")
    borrow(page, system, "peter-pan", "Peter Pan")

    refused(page, system, "max-havelaar", 403)
    expect(heading(page)).to_have_text("Je kunt “Max Havelaar” nu niet lenen")
    alert = page.get_by_role("alert")
    expect(alert).to_have_attribute("data-code", "youth_only")
    expect(alert).to_have_text(
        "Met je abonnement kun je alleen jeugdtitels lenen, en dit is geen jeugdtitel."
    )
    main = page.get_by_role("main")
    expect(main).to_contain_text("E-books (alleen jeugdtitels)")
    expect(main).to_contain_text("Met een jeugdabonnement leen je jeugdtitels.")
    expect(main.get_by_role("link", name="Bekijk de jeugdtitels")).to_have_attribute(
        "href", "/catalogus/?voor=jeugd"
    )

    page.goto(reading(system, "/leenplank/"))
    expect(
        page.get_by_role("region", name="Nu geleend").get_by_role("heading", level=3)
    ).to_have_text(["Peter Pan"])


# 5 -------------------------------------------------------------------------------------------


def test_no_rights_event_reaches_the_helpdesk(system, open_page):
    username, password, ref = new_patron(system, rights=[])
    page = open_page()
    sign_in_at_reading(page, system, username, password, slug="eline-vere-luisterboek")
    refused(page, system, "eline-vere-luisterboek", 403)
    expect(page.get_by_role("alert")).to_have_text("Je hebt geen recht om luisterboeken te lenen.")

    event = eventually(
        lambda: history_event(system, ref, "rights_missing"),
        "a rights_missing event in the patron's login history",
    )
    assert event["service"] == READING_NAME, event
    assert event["details"]["needed"] == "audiobooks", event
    assert event["details"]["title"] == "eline-vere-luisterboek", event
    assert event["details"]["reason"] == "no_right", event
    assert event["details"]["had"] == [], event
    assert event["outcome"] == "failure" and event["reason"] == "reported", event


# 6 -------------------------------------------------------------------------------------------


def test_pages_have_no_axe_violations(system, open_page):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: dict[str, str] = {}

    def check(page: Page, name: str) -> None:
        result = axe.run(page)
        if result.violations_count:
            problems[name] = result.generate_report()

    # axe is injected as a script; the pages' CSP would rightly refuse that.
    page = open_page(bypass_csp=True)
    sign_in_at_mijn_menu(page, system, ANNA, demo_password(system, ANNA))
    expect(heading(page)).to_have_text("Mijn Menu")
    check(page, "Mijn Menu")
    page.goto(mijn_menu(system, "sessie-beeindigd/"))
    expect(page.locator("code")).to_have_text(LOGOUT_DETECTED)
    check(page, "LOGOUT_DETECTED (Mijn Menu)")
    page.goto(reading(system, "/catalogus/"))
    header(page).get_by_role("link", name="Inloggen").click()  # no password: one session
    expect(header(page).locator(".who")).to_have_text(ANNA)
    check(page, "reading: catalogue")
    page.goto(reading(system, "/catalogus/?q=havelaar"))
    check(page, "reading: catalogue search")
    page.goto(reading(system, "/titel/max-havelaar/"))
    check(page, "reading: title page")
    page.goto(reading(system, "/leenplank/"))
    expect(heading(page)).to_have_text("Mijn leenplank")
    check(page, "reading: Mijn leenplank")
    page.goto(reading(system, "/sessie-beeindigd/"))
    check(page, "LOGOUT_DETECTED (reading)")
    page.goto(reading(system, "/uitgelogd/"))
    check(page, "reading: logged out")
    page.goto(mijn_menu(system, "uitgelogd/"))
    check(page, "Mijn Menu: logged out")

    username, password, _ref = new_patron(system, rights=[])
    fresh = open_page(bypass_csp=True)
    sign_in_at_mijn_menu(fresh, system, username, password)
    expect(fresh.get_by_test_id("not-linked")).to_be_visible()
    check(fresh, "Mijn Menu: not linked")
    fresh.goto(reading(system, "/titel/max-havelaar/"))
    header(fresh).get_by_role("link", name="Inloggen").click()
    expect(header(fresh).locator(".who")).to_have_text(username)
    refused(fresh, system, "max-havelaar", 403)
    check(fresh, "reading: 403 no rights")

    assert not problems, "\n\n".join(f"{p}:\n{r}" for p, r in problems.items())


# 7 -------------------------------------------------------------------------------------------


def test_sign_in_works_without_javascript(system, open_page):
    page = open_page(java_script_enabled=False)
    sign_in_at_mijn_menu(page, system, ANNA, demo_password(system, ANNA))
    expect(heading(page)).to_have_text("Mijn Menu")
    expect(page.get_by_test_id("customer-data")).to_contain_text(ANNA_CARD)

    page.get_by_test_id("rights").get_by_role("link", name="Naar de Online Bibliotheek").click()
    expect(page).to_have_url(reading(system, "/"))
    expect(header(page).locator(".who")).to_have_text(ANNA)
    borrow(page, system, "woutertje-pieterse", "Woutertje Pieterse")

    header(page).get_by_role("button", name="Uitloggen").click()
    expect(heading(page)).to_have_text("Je bent uitgelogd")


# 8 -------------------------------------------------------------------------------------------


def csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def test_sign_in_through_a_service_with_the_csp_in_force(system, open_page):
    page = open_page(bypass_csp=False)
    violations = csp_violations(page)
    page.goto(mijn_menu(system))
    expect(heading(page)).to_have_text("Inloggen")
    page.get_by_label("Gebruikersnaam of pasnummer").fill(ANNA)
    page.get_by_label("Wachtwoord", exact=True).fill(demo_password(system, ANNA))
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page).to_have_url(mijn_menu(system))
    expect(heading(page)).to_have_text("Mijn Menu")
    assert violations == []


def test_sign_out_at_a_service_with_the_csp_in_force(system, open_page):
    username, password, _ref = new_patron(system, rights=[EBOOKS_THREE])
    signed_in = open_page(bypass_csp=True)
    sign_in_at_reading(signed_in, system, username, password)
    # The same browser (its cookies), now with the CSP in force.
    page = open_page(bypass_csp=False, storage_state=signed_in.context.storage_state())
    violations = csp_violations(page)
    page.goto(reading(system, "/leenplank/"))
    expect(header(page).locator(".who")).to_have_text(username)
    header(page).get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(re.compile("^" + re.escape(reading(system, "/uitgelogd/"))))
    assert violations == []
