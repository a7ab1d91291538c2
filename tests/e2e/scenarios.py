"""Customers in the states the helpdesk's diagnosis tells apart, made through the real APIs.

A `World` holds what a scenario needs of a running system: the library's REST API as a
staff member (`Desk`), the identity service's library API as Bibliotheek aan de Maas (to
link accounts behind the library's back, push stale data and so on), a pool of patron
accounts with passwords (made in one identity shell), identity's handover page where the
patron agrees to a link (rule L2) and the mailbox where the patron confirms a recovery
address the desk set (rule L3), the sign-in page for wrong passwords and blocks, the
services' sign-in for LOGOUT_DETECTED reports, and the clock and the purge for accounts
deleted after 24 hours.

Every diagnosis a `Desk` receives (a diagnosis, a fix's new diagnosis, an answered question,
a case read) adds the nodes of its path to `REACHED`: the node coverage that
tests/e2e/test_helpdesk_scenarios.py checks at the end of the helpdesk modules.

Used by tests/e2e/test_helpdesk_scenarios.py, tests/e2e/test_helpdesk_combinations.py and
bench/diagnose.py.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import requests

from .library_api import Library, approve_handover, choose_password, demo_client
from .oidc import TIMEOUT, csrf_of, service_client, sign_in_at_identity

CL, EB, LD, IA = "cannot-login", "no-ebook-rights", "logout-detected", "inactive-account"
LIBRARY = "aan-de-maas"
OTHER_LIBRARY = "duinstreek"
HELPDESK = "helpdesk.maas"  # may lift blocks and unlink (the desk may not)
DESK = "balie.maas"
MANAGER = "manager.maas"  # the only one who may make someone a colleague or volunteer
MIJN_MENU = "mijnmenu-aan-de-maas"
READING = "online-bibliotheek"
CONFIRM_ADDRESS_SUBJECT = "Bevestig je nieuwe e-mailadres"


def tag() -> str:
    return uuid.uuid4().hex[:8]


def fresh_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def staff_token(system, username: str) -> str:
    return next(s for s in system.demo["staff"] if s["username"] == username)["api_token"]


# -- the nodes the diagnoses walked ------------------------------------------------------

# procedure -> every node on the path of some diagnosis this test session received. A module
# global, like tests/e2e/test_helpdesk_flows/walk.py's VISITED: one per test process.
REACHED: dict[str, set[str]] = {}


def reached(diagnosis: dict) -> None:
    """Add the nodes of a diagnosis's path to REACHED."""
    procedure = (diagnosis.get("procedure") or {}).get("id")
    if procedure and isinstance(diagnosis.get("path"), list):
        REACHED.setdefault(procedure, set()).update(step["node"] for step in diagnosis["path"])


def _collect(response: requests.Response) -> None:
    if "json" not in response.headers.get("Content-Type", ""):
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict):
        # A diagnosis itself, or one carried inside a fix's answer, an answered question or
        # a problem document (confirm_first shows the current diagnosis in its data).
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        for found in (body, body.get("diagnosis"), data.get("diagnosis")):
            if isinstance(found, dict):
                reached(found)


# -- the library's REST API --------------------------------------------------------------


