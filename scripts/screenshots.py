"""Take the README's screenshots: start the whole system with demo data (as the end-to-end
tests do, on free ports under a temporary directory), walk a patron's and a staff member's
pages in Debian's Chromium, and write PNGs to docs/screenshots/.

    .venv/bin/python scripts/screenshots.py

Needs /usr/bin/chromium and the dev dependencies (Playwright's Python package); never
downloads a browser.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.harness import start_system, stop_system  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
WIDTH, HEIGHT = 1100, 760
PHONE = {"width": 360, "height": 740}  # a small phone's screen, drawn at twice the pixels
LIBRARY = "aan-de-maas"
BRAM = "2010000002"  # demo: a login account that was never activated


def password_of(system, kind: str, username: str) -> str:
    return next(p["password"] for p in system.demo[kind] if p["username"] == username)


def shot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"docs/screenshots/{name}.png")


def patron_pages(page: Page, system) -> None:
    identity, library, reading = (system.urls[s] for s in ("identity", "library", "reading"))
    page.goto(f"{library}/mijn/{LIBRARY}/")  # Mijn Menu sends the patron to the login
    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    page.get_by_label("Gebruikersnaam of pasnummer").fill("anna.jansen")
    shot(page, "1-inloggen")
    page.get_by_label("Wachtwoord", exact=True).fill(password_of(system, "patrons", "anna.jansen"))
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page).to_have_url(f"{library}/mijn/{LIBRARY}/")
    shot(page, "2-mijn-menu")
    page.goto(f"{reading}/")  # single sign-on: no second password
    shot(page, "3-online-bibliotheek")
    page.goto(f"{identity}/")
    shot(page, "4-mijn-inlogaccount")


def phone_pages(page: Page, system) -> None:
    """The sign-in page and Mijn Menu as a patron sees them on a phone (the first screen)."""
    library = system.urls["library"]
    page.goto(f"{library}/mijn/{LIBRARY}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    shot(page, "8-inloggen-telefoon")
    page.get_by_label("Gebruikersnaam of pasnummer").fill("anna.jansen")
    page.get_by_label("Wachtwoord", exact=True).fill(password_of(system, "patrons", "anna.jansen"))
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(page).to_have_url(f"{library}/mijn/{LIBRARY}/")
    shot(page, "9-mijn-menu-telefoon")


def staff_pages(page: Page, system) -> None:
    library = system.urls["library"]
    page.goto(f"{library}/console/inloggen/")
    page.get_by_label("Gebruikersnaam").fill("helpdesk.maas")
    page.get_by_label("Wachtwoord").fill(password_of(system, "staff", "helpdesk.maas"))
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen", exact=True).click()
    page.goto(f"{library}/console/klanten/{BRAM}/")
    shot(page, "5-console-klant")
    with page.expect_navigation():
        page.get_by_role("button", name="Kan niet inloggen", exact=True).click()
    page.evaluate("window.scrollTo(0, 0)")  # the answer has the focus; show the page's top too
    shot(page, "6-helpdesk-diagnose")
    page.goto(f"{library}/console/helpdesk/schema/")
    with page.expect_navigation():
        page.get_by_role("link", name="Kan niet inloggen (single identity)").first.click()
    shot(page, "7-helpdesk-stroomschema")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bibid-shots-") as var:
        system = start_system(Path(var))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for walk in (patron_pages, staff_pages, phone_pages):
                    if walk is phone_pages:
                        options = {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True}
                    else:
                        options = {"viewport": {"width": WIDTH, "height": HEIGHT}}
                    context = browser.new_context(locale="nl-NL", **options)
                    walk(context.new_page(), system)
                    context.close()
                browser.close()
        finally:
            stop_system(system)


if __name__ == "__main__":
    main()
