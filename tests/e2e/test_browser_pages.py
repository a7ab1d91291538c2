"""Every page of the three services in a real browser, at 360 and at 1,280 px.

One walk through the running system as its people use it: the anonymous pages, the links
from the e-mails (followed through the real SMTP server), a patron's pages (Mijn inlogaccount,
Mijn Menu, the Online Bibliotheek), the staff console with the helpdesk, and the forms' error
states. On every page the walk measures, at both widths, whether the page scrolls sideways
(`document.documentElement.scrollWidth > innerWidth`), and reads what a person can read (the
page's text, with every <details> opened, and the text of the SVGs the console shows, inline
or as images) for a finding code of the helpdesk or a right code of the subscriptions: people
read words, never codes.

The page list is discovered, not written down: every named URL pattern of each service that
answers GET must be reached by the walk (as a page, a redirect on the way, or an image) or be
excused below with its reason, so that a page added later is not silently skipped.

The patrons and customers the walk changes are its own (made through the library APIs); the
demo's are only looked at.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bibid.common.demo import SUBSCRIPTION_TYPES
from bibid.library.helpdesk.findings import CODES

from .console_pages import ask_to_link, choose_type, library_api, open_customer, second_step, show
from .console_pages import sign_in as staff_sign_in
from .console_pages import staff as staff_of
from .harness import ROOT
from .library_api import LIBRARY_B, Library, authorization, demo_client, fresh_address, fresh_card
from .mailbox import Received

pytestmark = pytest.mark.browser

WIDTHS = (360, 1280)
HEIGHT = 800
CONSOLE_ONE_ROW = 1100  # the staff console's menu stays one row at a desk's narrower screen
PASSWORD = "Een-zin-voor-elke-pagina"
STAFF = "helpdesk.maas"
ANNA = "anna.jansen"
EBOOKS = {"code": "ebooks", "limits": {"loans": 10, "period": "concurrent"}}
# Demo customers in the situations of the seed (bibid demo --show): looked at, never changed.
ANNA_MAAS, BRAM, GERRIT, LOTTE, NINA = (
    "2010000001",
    "2010000002",
    "2010000007",
    "2010000012",
    "2010000014",
)

# The words nobody should read: the helpdesk's finding codes and the subscriptions' right codes.
RIGHT_CODES = frozenset(
    right["code"]
    for kind in SUBSCRIPTION_TYPES
    for rights in kind.rights.values()
    for right in rights
)
# A code as a whole word: not inside a longer code or word ("e-books" is not "ebooks").
CODE_WORD = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(c) for c in sorted(CODES | RIGHT_CODES, key=len, reverse=True))
    + r")(?![\w-])"
)

# Named URL patterns that are not pages, each with the reason (a key ending in ":" excuses a
# whole namespace). Views that answer only POST need no excuse: they are the targets of forms
# whose answers the walk sees.
EXCUSED = {
    "healthz": "liveness probe for the process manager: plain text",
    "readyz": "readiness probe: plain text",
    "metrics": "Prometheus metrics: plain text",
    "admin:": "Django's own admin for operators (/beheer/), with Django's own stylesheet",
    "library-api:": "identity's library API: JSON for library systems (docs: django-ninja's)",
    "library-system-api:": "the library's REST API: JSON (docs: django-ninja's)",
    "oauth2_provider:oidc-connect-discovery-info": "OpenID Connect discovery document: JSON",
    "oauth2_provider:jwks-info": "the ID-token signing keys: JSON",
    "oauth2_provider:user-info": "OpenID Connect userinfo for relying parties: JSON",
}

# In each service: every named pattern with the HTTP methods its view accepts (None when the
# view does not say), and what each path the walk reached resolves to.
URL_PATTERNS = r"""
import inspect, json, sys
from django.urls import Resolver404, get_resolver, resolve
from django.urls.resolvers import URLResolver