class Desk:
    """The library REST API with a staff member's personal token."""

    def __init__(self, system, user: str = HELPDESK) -> None:
        self.base = system.urls["library"] + "/api/v1"
        self.user = user
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {staff_token(system, user)}"

    def call(self, method: str, path: str, body=None, **options) -> requests.Response:
        if body is not None:
            options["json"] = body
        answer = self.http.request(method, self.base + path, timeout=TIMEOUT, **options)
        _collect(answer)
        return answer

    @staticmethod
    def ok(response: requests.Response, status: int = 200) -> dict:
        assert response.status_code == status, (
            response.request.method,
            response.request.url,
            response.status_code,
            response.text[:800],
        )
        return response.json()

    # customers and subscriptions
    def customer(
        self,
        *,
        name: str | None = None,
        birth_date: str = "1985-04-12",
        email: str | None = "",
        kind: str = "regular",
    ) -> str:
        name = name or f"Klant {tag()}"
        if email == "":  # an address of its own unless told otherwise
            email = f"{re.sub(r'[^a-z0-9]+', '.', name.lower()).strip('.')}.{tag()}@example.org"
        body = {"name": name, "birth_date": birth_date, "kind": kind}
        if email:
            body["email"] = email
        return self.ok(self.call("POST", "/customers", body), 201)["card_number"]

    def get(self, card: str) -> dict:
        return self.ok(self.call("GET", f"/customers/{card}"))

    def update(self, card: str, **changes) -> dict:
        return self.ok(self.call("PATCH", f"/customers/{card}", changes))

    def subscription(
        self,
        card: str,
        type_: str = "compleet",
        *,
        start: date | None = None,
        end: date | None = None,
        members: tuple[tuple[str, str], ...] = (),
    ) -> dict:
        body: dict = {
            "card_number": card,
            "type": type_,
            "members": [{"card_number": c, "role": r} for c, r in members],
        }
        if start:
            body["start"] = start.isoformat()
        if end:
            body["end"] = end.isoformat()
        return self.ok(self.call("POST", "/subscriptions", body), 201)

    def update_subscription(self, subscription_id: int, **changes) -> dict:
        return self.ok(self.call("PATCH", f"/subscriptions/{subscription_id}", changes))

    # the Inlogaccount menu
    def menu(
        self, card: str, what: str, method: str = "POST", body=None, status: int = 200
    ) -> dict:
        path = f"/customers/{card}/login-account" + (f"/{what}" if what else "")
        return self.ok(self.call(method, path, body), status)

    def generate(self, card: str, **body) -> dict:
        return self.menu(card, "", body=body, status=201)

    def activate(self, card: str) -> dict:
        return self.menu(card, "activate")

    def authorize(self, card: str) -> dict:
        return self.menu(card, "authorize")

    def link(self, card: str, username: str | None) -> dict:
        """Koppel inlogaccount, step 1 (rule L2): a link request, nothing linked yet."""
        body = {"username": username} if username else {}
        return self.menu(card, "link", body=body, status=202)

    def confirm_link(
        self,
        card: str,
        request_id: str,
        code: str | None = None,
        status: int = 201,
        move_from: str | None = None,
    ) -> dict:
        """Step 2: with the patron's code, or without after the handover page; `move_from`:
        the family member the account moves from (the helpdesk's partner/child fix)."""
        body = {
            "request_id": request_id,
            **({"code": code} if code else {}),
            **({"move_from": move_from} if move_from else {}),
        }
        return self.menu(card, "link/confirm", body=body, status=status)

    # the helpdesk
    def diagnose(self, card: str, problem: str, username: str | None = None) -> requests.Response:
        body = {"problem": problem}
        if username is not None:
            body["username"] = username
        return self.call("POST", f"/customers/{card}/diagnosis", body)

    def fix(
        self,
        card: str,
        problem: str,
        code: str,
        username: str | None = None,
        *,
        case: int | None = None,
        confirm: bool | None = None,
    ) -> requests.Response:
        body: dict = {"problem": problem, "code": code}
        if username is not None:
            body["username"] = username
        if case is not None:
            body["case"] = case
        if confirm is not None:
            body["confirm"] = confirm
        return self.call("POST", f"/customers/{card}/diagnosis/fix", body)

    def link_confirm(
        self,
        card: str,
        problem: str,
        request_id: str,
        *,
        username: str | None = None,
        case: int | None = None,
        move_from: str | None = None,
        code: str | None = None,
    ) -> requests.Response:
        """The second step of a login_account_link fix, once the patron confirmed (on the
        handover page, or with the `code` from the mail): link, push, diagnose again."""
        body: dict = {"problem": problem, "request_id": request_id}
        for key, value in (
            ("username", username),
            ("case", case),
            ("move_from", move_from),
            ("code", code),
        ):
            if value is not None:
                body[key] = value
        return self.call("POST", f"/customers/{card}/diagnosis/link-confirm", body)

    def answer(self, case: int, node: str, answer: str) -> requests.Response:
        """The customer's answer to the question at `node` of a case."""
        return self.call("POST", f"/cases/{case}/answer", {"node": node, "answer": answer})

    def case(self, case: int) -> requests.Response:
        return self.call("GET", f"/cases/{case}")

    def cases(self, card: str) -> requests.Response:
        return self.call("GET", f"/customers/{card}/cases")


# -- patron accounts at identity ---------------------------------------------------------


@dataclass(frozen=True)
class Patron:
    username: str
    password: str


class Patrons:
    """Active accounts with a password and no recovery address, made in one identity shell
    (one Argon2 hash each); `take()` hands out the next unused one."""

    def __init__(self, system, count: int) -> None:
        run = tag()
        self.free = [
            Patron(f"pat{run}{i:03d}", f"Lang-genoeg-{uuid.uuid4().hex[:10]}") for i in range(count)
        ]
        pairs = json.dumps([[p.username, p.password] for p in self.free])
        system.identity_shell(
            "import json\n"
            "from bibid.identity.accounts.services import create_account\n"
            "from bibid.identity.accounts.actors import Actor\n"
            f"for username, password in json.loads({pairs!r}):\n"
            "    create_account(username=username, password=password, active=True,"
            " actor=Actor.system('test'))\n"
        )

    def take(self) -> Patron:
        assert self.free, "the pool of patron accounts is used up: make it bigger"
        return self.free.pop(0)


