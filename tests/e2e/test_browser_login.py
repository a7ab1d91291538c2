"""Signing in and out in a real browser: what a patron sees on the identity service's pages.

One running system is shared by every test (the session fixture `system`). Tests that make
failed attempts use fresh usernames, so the guessing limits of one test never reach another.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, Response, expect

pytestmark = pytest.mark.browser

LOGIN = "/inloggen/"
USERNAME_LABEL = "Gebruikersnaam of pasnummer"
PASSWORD_LABEL = "Wachtwoord"
GENERIC_FAILURE = (
    "Onjuiste inlog De gebruikersnaam en het wachtwoord horen niet bij elkaar, "
    "of het inlogaccount is nog niet geactiveerd."
)


def url(system, path: str) -> str:
    return system.urls["identity"] + path


def demo_password(system, username: str) -> str:
    patron = next(p for p in system.demo["patrons"] if p["username"] == username)
    assert patron["password"], f"demo patron {username} has no password"
    return patron["password"]


def fresh_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def username_field(page: Page):
    return page.get_by_label(USERNAME_LABEL)


def password_field(page: Page):
    return page.get_by_label(PASSWORD_LABEL)


def submit_login(page: Page, username: str, password: str) -> Response:
    """Fill the form on the current login page, press Enter, wait for the next page."""
    username_field(page).fill(username)
    password_field(page).fill(password)
    with page.expect_navigation() as navigation:
        password_field(page).press("Enter")
    response = navigation.value
    assert response is not None
    return response


@pytest.fixture
def new_page(browser):
    """Pages in browser contexts of their own (a user agent, JavaScript off, ...)."""
    contexts = []

    def make(**options) -> Page:
        context = browser.new_context(locale="nl-NL", **options)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# 1 -------------------------------------------------------------------------------------------


def test_patron_signs_in_sees_the_sign_in_and_signs_out(system, new_page):
    # A phone's browser string: the patron reads it in words, never the string itself.
    agent = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/131.0.0.0 Mobile Safari/537.36 e2e/{uuid.uuid4().hex[:16]}"
    )
    page = new_page(user_agent=agent)
    page.goto(url(system, LOGIN))
    expect(heading(page)).to_have_text("Inloggen")

    username_field(page).press_sequentially("anna.jansen")
    password_field(page).press_sequentially(demo_password(system, "anna.jansen"))
    password_field(page).press("Enter")

    expect(page).to_have_url(url(system, "/"))
    expect(heading(page)).to_have_text("Mijn inlogaccount")
    expect(page.get_by_test_id("username")).to_have_text("anna.jansen")
    newest = page.get_by_role("table", name="Recente inlogpogingen").locator("tbody tr").first
    # The device in words and "hier" for the network the patron is on now: never the browser
    # string or an address block.
    expect(newest.locator("td")).to_have_text(
        [
            re.compile(r"^\d{1,2} \S+ \d{4} \d{2}:\d{2}$"),
            "ingelogd",
            "Chrome op Android",
            "hier (het netwerk waar je nu bent)",
        ]
    )
    expect(page.locator("main")).not_to_contain_text("127.0.0.0/24")
    expect(page.locator("main")).not_to_contain_text("Mozilla/5.0")

    page.get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(url(system, "/uitgelogd/"))
    expect(heading(page)).to_have_text("Je bent uitgelogd")

    page.goto(url(system, "/"))
    expect(page).to_have_url(url(system, LOGIN) + "?next=/")
    expect(heading(page)).to_have_text("Inloggen")
    expect(page.get_by_test_id("username")).to_have_count(0)


# 2 -------------------------------------------------------------------------------------------


def test_username_is_case_insensitive(system, page):
    page.goto(url(system, LOGIN))
    submit_login(page, "Anna.Jansen", demo_password(system, "anna.jansen"))
    expect(page).to_have_url(url(system, "/"))
    expect(heading(page)).to_have_text("Mijn inlogaccount")
    expect(page.get_by_test_id("username")).to_have_text("anna.jansen")


# 3 -------------------------------------------------------------------------------------------


def test_failed_login_is_generic_and_keeps_only_the_username(system, page):
    name = fresh_name("e2e-fail")
    system.create_patron(name, f"Goed-wachtwoord-{uuid.uuid4().hex[:8]}")
    page.goto(url(system, LOGIN))

    response = submit_login(page, name, "Verkeerd-wachtwoord-1")
    assert response.status == 200
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(GENERIC_FAILURE)
    wrong_password_text = alert.inner_text()
    expect(username_field(page)).to_have_value(name)
    expect(password_field(page)).to_have_value("")
    for link in ("Wachtwoord vergeten?", "Gebruikersnaam vergeten?", "Hulp bij inloggen"):
        expect(page.get_by_role("link", name=link, exact=True)).to_be_visible()

    unknown = fresh_name("e2e-nobody")
    response = submit_login(page, unknown, "Verkeerd-wachtwoord-1")
    assert response.status == 200
    expect(alert).to_have_text(GENERIC_FAILURE)
    assert alert.inner_text() == wrong_password_text
    expect(username_field(page)).to_have_value(unknown)
    expect(password_field(page)).to_have_value("")

    page.get_by_role("link", name="Hulp bij inloggen", exact=True).click()
    expect(page).to_have_url(url(system, "/hulp-bij-inloggen/"))
    expect(heading(page)).to_have_text("Hulp bij inloggen")


# 4 -------------------------------------------------------------------------------------------


def test_sixth_wrong_password_in_a_row_must_wait(system, page):
    name = fresh_name("e2e-guess")
    system.create_patron(name, f"Goed-wachtwoord-{uuid.uuid4().hex[:8]}")
    page.goto(url(system, LOGIN))
    alert = page.get_by_role("alert")
    # The fifth failure starts a wait of 2 seconds; the sixth attempt comes well within it.
    for attempt in range(1, 6):
        response = submit_login(page, name, f"Verkeerd-wachtwoord-{attempt}")
        assert response.status == 200, f"attempt {attempt}"
        expect(alert).to_have_text(GENERIC_FAILURE)

    response = submit_login(page, name, "Verkeerd-wachtwoord-6")
    assert response.status == 429
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit() and int(retry_after) >= 1
    expect(alert.get_by_role("heading")).to_have_text("Even wachten")
    expect(alert).to_contain_text(
        f"Er is te vaak een verkeerd wachtwoord geprobeerd. Probeer het over {retry_after} "
    )
    expect(alert).not_to_contain_text("Onjuiste inlog")
    expect(username_field(page)).to_have_value(name)


# 5 -------------------------------------------------------------------------------------------


def test_inactive_accounts_get_the_same_generic_failure(system, page):
    without_password = fresh_name("e2e-inactive")
    system.create_patron(without_password, None, active=False)
    with_password = fresh_name("e2e-inactive-pw")
    password = f"Goed-wachtwoord-{uuid.uuid4().hex[:8]}"
    system.create_patron(with_password, password, active=False)
    page.goto(url(system, LOGIN))

    response = submit_login(page, without_password, "Wat-dan-ook-123")
    assert response.status == 200
    expect(page.get_by_role("alert")).to_have_text(GENERIC_FAILURE)
    expect(page).to_have_url(url(system, LOGIN))

    # Even the right password does not let an inactive account in, nor says why.
    response = submit_login(page, with_password, password)
    assert response.status == 200
    expect(page.get_by_role("alert")).to_have_text(GENERIC_FAILURE)
    expect(page).to_have_url(url(system, LOGIN))
    page.goto(url(system, "/"))
    expect(page).to_have_url(url(system, LOGIN) + "?next=/")


# 6 -------------------------------------------------------------------------------------------


def test_keyboard_only_skip_link_and_tab_order(system, page):
    page.goto(url(system, LOGIN))
    skip = page.get_by_role("link", name="Naar de inhoud")
    expect(skip).not_to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(url(system, LOGIN) + "#main")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(username_field(page)).to_be_focused()  # the header was skipped

    # From a fresh page, by keyboard alone: Tab to the form, type, Tab on, Enter.
    page.goto(url(system, LOGIN))
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    is_focused = "element => element === document.activeElement"
    for _ in range(10):
        page.keyboard.press("Tab")
        if username_field(page).evaluate(is_focused):
            break
        assert not password_field(page).evaluate(is_focused), "password before username"
    else:
        pytest.fail("Tab never reached the username field")
    page.keyboard.type("anna.jansen")
    page.keyboard.press("Tab")
    expect(password_field(page)).to_be_focused()
    page.keyboard.type(demo_password(system, "anna.jansen"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Inloggen", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Mijn inlogaccount")


# 7 -------------------------------------------------------------------------------------------


def test_language_switch_to_english_and_back(system, page):
    html = page.locator("html")
    page.goto(url(system, LOGIN))
    expect(html).to_have_attribute("lang", "nl")
    page.get_by_role("button", name="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(url(system, LOGIN))
    expect(heading(page)).to_have_text("Sign in")
    expect(page.get_by_label("Username or card number")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Skip to content")).to_be_attached()
    expect(page.get_by_role("button", name="English")).to_have_count(0)

    page.goto(url(system, "/hulp-bij-inloggen/"))  # the choice is remembered
    expect(html).to_have_attribute("lang", "en")
    expect(heading(page)).to_have_text("Help with signing in")
    page.get_by_role("button", name="Nederlands").click()
    expect(html).to_have_attribute("lang", "nl")
    expect(page).to_have_url(url(system, "/hulp-bij-inloggen/"))
    expect(heading(page)).to_have_text("Hulp bij inloggen")


# 8 -------------------------------------------------------------------------------------------


def test_no_csp_violations_or_console_errors_on_the_sign_in_pages(system, page):
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

    def check(title: str) -> None:
        expect(heading(page)).to_have_text(title)
        expect(page.locator("link[rel='stylesheet']")).to_have_count(1)
        # The stylesheet applied (a blocked one would leave the skip link on screen).
        expect(page.get_by_role("link", name="Naar de inhoud")).not_to_be_in_viewport()

    page.goto(url(system, LOGIN))
    check("Inloggen")
    submit_login(page, "anna.jansen", "Niet-haar-wachtwoord-1")
    expect(page.get_by_role("alert")).to_have_text(GENERIC_FAILURE)
    check("Inloggen")
    submit_login(page, "anna.jansen", demo_password(system, "anna.jansen"))
    check("Mijn inlogaccount")
    page.get_by_role("navigation").get_by_role("link", name="Uitloggen").click()
    check("Uitloggen")
    page.get_by_role("main").get_by_role("button", name="Uitloggen").click()
    check("Je bent uitgelogd")
    page.wait_for_timeout(300)  # let late console messages arrive

    assert problems == []


def test_site_has_a_favicon(system, page):
    page.goto(url(system, LOGIN))
    icon = page.locator("link[rel~='icon']")
    expect(icon).to_have_count(1)
    assert page.request.get(url(system, icon.get_attribute("href"))).ok


# 9 -------------------------------------------------------------------------------------------


def test_sign_in_and_out_work_without_javascript(system, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(url(system, LOGIN))
    expect(heading(page)).to_have_text("Inloggen")

    submit_login(page, "eva.visser", demo_password(system, "eva.visser"))
    expect(page).to_have_url(url(system, "/"))
    expect(page.get_by_test_id("username")).to_have_text("eva.visser")
    page.get_by_role("main").get_by_role("button", name="Uitloggen").click()
    expect(heading(page)).to_have_text("Je bent uitgelogd")


# 10 ------------------------------------------------------------------------------------------


def test_next_on_the_identity_host_is_followed(system, page):
    page.goto(url(system, LOGIN + "?" + urlencode({"next": "/uitloggen/"})))
    submit_login(page, "anna.jansen", demo_password(system, "anna.jansen"))
    expect(page).to_have_url(url(system, "/uitloggen/"))
    expect(page.get_by_text("Je bent ingelogd als anna.jansen.")).to_be_visible()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_next_to_another_site_is_ignored(system, page, target):
    # Should the product follow the link after all, the browser lands here, not on the net.
    page.route(re.compile(r"^https?://evil\.example/"), lambda route: route.fulfill(body="evil"))
    page.goto(url(system, LOGIN + "?" + urlencode({"next": target})))
    submit_login(page, "anna.jansen", demo_password(system, "anna.jansen"))
    expect(page).to_have_url(url(system, "/"))
    expect(heading(page)).to_have_text("Mijn inlogaccount")