def methods(view):
    cls = getattr(view, "view_class", None)
    if cls is not None:
        names = cls.http_method_names
        return sorted(m.upper() for m in names if m != "options" and hasattr(cls, m))
    # Django's require_http_methods (require_GET, require_POST, require_safe) keeps its list in
    # the closure of the function it wraps; functools.wraps leads through the other decorators.
    while view is not None:
        try:
            found = inspect.getclosurevars(view).nonlocals.get("request_method_list")
        except TypeError:
            found = None
        if found:
            return sorted(found)
        view = getattr(view, "__wrapped__", None)
    return None

def walk(patterns, prefix, spaces):
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = [*spaces, p.namespace] if p.namespace else spaces
            yield from walk(p.url_patterns, prefix + str(p.pattern), inner)
        elif p.name:
            yield ":".join([*spaces, p.name]), prefix + str(p.pattern), methods(p.callback)

def resolved(path):
    try:
        return resolve(path).view_name
    except Resolver404:
        return None

paths = json.loads(sys.stdin.read())
print(json.dumps({
    "patterns": [list(row) for row in walk(get_resolver().url_patterns, "", [])],
    "reached": {path: resolved(path) for path in paths},
}))
"""

MEASURE = """() => {
  const inner = window.innerWidth;
  const clipped = element => {
    if (['absolute', 'fixed'].includes(getComputedStyle(element).position)) return false;
    for (let up = element.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll('*')].filter(element => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.right > inner + 0.5 && !clipped(element);
  });
  const name = element => element.tagName.toLowerCase()
    + (element.id ? '#' + element.id : '')
    + [...element.classList].map(c => '.' + c).join('');
  // A page that hides its overflow (overflow-x: hidden on html or body) would cut words off
  // instead of scrolling: that counts as too wide too.
  const hidden = [document.documentElement, document.body]
    .some(e => ['hidden', 'clip'].includes(getComputedStyle(e).overflowX));
  return {
    scroll: hidden ? Infinity : document.documentElement.scrollWidth,
    inner,
    culprits: wide.filter(e => !wide.some(o => o !== e && e.contains(o))).slice(0, 4).map(name),
  };
}"""

READ = """() => {
  document.querySelectorAll('details').forEach(details => { details.open = true; });
  return {
    text: document.body.innerText,
    svg: [...document.querySelectorAll('svg text, svg title')].map(e => e.textContent),
    images: [...document.images].map(i => i.currentSrc || i.src)
      .filter(s => /\\.svg([?#]|$)/.test(s)),
  };
}"""


@dataclass
class Walk:
    """What the walk saw: every address the browser reached, and the problems per page."""

    system: object
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)
    overflow: dict[str, list[str]] = field(default_factory=dict)
    codes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    looked: list[str] = field(default_factory=list)
    svgs: dict[str, set[str]] = field(default_factory=dict)
    one_row: list[str] = field(default_factory=list)
    services: dict[str, dict] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def url(self, service: str, path: str) -> str:
        return self.system.urls[service] + path

    def page(self) -> Page:
        """A browser of its own (cookies, client address) in the one Chromium."""
        context = self.browser.new_context(
            locale="nl-NL",
            viewport={"width": WIDTHS[-1], "height": HEIGHT},
            # Each person of the walk comes from an address of their own, as in life: the
            # sign-in's guessing limits count per address, and other tests share 127.0.0.1.
            extra_http_headers={"X-Forwarded-For": fresh_address()},
        )
        context.set_default_timeout(20_000)
        context.on("request", self._seen)
        context.on("response", self._answered)
        self.contexts.append(context)
        return context.new_page()

    def _seen(self, request) -> None:
        if request.resource_type in ("document", "image"):
            self.reached.add(request.url)

    def _answered(self, response) -> None:
        if response.request.resource_type == "document" and response.status >= 500:
            self.failed.append(f"{response.status} {response.request.method} {response.url}")

    def look(self, page: Page, what: str) -> None:
        """Check the page the browser shows now, at each width; `what` names it."""
        page.wait_for_load_state()
        name = f"{what} ({urlsplit(page.url).path})"
        self.looked.append(name)
        read = page.evaluate(READ)  # opens every <details> first: their content is readable
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            found = page.evaluate(MEASURE)
            if found["scroll"] > found["inner"]:
                self.overflow.setdefault(name, []).append(
                    f"{width} px: {found['scroll']} px wide ({', '.join(found['culprits'])})"
                )
        self.codes[name] |= set(CODE_WORD.findall(read["text"]))
        self.codes[name] |= set(CODE_WORD.findall(" ".join(read["svg"])))
        for image in read["images"]:
            if image.startswith(self.system.urls["library"] + "/console/"):
                self.codes[name] |= self.svg_words(page, image)

    def svg_words(self, page: Page, address: str) -> set[str]:
        """The codes in the text of an SVG the console serves (fetched once per address)."""
        if address not in self.svgs:
            answer = page.request.get(address)
            assert answer.ok, (address, answer.status)
            self.reached.add(address)
            root = ET.fromstring(answer.body())  # noqa: S314 - our own server's drawing
            texts = [
                "".join(element.itertext())
                for element in root.iter()
                if element.tag.rsplit("}", 1)[-1] in ("text", "title")
            ]
            self.svgs[address] = set(CODE_WORD.findall(" ".join(texts)))
        return self.svgs[address]

    def go(self, page: Page, service: str, path: str, what: str) -> None:
        page.goto(self.url(service, path))
        self.look(page, what)

    def click(self, page: Page, target, what: str) -> None:
        """Press a button or follow a link that loads another page, then look at it."""
        with page.expect_navigation():
            target.click()
        self.look(page, what)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def button(scope, name: str):
    return scope.get_by_role("button", name=name, exact=True)


def borrow(page: Page):
    return page.get_by_role("main").get_by_role("button", name=re.compile(r"^Lenen\b"))


def in_english_and_back(walk: Walk, page: Page, what: str) -> None:
    """The language switch (a form in the header): the page in English, then Dutch again."""
    walk.click(page, page.get_by_role("button", name="English"), f"{what}, in English")
    with page.expect_navigation():
        page.get_by_role("button", name="Nederlands").click()


def sign_in_at_identity(page: Page, username: str, password: str, send: str = "Inloggen") -> None:
    page.get_by_label("Gebruikersnaam of pasnummer").fill(username)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    with page.expect_navigation():
        button(page.get_by_role("main"), send).click()


def wait_for_mail(mailbox, to: str, subject: str) -> Received:
    return mailbox.wait_for(to, subject, timeout=60)


# -- the people of the walk -------------------------------------------------------------------


@dataclass
class Patron:
    """A patron of the walk's own: a login account Bibliotheek aan de Maas generated for a
    card the library system does not know (so Mijn Menu says so), with an e-books right."""

    ref: str
    address: str
    library: Library

    @property
    def username(self) -> str:
        return self.ref  # generated accounts are named after the card number


def new_patron(system, mailbox) -> tuple[Patron, Received]:
    identity = system.urls["identity"]
    library = Library(identity, demo_client(system, "aan-de-maas"))
    ref = fresh_card()
    patron = Patron(ref, f"pagina.{ref}@example.org", library)
    made = library.generate(ref, {"recovery_email": patron.address})
    assert made.status_code == 201, made.text
    return patron, wait_for_mail(mailbox, patron.address, "Activeer")


def dev_message(system, mail: Received) -> None:
    """A message in the dev mailbox (the test system mails through SMTP instead): a real one."""
    system.identity_shell(
        "from bibid.identity.mail.models import DevMessage\n"
        f"DevMessage.objects.create(to={mail.to[0]!r}, subject={mail.subject!r},"
        f" text={mail.text!r})\n"
    )


# -- the walk ----------------------------------------------------------------------------------


def walk_anonymous(
    walk: Walk, page: Page, patron: Patron, mailbox, activation: Received, ready: Callable
) -> None:
    # identity: signing in, help, the forms that send mail, their error states
    walk.go(page, "identity", "/inloggen/", "identity: sign in")
    sign_in_at_identity(page, patron.username, "Niet-het-goede-wachtwoord")
    walk.look(page, "identity: sign in, wrong password")
    walk.go(page, "identity", "/hulp-bij-inloggen/", "identity: help with signing in")
    walk.go(page, "identity", "/gebruikersnaam-vergeten/", "identity: forgot username")
    page.get_by_label("E-mailadres").fill(f"niemand.{uuid.uuid4().hex[:6]}@example.org")
    walk.click(page, page.get_by_role("main").get_by_role("button"), "identity: username sent")
    walk.go(page, "identity", "/uitgelogd/", "identity: signed out")
    walk.go(page, "identity", "/activeren/ongeldig/", "identity: a link that does not work")
    walk.go(page, "identity", f"/koppelen/{uuid.uuid4()}/", "identity: a link request gone")
    walk.go(page, "identity", "/bestaat-niet/", "identity: page not found")
    walk.go(page, "identity", "/o/authorize/?client_id=bestaat-niet", "identity: bad OIDC request")

    # The activation link: the page, its error state, and done.
    page.goto(activation.link("/activeren/"))
    walk.look(page, "identity: activate")
    page.get_by_label("Nieuw wachtwoord", exact=True).fill(PASSWORD)
    page.get_by_label("Herhaal het nieuwe wachtwoord").fill(PASSWORD + "-anders")
    walk.click(page, button(page, "Activeer mijn inlogaccount"), "identity: activate, errors")
    page.get_by_label("Nieuw wachtwoord", exact=True).fill(PASSWORD)
    page.get_by_label("Herhaal het nieuwe wachtwoord").fill(PASSWORD)
    walk.click(page, button(page, "Activeer mijn inlogaccount"), "identity: activated")
    patron.library.ok(patron.library.authorize(patron.ref, authorization("Pagina Patroon", EBOOKS)))

    # Forgot password (empty first: the error state), and the reset link from the mail.
    walk.go(page, "identity", "/wachtwoord-vergeten/", "identity: forgot password")
    walk.click(page, page.get_by_role("main").get_by_role("button"), "identity: forgot, errors")
    page.get_by_label(re.compile("Gebruikersnaam of pasnummer")).fill(patron.username)
    walk.click(page, page.get_by_role("main").get_by_role("button"), "identity: reset mail sent")
    reset = wait_for_mail(mailbox, patron.address, "nieuw wachtwoord")
    page.goto(reset.link("/wachtwoord-herstellen/"))
    walk.look(page, "identity: choose a new password")

    # A library changes the recovery address: the confirmation for the new one, and "Dit was
    # ik niet" for the old one, put to use (libraries are frozen out for the patron's pages).
    new_address = f"nieuw.{patron.address}"
    patron.library.ok(patron.library.recovery_email(patron.ref, new_address))
    confirm = wait_for_mail(mailbox, new_address, "Bevestig je nieuwe e-mailadres")
    page.goto(confirm.link("/e-mailadres-bevestigen/"))
    walk.look(page, "identity: confirm an address")
    notice = wait_for_mail(mailbox, patron.address, "herstel-e-mailadres veranderd")
    page.goto(notice.link("/niet-ik/"))
    walk.look(page, "identity: this was not me")
    walk.click(page, page.get_by_role("main").get_by_role("button"), "identity: address back")

    # Another library asks to link the account: the handover page, and its wrong password.
    other = Library(walk.system.urls["identity"], demo_client(walk.system, LIBRARY_B))
    asked = other.link(fresh_card(LIBRARY_B), patron.username)
    assert asked.status_code == 202, asked.text
    page.goto(asked.json()["handover_url"])
    walk.look(page, "identity: handover")
    sign_in_at_identity(page, patron.username, "Niet-goed", "Inloggen en koppelen")
    walk.look(page, "identity: handover, wrong password")

    ready()  # the dev mailbox has its message
    walk.go(page, "identity", "/dev/postbus/", "identity: dev mailbox")
    walk.click(page, page.get_by_role("main").get_by_role("link").first, "identity: dev message")

    # library: start page, sign-up (its error state, and sent), the console's sign-in
    walk.go(page, "library", "/", "library: start")
    walk.go(page, "library", "/aanmelden/", "library: choose a library to join")
    walk.click(page, page.get_by_role("link", name="Bibliotheek aan de Maas"), "library: sign-up")
    walk.click(page, button(page, "Word lid"), "library: sign-up, errors")
    mark = uuid.uuid4().hex[:8]
    page.get_by_label("Je naam").fill(f"Pagina Lid {mark}")
    page.get_by_label("Geboortedatum").fill("1991-05-17")
    page.get_by_label("E-mailadres").fill(f"lid.{mark}@example.org")
    page.get_by_label(re.compile("Volwassen Compleet")).check()
    page.get_by_label("Ik ga akkoord met de voorwaarden van de bibliotheek.").check()
    walk.click(page, button(page, "Word lid"), "library: sign-up sent")
    walk.go(page, "library", "/console/inloggen/", "console: sign in")
    page.get_by_label("Gebruikersnaam").fill(f"niemand.{mark}")
    page.get_by_label("Wachtwoord").fill("Niet-het-goede-wachtwoord")
    walk.click(page, button(page, "Inloggen"), "console: sign in, wrong password")
    walk.go(page, "library", "/mijn/aan-de-maas/uitgelogd/", "Mijn Menu: signed out")
    walk.go(page, "library", "/mijn/aan-de-maas/sessie-beeindigd/", "Mijn Menu: logout detected")
    walk.go(page, "library", "/bestaat-niet/", "library: page not found")

    # reading: the catalogue, a title, no results
    walk.go(page, "reading", "/", "reading: start")
    walk.go(page, "reading", "/catalogus/", "reading: catalogue")
    walk.go(page, "reading", "/catalogus/?q=zzzqqq", "reading: catalogue, nothing found")
    walk.go(page, "reading", "/catalogus/?soort=luisterboek", "reading: audiobooks")
    walk.click(page, page.locator(".title-link").first, "reading: a title")
    walk.go(page, "reading", "/uitgelogd/", "reading: signed out")
    walk.go(page, "reading", "/sessie-beeindigd/", "reading: logout detected")
    walk.go(page, "reading", "/bestaat-niet/", "reading: page not found")


def walk_patron(walk: Walk, page: Page, patron: Patron) -> None:
    walk.go(page, "identity", "/inloggen/", "identity: sign in (patron)")
    sign_in_at_identity(page, patron.username, PASSWORD)
    expect(heading(page)).to_have_text("Mijn inlogaccount")
    walk.look(page, "identity: Mijn inlogaccount")
    in_english_and_back(walk, page, "identity: Mijn inlogaccount")
    for path, what, send in (
        ("/wachtwoord-wijzigen/", "change password", "Wijzig mijn wachtwoord"),
        ("/e-mailadres-wijzigen/", "change e-mail address", "Stuur een bevestigingslink"),
        ("/gebruikersnaam-wijzigen/", "change username", "Wijzig mijn gebruikersnaam"),
        ("/account-verwijderen/", "delete account", "Verwijder mijn inlogaccount"),
    ):
        walk.go(page, "identity", path, f"identity: {what}")
        walk.click(page, button(page, send), f"identity: {what}, errors")
    walk.go(page, "identity", "/passkeys/", "identity: passkeys")
    walk.go(page, "identity", "/bibliotheken/wijzigingen-toestaan/", "identity: allow libraries")
    walk.go(page, "identity", "/", "identity: Mijn inlogaccount (libraries frozen)")
    withdraw = page.get_by_test_id("libraries").get_by_role("link").first
    walk.click(page, withdraw, "identity: withdraw a link")
    walk.go(page, "identity", "/uitloggen/", "identity: sign out?")
    walk.go(page, "identity", "/o/logout/", "identity: a service asks to sign out")

    # Mijn Menu: the library system does not know this card.
    walk.go(page, "library", "/mijn/aan-de-maas/", "Mijn Menu: no membership found")
    expect(page.get_by_test_id("not-linked")).to_be_visible()

    # The Online Bibliotheek: sign in on the way, borrow an e-book; no right for an audiobook.
    page.goto(walk.url("reading", "/"))
    walk.click(page, page.get_by_role("link", name="Inloggen").first, "reading: signed in")
    walk.go(page, "reading", "/catalogus/?soort=e-book", "reading: e-books, signed in")
    walk.click(page, page.locator(".title-link").first, "reading: an e-book")
    walk.click(page, borrow(page), "reading: borrowed")
    walk.go(page, "reading", "/leenplank/", "reading: Mijn leenplank")
    in_english_and_back(walk, page, "reading: Mijn leenplank")
    page.goto(walk.url("reading", "/catalogus/?soort=luisterboek"))
    walk.click(page, page.locator(".title-link").first, "reading: an audiobook, signed in")
    walk.click(page, borrow(page), "reading: right missing")


def walk_member(walk: Walk, page: Page) -> None:
    """A demo member (looked at only): Mijn Menu with a subscription, family and rights."""
    password = next(p["password"] for p in walk.system.demo["patrons"] if p["username"] == ANNA)
    page.goto(walk.url("library", "/mijn/aan-de-maas/"))
    walk.look(page, "identity: sign in for Mijn Menu")
    sign_in_at_identity(page, ANNA, password)
    expect(heading(page)).to_have_text("Mijn Menu")
    walk.look(page, "Mijn Menu")
    in_english_and_back(walk, page, "Mijn Menu")


def walk_console(walk: Walk, page: Page) -> None:
    system = walk.system
    page.goto(walk.url("library", "/console/inloggen/"))
    page.get_by_label("Gebruikersnaam").fill(STAFF)
    page.get_by_label("Wachtwoord").fill(staff_of(system, STAFF)["password"])
    page.get_by_role("button", name="Inloggen", exact=True).click()
    expect(heading(page)).to_have_text("Tweede stap")
    walk.look(page, "console: second step")
    second_step(page, system, STAFF)
    expect(heading(page)).to_have_text("Klant zoeken")
    walk.look(page, "console: search")
    menu_row(walk, page)
    in_english_and_back(walk, page, "console: search")
    page.get_by_label(re.compile("Zoek op pasnummer")).fill("Jansen")
    walk.click(page, button(page.get_by_role("search"), "Zoeken"), "console: search results")

    open_customer(page, system, ANNA_MAAS)
    walk.look(page, "console: a customer")
    for item in ("Toon inlogaccount gegevens", "Toon inlogaccount-rechten", "Inloggeschiedenis"):
        show(page, item)
        walk.look(page, f"console: {item}")
    walk.go(page, "library", f"/console/klanten/{NINA}/", "console: a colleague")
    walk.go(page, "library", "/console/klanten/9999999999/", "console: customer not found")

    # The helpdesk on the demo's situations: every problem for one customer, then others.
    open_customer(page, system, BRAM)
    box = page.get_by_role("region", name="Helpdesk", exact=True)
    problems = box.locator("button").all_inner_texts()
    assert problems, "no problems to choose in the Helpdesk box"
    walk.click(page, button(box, problems[0]), f"helpdesk: {problems[0]} (Bram)")
    for problem in problems[1:]:
        again = page.get_by_role("region", name="Opnieuw, of een ander probleem")
        walk.click(page, button(again, problem), f"helpdesk: {problem} (Bram)")
    for card, typed in ((GERRIT, ""), (LOTTE, "lotte.bos")):
        open_customer(page, system, card)
        box = page.get_by_role("region", name="Helpdesk", exact=True)
        box.get_by_label("Gebruikersnaam die de klant intypt").fill(typed)
        walk.click(page, button(box, problems[0]), f"helpdesk: {problems[0]} ({card})")
    walk.click(page, page.get_by_role("link", name="Bekijk het hele stroomschema"), "chart, a case")

    # A customer of the walk's own: the fix, and a question answered.
    card = new_customer(system, account=True)
    open_customer(page, system, card)
    box = page.get_by_role("region", name="Helpdesk", exact=True)
    walk.click(page, button(box, problems[0]), "helpdesk: an inactive account")
    walk.click(page, page.get_by_test_id("fix").get_by_role("button"), "helpdesk: fixed")
    question = page.get_by_test_id("next-question")
    if question.count():
        walk.click(page, question.get_by_role("button").first, "helpdesk: a question answered")

    # Koppel inlogaccount: the link step on the customer page.
    card = new_customer(system, account=False)
    open_customer(page, system, card)
    ask_to_link(page, f"niemand.{uuid.uuid4().hex[:8]}")  # the step reads the same for anyone
    walk.look(page, "console: link step")

    # The flowcharts, each with its SVG file, and the report over each period.
    walk.go(page, "library", "/console/helpdesk/schema/", "helpdesk: flowcharts")
    charts = (
        page.get_by_role("main")
        .locator("a[href*='/schema/']")
        .evaluate_all("links => links.map(a => a.getAttribute('href'))")
    )
    charts = [href for href in dict.fromkeys(charts) if href != "/console/helpdesk/schema/"]
    assert charts, "no flowcharts listed"
    for href in charts:
        if href.split("?")[0].endswith(".svg"):
            walk.codes[f"flowchart file {href}"] |= walk.svg_words(page, urljoin(page.url, href))
        else:
            walk.go(page, "library", href, f"helpdesk: flowchart {href}")
    walk.go(page, "library", "/console/helpdesk/rapport/", "helpdesk: report")
    periods = page.get_by_role("navigation", name="Periode").get_by_role("link")
    for href in periods.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        walk.go(page, "library", f"/console/helpdesk/rapport/{href}", f"helpdesk: report {href}")

    # The desk's sign-up: empty (its errors), then a customer without a login account.
    walk.go(page, "library", "/console/lid-worden/", "console: desk sign-up")
    walk.click(page, button(page, "Inschrijven"), "console: desk sign-up, errors")
    new = page.get_by_role("group", name="Nieuwe klant")
    new.get_by_label("Naam").fill(f"Pagina Balie {uuid.uuid4().hex[:6]}")
    new.get_by_label("Geboortedatum").fill("1980-03-04")
    choose_type(page, "Volwassen Compleet")
    page.get_by_label("Gebruik inlogaccount").set_checked(False)
    walk.click(page, button(page, "Inschrijven"), "console: registered")

    walk.go(page, "library", "/console/tokens/", "console: API tokens")
    page.get_by_label("Waarvoor is dit token?").fill(f"pagina-{uuid.uuid4().hex[:6]}")
    walk.click(page, button(page, "Maak token"), "console: a new API token")

    # The second step's own pages (bibid.common.mfa): one's factors, adding one, new codes.
    walk.go(page, "library", "/console/tweede-stap/beheren/", "console: your second step")
    walk.go(page, "library", "/console/tweede-stap/instellen/", "console: add an app or key")
    walk.go(page, "library", "/console/tweede-stap/beheren/", "console: your second step")
    walk.click(page, button(page, "Maak nieuwe herstelcodes"), "console: new recovery codes")
    # A manager's list of colleagues.
    page.get_by_role("button", name="Uitloggen").click()
    staff_sign_in(page, system, "manager.maas")
    walk.go(page, "library", "/console/medewerkers/", "console: colleagues (manager)")


def menu_row(walk: Walk, page: Page) -> None:
    """The console's menu is one row at 1,100 px, not two ragged ones."""
    page.set_viewport_size({"width": CONSOLE_ONE_ROW, "height": HEIGHT})
    middles = page.get_by_role("navigation", name="Hoofdmenu").evaluate(
        "nav => [...nav.querySelectorAll('a, button, .who')].map(e => {"
        " const box = e.getBoundingClientRect(); return (box.top + box.bottom) / 2; })"
    )
    page.set_viewport_size({"width": WIDTHS[-1], "height": HEIGHT})
    if max(middles) - min(middles) > 4:  # items of one row share their middle line
        walk.one_row.append(f"the menu's items sit at {sorted(set(middles))} px from the top")


def new_customer(system, *, account: bool) -> str:
    """A customer of the walk's own, through the library's REST API (Volwassen Compleet)."""
    mark = uuid.uuid4().hex[:8]

    def call(method: str, path: str, body: dict, status: int) -> dict:
        answer = library_api(system, method, path, user=STAFF, json=body)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:400])
        return answer.json()

    card = call(
        "POST",
        "/customers",
        {"name": f"Pagina Klant {mark}", "birth_date": "1986-05-04"},
        201,
    )["card_number"]
    call("POST", "/subscriptions", {"card_number": card, "type": "compleet"}, 201)
    if account:
        call("POST", f"/customers/{card}/login-account", {}, 201)
    return card


class UrlConfs:
    """Each service's URLconf, read by a shell of that service (URL_PATTERNS). The shells
    start with the walk, so Django's start-up runs beside it; each waits for the paths the
    walk reached on its standard input."""

    def __init__(self, system) -> None:
        self.system = system
        self.shells = {
            service: subprocess.Popen(
                [sys.executable, "-m", "bibid", service, "shell", "-v", "0", "-c", URL_PATTERNS],
                env=system.env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for service in system.urls
        }

    def read(self, reached: set[str]) -> dict[str, dict]:
        """Per service: its named patterns, and the view each reached path resolves to."""
        paths: dict[str, list[str]] = defaultdict(list)
        for address in reached:
            for service, base in self.system.urls.items():
                if address.startswith(base + "/"):
                    paths[service].append(urlsplit(address).path)
        found = {}
        for service, shell in self.shells.items():
            out, err = shell.communicate(json.dumps(paths[service]), timeout=120)
            assert shell.returncode == 0, f"{service}: {err}"
            found[service] = json.loads(out.strip().splitlines()[-1])
        return found

    def stop(self) -> None:
        for shell in self.shells.values():
            if shell.poll() is None:
                shell.kill()
                shell.wait()


def walk_everything(system, browser, mailbox) -> Walk:
    walk = Walk(system, browser)
    urlconfs = UrlConfs(system)
    try:
        patron, activation = new_patron(system, mailbox)
        # The dev mailbox's message page needs a message; the shell takes a few seconds, so it
        # runs beside the walk.
        helper = threading.Thread(target=dev_message, args=(system, activation))
        helper.start()
        steps: list[tuple[Callable, tuple]] = [
            (walk_anonymous, (patron, mailbox, activation, helper.join)),
            (walk_patron, (patron,)),
            (walk_member, ()),
            (walk_console, ()),
        ]
        for step, args in steps:
            step(walk, walk.page(), *args)
        walk.services = urlconfs.read(walk.reached)
    finally:
        urlconfs.stop()
        walk.close()
    print(f"\n{len(walk.looked)} pages looked at, each at {' and '.join(map(str, WIDTHS))} px")
    return walk


@pytest.fixture(scope="module")
def walked(system, browser, mailbox) -> Walk:
    return walk_everything(system, browser, mailbox)


# -- the checks --------------------------------------------------------------------------------


def test_no_page_fails(walked):
    assert not walked.failed, walked.failed


def test_no_page_scrolls_sideways(walked):
    assert len(walked.looked) >= 60, walked.looked
    assert not walked.overflow, "pages wider than the screen:\n" + "\n".join(
        f"  {page}: {'; '.join(found)}" for page, found in walked.overflow.items()
    )


def test_the_console_menu_is_one_row_at_1100_px(walked):
    assert not walked.one_row, walked.one_row


def test_no_code_in_visible_text(walked):
    found = {page: sorted(codes) for page, codes in walked.codes.items() if codes}
    assert not found, "codes where people read words:\n" + "\n".join(
        f"  {page}: {', '.join(codes)}" for page, codes in found.items()
    )


def test_every_page_is_visited_or_excused(walked):
    missing, stale = [], set(EXCUSED)
    for service, found in walked.services.items():
        reached = set(found["reached"].values())
        for name, route, methods in found["patterns"]:
            excuse = next(
                (k for k in EXCUSED if k == name or (k.endswith(":") and name.startswith(k))),
                None,
            )
            if excuse:
                stale.discard(excuse)
                continue
            if methods is not None and "GET" not in methods:
                continue  # a form's target: the walk sees its answer
            if name not in reached:
                missing.append(f"{service} {name} (/{route})")
    assert not missing, (
        "pages the walk does not open and no excuse names (add them to the walk, or to "
        "EXCUSED with the reason):\n  " + "\n  ".join(missing)
    )
    assert not stale, f"excuses for patterns that no longer exist: {sorted(stale)}"