# -- a scenario's world ------------------------------------------------------------------


@dataclass
class Made:
    """What a set-up made: the customer's card number, the names the customer might type,
    and the address a mail should go to."""

    card: str
    names: dict[str, str] = field(default_factory=dict)
    mail_to: str = ""
    patron: Patron | None = None


class World:
    def __init__(self, system, mailbox=None, *, patrons: int = 0) -> None:
        self.system = system
        self.mailbox = mailbox
        self.desk = Desk(system, HELPDESK)
        self.counter = Desk(system, DESK)
        self.manager = Desk(system, MANAGER)
        self.identity = Library(system.urls["identity"], demo_client(system, LIBRARY))
        self.patrons = Patrons(system, patrons) if patrons else None

    # customers
    def member(self, type_: str | None = "compleet", **customer) -> str:
        """A customer of the library with a running subscription of `type_` (None: none).
        A colleague or volunteer is inscribed by a manager (only a manager may)."""
        regular = customer.get("kind", "regular") == "regular"
        card = (self.desk if regular else self.manager).customer(**customer)
        if type_:
            self.desk.subscription(card, type_)
        return card

    def email_of(self, card: str) -> str:
        return self.desk.get(card)["email"]

    # login accounts
    def link_at_identity(self, card: str, patron: Patron) -> dict:
        """Link at identity as another library system would (rule L2: the patron agrees on
        the handover page), behind this library's back; the confirmation's answer. The
        library learns of it from identity's changes feed within seconds and then pushes the
        customer's data itself."""
        return self.identity.ok(
            self.identity.link_with_patron(card, patron.username, patron.password), 201
        )

    def link_by_library(self, card: str, patron: Patron) -> None:
        """Koppel inlogaccount through the library's REST API (rule L2: the patron agrees on
        identity's handover page), and wait for the rights push the link queues."""
        asked = self.desk.link(card, patron.username)["identity"]
        approve_handover(asked["handover_url"], patron.username, patron.password)
        self.desk.confirm_link(card, asked["request_id"])
        self.wait_for_push(card)

    def linked(self, card: str, *, recovery: str | None = "library", stale: bool = False) -> Patron:
        """Link a pool account to `card` through the library (which pushes the customer's
        data and rights; waited for); recovery "library" sets the library's address, None
        leaves none, anything else that address; stale: then another system pushes older
        data (identity's data is outdated, and stays so: the library has nothing new to
        push). Linked behind the library's back instead, the library's own push from the
        feed would overwrite that older data a few seconds later, at a random moment."""
        patron = self.patrons.take()
        self.link_by_library(card, patron)
        if recovery == "library":
            recovery = self.email_of(card)
        if recovery:
            self.recovery_address(card, recovery)
        if stale:
            self.push_stale(card)
        return patron

    def colleague_account(self, card: str) -> Patron:
        """A colleague's or volunteer's account, with the library's address for recovery:
        the library's menu refuses it (the colleague rule), so it is linked at identity."""
        patron = self.patrons.take()
        self.link_at_identity(card, patron)
        self.recovery_address(card, self.email_of(card))
        return patron

    def recovery_address(self, card: str, address: str) -> None:
        """The account's recovery address becomes `address`, the patron's own: set at the
        desk, and (with a mailbox) confirmed by the patron from the confirmation mail, as in
        the seed's desk case. A library's address on an account the patron activated stays
        unconfirmed until then (rule L3: no reset mail goes there for 24 hours)."""
        before = self.mailbox.count() if self.mailbox else 0
        answer = self.identity.ok(self.identity.recovery_email(card, address))
        if answer["result"] != "confirmation_sent" or self.mailbox is None:
            return
        mail = self.wait_for_mail(address, CONFIRM_ADDRESS_SUBJECT, after=before)
        link = mail.link("/e-mailadres-bevestigen/")
        with requests.Session() as phone:
            page = phone.get(link, timeout=TIMEOUT)
            assert page.status_code == 200, (link, page.status_code)
            done = phone.post(
                link,
                data={"csrfmiddlewaretoken": csrf_of(page.text)},
                headers={"Referer": link},
                timeout=TIMEOUT,
            )
        assert done.status_code == 200, (done.status_code, done.text[:400])

    def deactivate(self, patron: Patron) -> None:
        """An operator sets the account back to inactive in identity's admin (the account's
        password stays): an inactive account the patron can still type a password for."""
        self.system.identity_shell(
            "from bibid.identity.accounts.actors import Actor\n"
            "from bibid.identity.accounts.models import Account\n"
            "from bibid.identity.accounts.services import update_account\n"
            f"account = Account.objects.get(username={patron.username!r})\n"
            "account.state = Account.State.INACTIVE\n"
            "update_account(account=account, actor=Actor.system('test'), changed=['state'])\n"
        )

    def active_without_password(self, card: str, *, authorized: bool = True) -> None:
        """Generated by the library and activated at the desk: an active account nobody has
        chosen a password for yet (the activation mail is still unread)."""
        self.desk.generate(card)
        self.desk.activate(card)
        if authorized:
            self.desk.authorize(card)

    def patron_chooses_password(self, to: str, after: int) -> str:
        """The patron opens the newest password mail to `to` (a reset, or the mail to choose
        a first password) and chooses a new password there; returns it."""
        mail = self.mailbox.wait_for(to, "wachtwoord", timeout=60, after=after)
        identity = self.system.urls["identity"]
        link = next(
            url
            for url in re.findall(r"https?://[^\s\"'<>]+", mail.text)
            if url.startswith(identity)
        )
        password = f"Nieuw-en-lang-{uuid.uuid4().hex[:10]}"
        done = choose_password(link.rstrip(".,)"), password)
        assert done.status_code in (200, 302), (done.status_code, done.text[:400])
        return password

    def pushed_at(self, card: str) -> str | None:
        status = self.identity.ok(self.identity.status(card))
        return (status.get("authorization") or {}).get("authorized_at")

    def wait_for_push(self, card: str, *, after: str | None = None, timeout: float = 30) -> None:
        """Until a rights push the library queued (after generating, linking or changing a
        subscription) has reached identity (pushed later than `after`, if given): its task
        worker sends it within seconds, and a diagnosis before that rightly says the login
        service's data is outdated."""
        deadline = time.monotonic() + timeout
        while True:
            at = self.pushed_at(card)
            if at and (after is None or datetime.fromisoformat(at) > datetime.fromisoformat(after)):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no rights pushed for {card} within {timeout} s")
            time.sleep(0.3)

    def push_stale(self, card: str, *, end: str = "2025-03-31") -> None:
        """What an older subscription gave: compact rights until `end`."""
        self.identity.ok(
            self.identity.authorize(
                card,
                {
                    "customer": {
                        "name": "Oude gegevens",
                        "card_number": card,
                        "subscription_type": "Volwassen Compact",
                        "subscription_end": end,
                    },
                    "rights": [
                        {
                            "code": "ebooks",
                            "valid_until": end,
                            "limits": {"loans": 6, "period": "year"},
                        }
                    ],
                },
            )
        )

    # the sign-in page
    def wrong_password(self, username: str) -> None:
        """A wrong password on identity's sign-in page, from an address of its own."""
        identity = self.system.urls["identity"]
        with requests.Session() as browser:
            page = browser.get(f"{identity}/inloggen/", timeout=TIMEOUT)
            answer = browser.post(
                f"{identity}/inloggen/",
                allow_redirects=False,
                timeout=TIMEOUT,
                data={
                    "csrfmiddlewaretoken": csrf_of(page.text),
                    "username": username,
                    "password": "Niet-het-goede-wachtwoord",
                },
                headers={
                    "X-Forwarded-For": fresh_address(),
                    "Referer": f"{identity}/inloggen/",
                    "User-Agent": "bibid-e2e-helpdesk",
                },
            )
        # 200: the generic failure; 429 would mean the guard refused before the password
        # was checked (then nothing was counted as a wrong password).
        assert answer.status_code == 200, (answer.status_code, answer.headers.get("Retry-After"))

    def block(self, username: str, failures: int = 9) -> None:
        """Wrong passwords until the account lane blocks for a while (5 are free; each
        further one doubles the wait: after 9, 32 s). The services' clock moves past each
        wait instead of sleeping. Not back afterwards: the failures are stamped with the moved
        time, and a password chosen after them must come after them too (the helpdesk counts
        failures since then). Later modules that sign with real time use the services' clock
        instead (the system's clock file)."""
        for n in range(1, failures + 1):
            self.wrong_password(username)
            if n >= 5 and n < failures:
                self.system.move_clock(seconds=2 ** (n - 4) + 1)

    # the services' sign-in and the LOGOUT_DETECTED reports
    def browser_at(self, patron: Patron) -> requests.Session:
        browser = requests.Session()
        browser.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bibid-e2e Firefox/140.0"
        sign_in_at_identity(browser, self.system.urls["identity"], patron.username, patron.password)
        return browser

    def signed_in_at_mijn_menu(self, patron: Patron) -> requests.Session:
        browser = self.browser_at(patron)
        home = f"{self.system.urls['library']}/mijn/{LIBRARY}/"
        page = browser.get(home, timeout=TIMEOUT)
        assert page.status_code == 200 and page.url == home, (page.status_code, page.url)
        return browser

    def report_logout_detected(self, card: str, client_id: str = MIJN_MENU) -> None:
        """What Mijn Menu's worker sends when its session check finds the identity session
        gone without having been told (no back-channel logout): the browser's doing."""
        sub = self.identity.ok(self.identity.show(card))["account_id"]
        client = service_client(self.system, client_id)
        answer = requests.post(
            f"{self.system.urls['identity']}/o/service-events/",
            timeout=TIMEOUT,
            auth=(client["client_id"], client["client_secret"]),
            json={
                "sub": str(sub),
                "kind": "logout_detected",
                "details": {"reason": "session_check"},
                "browser": "Mozilla/5.0 (Windows NT 10.0) Chrome/99.0 AdBlock",
                "address": "192.0.2.17",
            },
        )
        assert answer.status_code == 202, answer.text

    def signed_in_at_reading(self, patron: Patron) -> requests.Session:
        browser = self.browser_at(patron)
        reading = self.system.urls["reading"]
        shelf = browser.get(f"{reading}/leenplank/", timeout=TIMEOUT)
        assert shelf.url == f"{reading}/leenplank/" and patron.username in shelf.text
        return browser

    def sign_out_under_the_online_bibliotheek(self, patron: Patron) -> None:
        """A real LOGOUT_DETECTED: signed in at the Online Bibliotheek, signed out at identity
        (another tab), back at the Online Bibliotheek, which notices and reports it."""
        reading = self.system.urls["reading"]
        identity = self.system.urls["identity"]
        browser = self.browser_at(patron)
        shelf = browser.get(f"{reading}/leenplank/", timeout=TIMEOUT)
        assert shelf.url == f"{reading}/leenplank/" and patron.username in shelf.text
        page = browser.get(f"{identity}/uitloggen/", timeout=TIMEOUT)
        out = browser.post(
            f"{identity}/uitloggen/",
            timeout=TIMEOUT,
            data={"csrfmiddlewaretoken": csrf_of(page.text)},
            headers={"Referer": f"{identity}/uitloggen/"},
        )
        assert out.status_code == 200, out.status_code
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            again = browser.get(f"{reading}/leenplank/", timeout=TIMEOUT)
            if again.url.startswith(f"{reading}/sessie-beeindigd/"):
                return
            time.sleep(0.5)
        raise AssertionError(f"the Online Bibliotheek did not notice the sign-out: {again.url}")

    def wait_for_event(self, card: str, kind: str, timeout: float = 60) -> dict:
        """The newest event of `kind` in the login history (services report through their
        task workers, so it may take a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.identity.ok(self.identity.history(card, params={"limit": 20}))
            found = [e for e in events["events"] if e["kind"] == kind]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} event for {card} within {timeout} s")
            time.sleep(0.5)

    def identity_now(self) -> Library:
        """A fresh token for identity's library API (after the clock moved a long way)."""
        return Library(self.system.urls["identity"], demo_client(self.system, LIBRARY))

    # the 24-hour purge and the changes feed
    def purge_after_a_day(self, *, follow: bool = True) -> None:
        """A day later, identity's purge deletes accounts that were never activated; then
        (`follow`) the library reads the changes feed (as its worker does every few
        seconds). Without it, identity's status answer alone tells the library."""
        self.system.move_clock(hours=25)
        try:
            self.system.bibid("purge-inactive", "--no-progress")
        finally:
            self.system.move_clock(hours=-25)
        if follow:
            self.follow_feed()

    def follow_feed(self) -> None:
        self.system.bibid(
            "library",
            "shell",
            "-v",
            "0",
            "-c",
            "from bibid.library.loginaccounts import feed\n"
            "from bibid.library.tenants.models import Library\n"
            f"feed.follow(Library.objects.get(code={LIBRARY!r}))\n",
        )

    def wait_for_mail(self, to: str, subject: str, after: int = 0):
        return self.mailbox.wait_for(to, subject, timeout=60, after=after)


def days_ago(days: int) -> date:
    return date.today() - timedelta(days=days)
