"""The ten process flows (src/bibid/library/helpdesk/flows/*.yaml) walked against the running
system over real HTTP, so that what staff read to a customer cannot drift from what the code
does.

Each test performs a flow the way a patron (or, at the desk, a staff member) does, and at
each step says which node of the flow it is at (`Walk.at`, `Walk.answer`) and asserts what
that node says happens. At the end the nodes it went through must be exactly the path
`engine.walk(definition, {}, answers=...)` gives for the answers it chose. The definitions
are plain data (pyyaml and pydantic): this process loads them without Django.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import requests

from bibid.library.helpdesk import definitions, engine

from .harness import ROOT
from .oidc import TIMEOUT, csrf_of, library_api

PASSWORD = "Een-zin-vol-boeken-en-thee"
NEW_PASSWORD = "Een-andere-zin-vol-boeken"
LIBRARY = "aan-de-maas"
POLL = 150  # seconds: the library reads the changes feed once a minute
FAILURE = re.compile(r'<div class="alert" role="alert" id="login-error".*?</div>', re.S)


# -- the walk --------------------------------------------------------------------------------


VISITED: dict[str, set[str]] = {}  # flow -> the nodes some test of this module walked


class Walk:
    """The nodes of one flow a test went through, and the answers it chose."""

    def __init__(self, flow_id: str) -> None:
        self.flow = definitions.get(flow_id)
        assert self.flow.kind == "flow"
        self.visited: list[str] = []
        self.answers: dict[str, str] = {}

    def node(self, name: str):
        assert name in self.flow.nodes, f"{self.flow.id} has no node {name!r}"
        return self.flow.nodes[name]

    def text(self, name: str) -> str:
        node = self.node(name)
        return f"{node.title} {node.text}"

    def at(self, name: str) -> None:
        assert self.node(name).kind != "question", f"{name} is a question: answer it"
        self.visited.append(name)

    def answer(self, name: str, label: str) -> None:
        node = self.node(name)
        assert node.kind == "question", name
        assert label in [a.label for a in node.answers], (name, label)
        self.visited.append(name)
        self.answers[name] = label

    def done(self) -> list[engine.PathStep]:
        path = engine.walk(self.flow, {}, answers=self.answers)
        assert [step.node for step in path] == self.visited, (
            f"{self.flow.id}: the test went {self.visited}, the definition says "
            f"{[step.node for step in path]}")
        assert path[-1].kind == "end"
        VISITED.setdefault(self.flow.id, set()).update(self.visited)
        return path


def test_the_definitions_load_without_django():
    code = ("import sys\n"
            "from bibid.library.helpdesk import definitions, engine\n"
            "assert len([d for d in definitions.all_definitions().values()"
            " if d.kind == 'flow']) == 10\n"
            "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


# -- helpers: browsers, pages, the system's state -------------------------------------------


def eventually(check: Callable[[], Any], what: str, timeout: float = POLL) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.5)


def browser() -> requests.Session:
    """A browser of its own, from an address of its own (so guessing lanes are not shared)."""
    http = requests.Session()
    http.headers["X-Forwarded-For"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    return http


def submit(http: requests.Session, page_url: str, data: dict, *, action: str | None = None,
           follow: bool = True) -> requests.Response:
    """Fill in the form of the page at page_url and send it, as a browser does."""
    page = http.get(page_url, timeout=TIMEOUT)
    assert page.status_code == 200, (page_url, page.status_code)
    return http.post(action or page_url, data={"csrfmiddlewaretoken": csrf_of(page.text), **data},
                     headers={"Referer": page_url}, timeout=TIMEOUT, allow_redirects=follow)


def h1(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip() if found else ""


def main(html: str) -> str:
    found = re.search(r"<main.*?</main>", html, re.S)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", found.group(0) if found
                  else html)


def errors(html: str) -> str:
    """The error messages shown at the form's fields."""
    return " ".join(re.findall(r'<p class="field-error"[^>]*>([^<]*)</p>', html))


def fresh(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def shell_json(system, code: str) -> Any:
    """Run code in the identity service's context (operator tooling) and read `result`."""
    out = system.identity_shell(code + "\nimport json as _json\n"
                                       "print('@@' + _json.dumps(result, default=str))\n")
    return json.loads(out.rsplit("@@", 1)[1])


def library_shell_json(system, code: str) -> Any:
    out = system.bibid("library", "shell", "-v", "0", "-c",
                       code + "\nimport json as _json\n"
                              "print('@@' + _json.dumps(result, default=str))\n")
    return json.loads(out.rsplit("@@", 1)[1])


def make_patron(system, *, password: str | None = PASSWORD, active: bool = True,
                confirmed: bool = True, link: bool = True) -> tuple[str, str, str]:
    """A login account with a recovery address; linked at LIBRARY under a customer reference
    of its own (the reference is a card number the patron may sign in with).
    Returns (username, address, reference)."""
    username = fresh("flow")
    address = f"{username}@example.org"
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.actors import Actor\n"
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.accounts.services import create_account\n"
        f"create_account(username={username!r}, password={password!r}, active={active!r},"
        f" recovery_email={address!r}, actor=Actor.system('test'))\n"
        f"if {confirmed!r}:\n"
        f"    Account.objects.filter(username={username!r})"
        ".update(recovery_email_confirmed_at=clock.now())\n")
    ref = f"t{uuid.uuid4().hex[:12]}"
    if link:
        answer = library_api(system, LIBRARY).link(ref, username)
        assert answer.status_code == 201, answer.text
    return username, address, ref


def sign_in(system, http: requests.Session, name: str, password: str) -> requests.Response:
    return submit(http, f"{system.urls['identity']}/inloggen/",
                  {"username": name, "password": password}, follow=False)


def signed_in(system, http: requests.Session) -> bool:
    answer = http.get(f"{system.urls['identity']}/", timeout=TIMEOUT, allow_redirects=False)
    return answer.status_code == 200


def can_sign_in(system, name: str, password: str) -> bool:
    return sign_in(system, browser(), name, password).status_code == 302


def login_event(system, typed: str) -> dict | None:
    """The newest sign-in attempt with this typed name, as the helpdesk's log has it."""
    return shell_json(system, (
        "from bibid.identity.signin.models import LoginEvent\n"
        f"e = LoginEvent.objects.filter(username={typed!r}, kind='login')"
        ".order_by('-at', '-id').first()\n"
        "result = e and {'reason': e.reason, 'outcome': e.outcome, 'account': e.account_id}\n"))


def handled_request(system, typed: str) -> dict:
    """The newest forgot-password/username request for what was typed, once the task worker
    has handled it: whether a mail was queued."""
    code = (
        "from bibid.identity.selfservice.models import SelfServiceRequest\n"
        f"r = SelfServiceRequest.objects.filter(typed={typed!r}).order_by('-pk').first()\n"
        "result = r and r.handled_at and {'mail_queued': r.mail_queued,"
        " 'account': r.account_id}\n")
    return eventually(lambda: shell_json(system, code), f"the request for {typed} handled", 90)


def mails(mailbox, to: str, subject: str, after: int) -> int:
    with mailbox.lock:
        return len([m for m in mailbox.messages[after:] if to.lower() in
                    (r.lower() for r in m.to) and subject.lower() in m.subject.lower()])


def no_mail(mailbox, to: str, subject: str, after: int, wait: float = 5) -> bool:
    time.sleep(wait)  # the task worker sends the outbox at once; give it a moment
    return mails(mailbox, to, subject, after) == 0


def account_of(system, ref: str) -> dict:
    answer = library_api(system, LIBRARY).show(ref)
    assert answer.status_code == 200, answer.text
    return answer.json()


def history(system, ref: str) -> list[dict]:
    answer = library_api(system, LIBRARY).history(ref, params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def service_sign_in(system, http: requests.Session, service: str) -> str:
    """Sign in at a service through identity (already signed in there): the URL it lands on."""
    if service == "reading":
        start, home = f"{system.urls['reading']}/inloggen/?next=/leenplank/", "/leenplank/"
    else:
        start = f"{system.urls['library']}/mijn/{LIBRARY}/inloggen/?next=/mijn/{LIBRARY}/"
        home = f"/mijn/{LIBRARY}/"
    answer = http.get(start, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.url.endswith(home), (answer.url, answer.text[:300])
    return answer.url


def service_state(http: requests.Session, url: str) -> str:
    """signed_in, logout_detected (AUTHENTICATION.LOGOUT_DETECTED) or sign_in."""
    answer = http.get(url, timeout=TIMEOUT, allow_redirects=False)
    if answer.status_code == 200:
        return "signed_in"
    assert answer.status_code == 302, answer.status_code
    return "logout_detected" if "/sessie-beeindigd/" in answer.headers["Location"] else "sign_in"


def deliveries(system, username: str) -> list[dict]:
    """The back-channel logout deliveries to the services about this patron."""
    return shell_json(system, (
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.oidc.models import LogoutDelivery\n"
        f"a = Account.objects.get(username={username!r})\n"
        "result = list(LogoutDelivery.objects.filter(sub=str(a.public_id))"
        ".values('client_id', 'delivered_at', 'attempts'))\n"))


def staff(system, username: str = "balie.maas") -> dict:
    return next(s for s in system.demo["staff"] if s["username"] == username)


def library_rest(system, method: str, path: str, body: dict | None = None) -> requests.Response:
    """The library service's own REST API, as a staff member's tool uses it."""
    return requests.request(method, f"{system.urls['library']}/api/v1{path}", json=body,
                            headers={"Authorization": f"Bearer {staff(system)['api_token']}"},
                            timeout=TIMEOUT)


def library_customer(system, card: str) -> dict:
    answer = library_rest(system, "GET", f"/customers/{card}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def member_with_account(system, *, subscription: str | None = "compact") -> tuple[str, str, str]:
    """A customer of the library service (with a subscription) whose login account is linked
    by staff ("Koppel inlogaccount"). Returns (username, address, card number)."""
    username, address, _ref = make_patron(system, link=False)
    created = library_rest(system, "POST", "/customers", {
        "name": f"Lid {username}", "birth_date": "1980-04-05", "email": address})
    assert created.status_code == 201, created.text
    card = created.json()["card_number"]
    if subscription:
        sold = library_rest(system, "POST", "/subscriptions",
                            {"card_number": card, "type": subscription})
        assert sold.status_code == 201, sold.text
    linked = library_rest(system, "POST", f"/customers/{card}/login-account/link",
                          {"username": username})
    assert linked.status_code == 201, linked.text
    return username, address, card


def option(html: str, name: str, label: str) -> str:
    """The value of the radio button or select option of `name` whose label starts so."""
    choices = re.findall(r'<option value="([^"]+)"[^>]*>\s*([^<]+)</option>', html)
    for value, id_ in re.findall(rf'name="{name}" value="([^"]+)" id="([^"]+)"', html):
        found = re.search(rf'<label for="{id_}">([^<]+)</label>', html)
        choices.append((value, found.group(1) if found else ""))
    for value, text in choices:
        if text.strip().startswith(label):
            return value
    raise AssertionError(f"no {name} option {label!r} in {choices}")


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


# == 1. Inloggen ============================================================================


def login_attempt(system, walk: Walk, http, name: str, password: str) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("open_form")
    page = http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    assert page.status_code == 200 and "Gebruikersnaam of pasnummer" in page.text
    walk.at("enter")
    return sign_in(system, http, name, password)


def assert_generic_failure(walk: Walk, answer: requests.Response) -> str:
    walk.at("failed")
    assert answer.status_code == 200
    alert = FAILURE.search(answer.text).group(0)
    assert "Onjuiste inlog" in alert and "Onjuiste inlog" in walk.text("failed")
    for link in ("Wachtwoord vergeten?", "Gebruikersnaam vergeten?", "Hulp bij inloggen"):
        assert link in answer.text
    return alert


def test_inloggen_with_the_card_number(system):
    walk, http = Walk("inloggen"), browser()
    username, _address, card = make_patron(system)
    answer = login_attempt(system, walk, http, card, PASSWORD)  # "of pasnummer"
    walk.answer("too_many", "nee")
    assert answer.status_code != 429
    walk.answer("account_exists", "ja")
    walk.answer("has_password", "ja")
    walk.answer("password_right", "ja")
    walk.answer("active", "ja")
    walk.at("signed_in")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    home = http.get(f"{system.urls['identity']}/", timeout=TIMEOUT)
    assert h1(home.text) == "Mijn inlogaccount" and username in home.text
    assert login_event(system, card)["reason"] == "ok"
    walk.at("solved")
    walk.done()


def test_inloggen_fails_the_same_way_for_every_reason(system):
    """Unknown name, no password yet, wrong password, inactive account: one message, and the
    real reason in the log the helpdesk reads."""
    alerts = {}
    cases = [
        ("reason_unknown", {"account_exists": "nee"}, None, "unknown_username"),
        ("reason_no_password", {"account_exists": "ja", "has_password": "nee"},
         {"password": None, "active": False}, "no_password"),
        ("reason_wrong_password", {"account_exists": "ja", "has_password": "ja",
                                   "password_right": "nee"}, {}, "wrong_password"),
        ("reason_inactive", {"account_exists": "ja", "has_password": "ja",
                             "password_right": "ja", "active": "nee"},
         {"active": False}, "inactive"),
    ]
    for reason_node, answers, patron, reason in cases:
        walk, http = Walk("inloggen"), browser()
        if patron is None:
            name, password = fresh("niemand"), PASSWORD
        else:
            name = make_patron(system, **patron)[0]
            password = "Niet-het-goede-wachtwoord" if reason == "wrong_password" else PASSWORD
        answer = login_attempt(system, walk, http, name, password)
        walk.answer("too_many", "nee")
        assert answer.status_code == 200
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at(reason_node)
        event = login_event(system, name)
        assert event["outcome"] == "failure" and event["reason"] == reason, event
        assert (event["account"] is None) == (reason == "unknown_username")
        alerts[reason] = assert_generic_failure(walk, answer)
        walk.at("not_signed_in")
        assert not signed_in(system, http)
        walk.done()
    assert len(set(alerts.values())) == 1, alerts  # the patron cannot tell them apart


def test_inloggen_too_many_attempts_means_waiting(system):
    walk, http = Walk("inloggen"), browser()
    username = make_patron(system)[0]
    # "Na 5 mislukte pogingen in een uur moet de klant steeds langer wachten: 2, 4, 8 ..."
    assert "Na 5 mislukte pogingen" in walk.text("too_many")
    identity = system.urls["identity"]
    token = csrf_of(http.get(f"{identity}/inloggen/", timeout=TIMEOUT).text)

    def attempt(password: str) -> requests.Response:
        return http.post(f"{identity}/inloggen/", timeout=TIMEOUT, allow_redirects=False,
                         data={"csrfmiddlewaretoken": token, "username": username,
                               "password": password})

    for _ in range(5):
        assert attempt("Fout-wachtwoord-123").status_code == 200
    walk.at("open_form")  # the form is open; the sixth attempt comes at once
    walk.at("enter")
    answer = attempt(PASSWORD)  # even the right password
    walk.answer("too_many", "ja")
    walk.at("wait")
    assert answer.status_code == 429, answer.status_code
    assert 1 <= int(answer.headers["Retry-After"]) <= 2  # the first wait: 2 seconds
    assert "Er is te vaak een verkeerd wachtwoord geprobeerd." in answer.text
    assert "Even wachten" in answer.text and "Onjuiste inlog" not in answer.text
    assert login_event(system, username)["reason"] == "throttled"
    walk.at("not_signed_in")
    walk.done()


# == 2. Wachtwoord vergeten =================================================================


def forgot_password(system, walk: Walk, http, name: str) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("open_form")
    login = http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    assert 'href="/wachtwoord-vergeten/"' in login.text
    walk.at("enter_name")
    answer = submit(http, f"{identity}/wachtwoord-vergeten/", {"name": name})
    walk.at("same_answer")
    assert answer.status_code == 200 and h1(answer.text) == "Kijk in je e-mail"
    assert "De link werkt 30 minuten." in answer.text and "30 minuten" in walk.text("same_answer")
    return answer


def test_wachtwoord_vergeten_and_a_new_password(system, mailbox):
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, ref = make_patron(system)
    elsewhere = browser()  # signed in on another device
    assert sign_in(system, elsewhere, username, PASSWORD).status_code == 302
    for _ in range(5):  # and somebody has been guessing: the patron must wait now
        assert sign_in(system, browser(), username, "Geraden-wachtwoord-1").status_code == 200
    assert account_of(system, ref)["block"]["failures"] == 5
    before = mailbox.count()
    forgot_password(system, walk, http, username.upper())
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "nieuw wachtwoord", after=before)
    assert "Deze link werkt 30 minuten en één keer." in mail.text
    assert "30 minuten" in walk.text("mail_sent")
    walk.at("open_link")
    link = mail.link("/wachtwoord-herstellen/")
    page = http.get(link, timeout=TIMEOUT)
    walk.answer("link_works", "ja")
    assert page.status_code == 200 and "Nieuw wachtwoord" in page.text
    walk.at("choose")
    done = submit(http, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    walk.at("saved")
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    assert account_of(system, ref)["block"] == {"failures": 0, "blocked_until": None}
    assert not signed_in(system, elsewhere)  # every session ended
    assert http.get(link, timeout=TIMEOUT).status_code == 410  # used
    walk.at("notice")
    mailbox.wait_for(address, "wachtwoord is gewijzigd", after=before)
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    assert not can_sign_in(system, username, PASSWORD)
    walk.at("solved")
    walk.done()


def test_wachtwoord_vergeten_unknown_name_same_answer_no_mail(system, mailbox):
    known = forgot_password(system, Walk("wachtwoord-vergeten"), browser(),
                            make_patron(system)[0])
    walk, http, name = Walk("wachtwoord-vergeten"), browser(), fresh("onbekend")
    answer = forgot_password(system, walk, http, name)
    assert main(answer.text) == main(known.text)  # nothing tells the two apart
    walk.answer("account_found", "nee")
    walk.at("no_mail")
    assert handled_request(system, name) == {"mail_queued": False, "account": None}
    walk.at("ask_library")
    walk.done()


def test_wachtwoord_vergeten_at_most_three_mails_an_hour(system, mailbox):
    username, address, _ref = make_patron(system)
    before = mailbox.count()
    for _ in range(3):
        submit(browser(), f"{system.urls['identity']}/wachtwoord-vergeten/", {"name": username})
        assert handled_request(system, username)["mail_queued"] is True
    walk = Walk("wachtwoord-vergeten")
    forgot_password(system, walk, browser(), username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "nee")
    assert "3 mails per uur" in walk.text("within_limit")
    walk.at("no_mail")
    assert handled_request(system, username)["mail_queued"] is False
    eventually(lambda: mails(mailbox, address, "nieuw wachtwoord", before) >= 3, "3 mails")
    time.sleep(5)
    assert mails(mailbox, address, "nieuw wachtwoord", before) == 3
    walk.at("ask_library")
    walk.done()


def test_wachtwoord_vergeten_link_dead_after_signing_in(system, mailbox):
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, _ref = make_patron(system)
    before = mailbox.count()
    forgot_password(system, walk, http, username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "nieuw wachtwoord", after=before)
    # The patron remembers the password after all, and signs in ("toch weer is ingelogd").
    assert "toch weer is ingelogd" in walk.text("link_works")
    assert can_sign_in(system, username, PASSWORD)
    walk.at("open_link")
    page = http.get(mail.link("/wachtwoord-herstellen/"), timeout=TIMEOUT)
    walk.answer("link_works", "nee")
    walk.at("link_dead")
    assert page.status_code == 410 and h1(page.text) == "Deze link werkt niet meer"
    assert "De link is al gebruikt, of er is intussen een nieuw wachtwoord gekozen." in page.text
    walk.at("ask_again")
    walk.done()


def test_wachtwoord_vergeten_activates_an_account_never_activated(system, mailbox):
    """The reset link reached the patron at the recovery address, as the activation link
    would have: choosing a password through it activates the account and confirms the
    address, and the library learns the account is active."""
    walk, http = Walk("wachtwoord-vergeten"), browser()
    username, address, ref = make_patron(system, password=None, active=False, confirmed=False)
    assert account_of(system, ref)["state"] == "inactive"
    before = mailbox.count()
    forgot_password(system, walk, http, username)
    walk.answer("account_found", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    link = mailbox.wait_for(address, "nieuw wachtwoord", after=before).link(
        "/wachtwoord-herstellen/")
    walk.at("open_link")
    assert http.get(link, timeout=TIMEOUT).status_code == 200
    walk.answer("link_works", "ja")
    walk.at("choose")
    done = submit(http, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    walk.at("saved")
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    assert "nu actief" in walk.text("saved")
    account = account_of(system, ref)
    assert account["state"] == "active" and account["recovery_email_confirmed"] is True
    walk.at("notice")
    mailbox.wait_for(address, "wachtwoord is gewijzigd", after=before)
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.at("solved")
    walk.done()
    # The library learns of it from its changes feed, as it does after the activation link.
    api = library_api(system, LIBRARY)
    changes, after = [], 0
    while True:
        page = api.changes(after)
        assert page.status_code == 200, page.text
        changes += page.json()["changes"]
        after = page.json()["next_after"]
        if not page.json()["more"]:
            break
    assert [c["kind"] for c in changes if c["customer_ref"] == ref] == ["account_activated"]


# == 3. Gebruikersnaam vergeten =============================================================


def forgot_username(system, walk: Walk, http, address: str) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("open_form")
    assert 'href="/gebruikersnaam-vergeten/"' in http.get(f"{identity}/inloggen/",
                                                          timeout=TIMEOUT).text
    walk.at("enter_email")
    answer = submit(http, f"{identity}/gebruikersnaam-vergeten/", {"email": address})
    walk.at("same_answer")
    assert answer.status_code == 200 and h1(answer.text) == "Kijk in je e-mail"
    return answer


def test_gebruikersnaam_vergeten_mails_every_name_then_three_an_hour(system, mailbox):
    username, address, _card = make_patron(system)
    other = fresh("tweede")  # a second account with the same confirmed address
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.actors import Actor\n"
        "from bibid.identity.accounts.services import create_account\n"
        f"a = create_account(username={other!r}, password={PASSWORD!r}, active=True,"
        f" recovery_email={address!r}, actor=Actor.system('test'))\n"
        "a.recovery_email_confirmed_at = clock.now()\n"
        "a.save(update_fields=['recovery_email_confirmed_at'])\n")
    walk, http = Walk("gebruikersnaam-vergeten"), browser()
    before = mailbox.count()
    known = forgot_username(system, walk, http, address.upper())
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "gebruikersnaam", after=before)
    assert username in mail.text and other in mail.text
    assert "Inloggen kan ook met je pasnummer." in mail.text
    walk.at("sign_in")
    assert can_sign_in(system, other, PASSWORD)
    walk.at("solved")
    walk.done()

    for _ in range(2):  # three in all this hour
        submit(browser(), f"{system.urls['identity']}/gebruikersnaam-vergeten/",
               {"email": address})
        assert handled_request(system, address)["mail_queued"] is True
    walk = Walk("gebruikersnaam-vergeten")
    answer = forgot_username(system, walk, browser(), address)
    assert main(answer.text) == main(known.text)
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "nee")
    walk.at("no_mail")
    assert handled_request(system, address)["mail_queued"] is False
    walk.at("ask_library")
    walk.done()


def test_gebruikersnaam_vergeten_unconfirmed_address_gets_no_mail(system, mailbox):
    """An address set by the library ("Reset herstel-e-mailadres") is not confirmed."""
    _username, address, ref = make_patron(system)
    reset = library_api(system, LIBRARY).recovery_email(ref, address)
    assert reset.status_code == 200, reset.text
    assert account_of(system, ref)["recovery_email_confirmed"] is False
    walk, http = Walk("gebruikersnaam-vergeten"), browser()
    before = mailbox.count()
    forgot_username(system, walk, http, address)
    walk.answer("address_known", "nee")
    assert "pas bevestigd na zo'n link" in walk.text("address_known")
    walk.at("no_mail")
    assert handled_request(system, address)["mail_queued"] is False
    assert no_mail(mailbox, address, "gebruikersnaam", after=before)
    walk.at("ask_library")
    walk.done()


def test_gebruikersnaam_vergeten_after_a_reset_link_confirmed_the_address(system, mailbox):
    """Staff reset the recovery address, the patron chose a password through the reset link
    sent there: the address is confirmed, so the username reminder reaches it."""
    username, address, ref = make_patron(system)
    assert library_api(system, LIBRARY).recovery_email(ref, address).status_code == 200
    assert account_of(system, ref)["recovery_email_confirmed"] is False
    before = mailbox.count()
    sent = library_api(system, LIBRARY).password_reset(ref)
    assert sent.status_code == 202 and sent.json()["result"] == "password_reset_queued", sent.text
    link = mailbox.wait_for(address, "nieuw wachtwoord", after=before).link(
        "/wachtwoord-herstellen/")
    done = submit(browser(), link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert h1(done.text) == "Je nieuwe wachtwoord is ingesteld"
    assert account_of(system, ref)["recovery_email_confirmed"] is True
    walk, http = Walk("gebruikersnaam-vergeten"), browser()
    before = mailbox.count()
    forgot_username(system, walk, http, address.upper())
    walk.answer("address_known", "ja")
    walk.answer("within_limit", "ja")
    walk.at("mail_sent")
    assert username in mailbox.wait_for(address, "gebruikersnaam", after=before).text
    walk.at("sign_in")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.at("solved")
    walk.done()


# == 4. Uitloggen ===========================================================================


def test_uitloggen_at_identity_ends_every_service(system):
    identity = system.urls["identity"]
    walk, http = Walk("uitloggen"), browser()
    username, _address, ref = make_patron(system)
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    reading = service_sign_in(system, http, "reading")
    mijn_menu = service_sign_in(system, http, "mijnmenu")
    walk.answer("where", "bij de inlogdienst")
    walk.at("confirm")
    ask = http.get(f"{identity}/uitloggen/", timeout=TIMEOUT)
    assert ask.status_code == 200 and "Je bent ingelogd als" in ask.text
    assert signed_in(system, http)  # opening the page signs nobody out
    out = submit(http, f"{identity}/uitloggen/", {}, follow=False)
    assert out.status_code == 302
    walk.at("identity_ends")
    assert not signed_in(system, http)
    assert [e["kind"] for e in history(system, ref)][:1] == ["logout"]
    walk.at("backchannel")
    sent = eventually(lambda: (d := deliveries(system, username)) and
                      all(x["delivered_at"] for x in d) and d, "back-channel logouts", 60)
    assert {d["client_id"] for d in sent} == {"online-bibliotheek", f"mijnmenu-{LIBRARY}"}
    walk.at("logged_out")
    page = http.get(identity + out.headers["Location"], timeout=TIMEOUT)
    assert h1(page.text) == "Je bent uitgelogd"
    walk.answer("other_open", "ja")
    walk.at("logout_detected")
    assert service_state(http, mijn_menu) == "logout_detected"  # told, not asked: at once
    assert service_state(http, reading) == "logout_detected"
    detected = http.get(f"{system.urls['library']}/mijn/{LIBRARY}/sessie-beeindigd/",
                        timeout=TIMEOUT)
    assert "AUTHENTICATION.LOGOUT_DETECTED" in detected.text
    assert "AUTHENTICATION.LOGOUT_DETECTED" in walk.text("logout_detected")
    # ... and the services report it to the login history the helpdesk reads.
    reports = eventually(lambda: [e for e in history(system, ref)
                                  if e["kind"] == "logout_detected"], "logout_detected reports")
    assert {r["details"]["reason"] for r in reports} == {"backchannel"}
    walk.at("solved")
    assert service_state(http, mijn_menu) == "sign_in"
    walk.done()


def test_uitloggen_at_a_service(system):
    identity, reading = system.urls["identity"], system.urls["reading"]
    walk, http = Walk("uitloggen"), browser()
    username, _address, _ref = make_patron(system)
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    shelf = service_sign_in(system, http, "reading")
    walk.answer("where", "bij een dienst")
    walk.at("service_forgets")
    out = submit(http, shelf, {}, action=f"{reading}/uitloggen/", follow=False)
    assert out.status_code == 302
    end_session = out.headers["Location"]
    assert end_session.startswith(f"{identity}/o/logout/?") and "id_token_hint=" in end_session
    assert service_state(http, shelf) == "sign_in"  # forgotten here at once
    walk.at("identity_ends")
    back = http.get(end_session, timeout=TIMEOUT, allow_redirects=False)  # no question asked
    assert back.status_code == 302 and back.headers["Location"].startswith(
        f"{reading}/uitgelogd/")
    assert not signed_in(system, http)
    walk.at("backchannel")
    eventually(lambda: (d := deliveries(system, username)) and
               all(x["delivered_at"] for x in d), "back-channel logout", 60)
    walk.at("logged_out")
    page = http.get(back.headers["Location"], timeout=TIMEOUT)
    assert h1(page.text) == "Je bent uitgelogd"
    assert ("Je bent uitgelogd bij Online Bibliotheek, bij de inlogdienst en bij de andere "
            "diensten van de bibliotheek in deze browser.") in page.text
    walk.answer("other_open", "nee")
    walk.at("solved")
    walk.done()


# == 5. Self-service lid worden =============================================================


def card_of(system, username: str) -> str:
    return library_shell_json(system, (
        "from bibid.library.customers.models import Customer\n"
        f"result = Customer.objects.get(account_username={username!r}).card_number\n"))


def sign_up(system, walk: Walk, http, *, username: str, address: str, type_label: str,
            birth_date: str = "1984-02-03") -> requests.Response:
    library = system.urls["library"]
    walk.at("choose_library")
    choose = http.get(f"{library}/aanmelden/", timeout=TIMEOUT)
    assert f'href="/aanmelden/{LIBRARY}/"' in choose.text
    walk.at("fill_form")
    form = http.get(f"{library}/aanmelden/{LIBRARY}/", timeout=TIMEOUT)
    return submit(http, f"{library}/aanmelden/{LIBRARY}/", {
        "name": f"Nieuw Lid {username}", "birth_date": birth_date, "email": address,
        "subscription_type": option(form.text, "subscription_type", type_label),
        "username": username, "terms": "on"})


def test_self_service_lid_worden_and_activate(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    username = fresh("aanmelder")
    address = f"{username}@example.org"
    before = mailbox.count()
    answer = sign_up(system, walk, http, username=username, address=address,
                     type_label="Volwassen Compact")
    walk.answer("accepted", "ja")
    walk.at("created")
    card = card_of(system, username)
    customer = library_customer(system, card)
    assert customer["subscription"]["state"] == "pending"
    assert customer["login_account"] == {"linked": True, "username": username, "visible": True}
    account = account_of(system, card)
    assert account["state"] == "inactive" and account["recovery_email"] == address
    walk.answer("name_taken", "nee")
    walk.at("sent_page")
    assert h1(answer.text) == "Bijna klaar: kijk in je e-mail"
    assert "Activeer je inlogaccount binnen 24 uur." in answer.text
    walk.at("mail_sent")
    mail = mailbox.wait_for(address, "Activeer", after=before)
    assert username in mail.text and "Deze link werkt 24 uur en één keer." in mail.text
    assert "24 uur" in walk.text("mail_sent")
    walk.answer("activated_in_time", "ja")
    walk.at("choose_password")
    link = mail.link("/activeren/")
    done = submit(http, link, {"password": PASSWORD, "password_again": PASSWORD})
    walk.at("active")
    assert h1(done.text) == "Je inlogaccount is klaar"
    assert account_of(system, card)["state"] == "active"
    assert account_of(system, card)["recovery_email_confirmed"] is True
    assert can_sign_in(system, username, PASSWORD)
    walk.at("subscription_runs")
    eventually(lambda: library_customer(system, card)["subscription"]["state"] == "active",
               "the subscription runs")
    rights = eventually(lambda: library_api(system, LIBRARY).rights(card).json().get("rights"),
                        "the rights pushed")
    assert {r["code"] for r in rights} == {"ebooks", "audiobooks"}
    walk.at("solved")
    walk.done()


def test_self_service_lid_worden_name_taken_then_purged(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    address = f"{fresh('bezet')}@example.org"
    before = mailbox.count()
    answer = sign_up(system, walk, http, username="anna.jansen", address=address,
                     type_label="Volwassen Compleet")
    walk.answer("accepted", "ja")
    walk.at("created")
    walk.answer("name_taken", "ja")
    walk.at("card_number_name")
    mail = mailbox.wait_for(address, "Activeer", after=before)
    card = re.search(r"Je gebruikersnaam is: (\S+)", mail.text).group(1)
    assert library_customer(system, card)["login_account"]["username"] == card
    walk.at("sent_page")
    assert h1(answer.text) == "Bijna klaar: kijk in je e-mail"  # the same answer
    walk.at("mail_sent")
    walk.answer("activated_in_time", "nee")
    walk.at("purged")
    system.move_clock(hours=25)
    try:
        system.bibid("purge-inactive", "--no-progress")
        assert library_api(system, LIBRARY).show(card).status_code == 404
        dead = http.get(mail.link("/activeren/"), timeout=TIMEOUT)
        assert h1(dead.text) == "Deze link werkt niet meer"
    finally:
        system.move_clock(hours=-25)
    walk.at("lapsed")
    customer = eventually(lambda: (c := library_customer(system, card))["subscription"]
                          ["state"] == "lapsed" and c, "the sign-up lapsed")
    assert customer["login_account"]["linked"] is False
    assert customer["name"].startswith("Nieuw Lid")  # the customer stays
    walk.at("start_again")
    walk.done()


def test_self_service_lid_worden_refused(system, mailbox):
    walk, http = Walk("self-service-lid-worden"), browser()
    username = fresh("tejong")
    answer = sign_up(system, walk, http, username=username, address=f"{username}@example.org",
                     type_label="Jeugd")
    walk.answer("accepted", "nee")
    walk.at("form_error")
    assert answer.status_code == 400
    assert "Dit abonnement past niet bij je leeftijd." in answer.text
    assert "Dit abonnement past niet bij je leeftijd." in walk.text("form_error")
    walk.at("not_member")
    assert library_shell_json(system, (
        "from bibid.library.customers.models import Customer\n"
        f"result = Customer.objects.filter(email='{username}@example.org').count()\n")) == 0
    walk.done()


# == 6-9. Mijn inlogaccount =================================================================


def settings_session(system, username: str) -> requests.Session:
    http = browser()
    assert sign_in(system, http, username, PASSWORD).status_code == 302
    return http


def not_recent(system, username: str) -> None:
    """The patron signed in longer than 15 minutes ago."""
    system.identity_shell(
        "from datetime import timedelta\n"
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={username!r})"
        ".update(last_login=clock.now() - timedelta(minutes=20))\n")


def status_message(html: str) -> str:
    found = re.search(r'role="status"[^>]*>(.*?)</', html, re.S)
    return found.group(1).strip() if found else ""


def test_self_service_wachtwoord_wijzigen(system, mailbox):
    identity = system.urls["identity"]
    walk = Walk("self-service-wachtwoord-wijzigen")
    username, address, _ref = make_patron(system)
    here, elsewhere = settings_session(system, username), settings_session(system, username)
    shelf_here = service_sign_in(system, here, "reading")
    shelf_elsewhere = service_sign_in(system, elsewhere, "reading")
    before = mailbox.count()
    walk.at("signed_in")
    assert 'href="/wachtwoord-wijzigen/"' in here.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("fill_form")
    answer = submit(here, f"{identity}/wachtwoord-wijzigen/", {
        "current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    walk.answer("current_right", "ja")
    walk.answer("new_fits", "ja")
    walk.at("saved")
    assert "Je wachtwoord is gewijzigd. Op andere apparaten ben je uitgelogd." in answer.text
    assert signed_in(system, here) and service_state(here, shelf_here) == "signed_in"
    assert not signed_in(system, elsewhere)
    eventually(lambda: service_state(elsewhere, shelf_elsewhere) == "logout_detected",
               "the other device's Online Bibliotheek signed out", 60)
    walk.at("notice")
    mailbox.wait_for(address, "wachtwoord is gewijzigd", after=before)
    walk.at("solved")
    assert can_sign_in(system, username, NEW_PASSWORD)
    walk.done()


def test_self_service_wachtwoord_wijzigen_refused(system):
    identity = system.urls["identity"]
    for answers, data, error, end_node in (
        ({"current_right": "nee"},
         {"current_password": "Niet-mijn-wachtwoord", "password": NEW_PASSWORD,
          "password_again": NEW_PASSWORD}, "Dit is niet je huidige wachtwoord.", "wrong_current"),
        ({"current_right": "ja", "new_fits": "nee"},
         {"current_password": PASSWORD, "password": "kort", "password_again": "kort"},
         "Een wachtwoord heeft minstens 8 tekens.", "weak"),
    ):
        walk = Walk("self-service-wachtwoord-wijzigen")
        username = make_patron(system)[0]
        http = settings_session(system, username)
        walk.at("signed_in")
        walk.answer("offered", "ja")
        walk.at("fill_form")
        answer = submit(http, f"{identity}/wachtwoord-wijzigen/", data)
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at(end_node)
        shown = errors(answer.text)
        assert answer.status_code == 400, answer.status_code
        assert error in shown, shown
        if end_node == "weak":
            assert "8 tekens" in walk.text("weak")
        walk.at("not_changed")
        assert can_sign_in(system, username, PASSWORD)
        walk.done()


def change_email(system, walk: Walk, http, new: str, **extra) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("signed_in")
    assert 'href="/e-mailadres-wijzigen/"' in http.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("fill_form")
    return submit(http, f"{identity}/e-mailadres-wijzigen/", {"email": new, **extra})


def test_self_service_emailadres_wijzigen(system, mailbox):
    identity = system.urls["identity"]
    walk = Walk("self-service-emailadres-wijzigen")
    username, address, ref = make_patron(system)
    http = settings_session(system, username)
    new = f"nieuw.{address}"
    before = mailbox.count()
    not_recent(system, username)  # signed in 20 minutes ago: the password again
    form = http.get(f"{identity}/e-mailadres-wijzigen/", timeout=TIMEOUT)
    assert 'name="current_password"' in form.text
    answer = change_email(system, walk, http, new, current_password=PASSWORD)
    walk.answer("recent", "nee")
    walk.answer("password_right", "ja")
    walk.at("link_sent")
    assert "Je herstel-e-mailadres verandert pas als je die link gebruikt." in answer.text
    confirm = mailbox.wait_for(new, "Bevestig", after=before)
    assert "De link werkt 24 uur en één keer." in confirm.text and "24 uur" in walk.text(
        "link_sent")
    assert account_of(system, ref)["recovery_email"] == address  # not yet
    walk.at("old_told")
    mailbox.wait_for(address, "wordt gewijzigd", after=before)
    walk.answer("link_works", "ja")
    walk.at("confirm")
    link = confirm.link("/e-mailadres-bevestigen/")
    page = http.get(link, timeout=TIMEOUT)
    assert page.status_code == 200 and "Ja, bevestig dit adres" in page.text
    assert account_of(system, ref)["recovery_email"] == address  # opening it changes nothing
    done = submit(http, link, {})
    walk.at("changed")
    assert h1(done.text) == "Je herstel-e-mailadres is bevestigd"
    account = account_of(system, ref)
    assert account["recovery_email"] == new and account["recovery_email_confirmed"] is True
    walk.at("old_notice")
    mailbox.wait_for(address, "is gewijzigd", after=before)
    walk.at("solved")
    walk.done()


def test_self_service_emailadres_wijzigen_needs_the_password_later(system, mailbox):
    walk = Walk("self-service-emailadres-wijzigen")
    username, address, ref = make_patron(system)
    http = settings_session(system, username)
    not_recent(system, username)
    form = http.get(f"{system.urls['identity']}/e-mailadres-wijzigen/", timeout=TIMEOUT)
    assert 'name="current_password"' in form.text
    answer = change_email(system, walk, http, f"ander.{address}",
                          current_password="Niet-mijn-wachtwoord")
    walk.answer("recent", "nee")
    walk.answer("password_right", "nee")
    walk.at("not_changed")
    assert answer.status_code == 400 and "Dit is niet je huidige wachtwoord." in answer.text
    assert account_of(system, ref)["recovery_email"] == address
    walk.done()


def test_self_service_emailadres_wijzigen_link_survives_a_sign_in_not_a_new_password(
        system, mailbox):
    walk = Walk("self-service-emailadres-wijzigen")
    username, address, ref = make_patron(system)
    http = settings_session(system, username)
    new = f"later.{address}"
    before = mailbox.count()
    form = http.get(f"{system.urls['identity']}/e-mailadres-wijzigen/", timeout=TIMEOUT)
    assert 'name="current_password"' not in form.text  # just signed in
    change_email(system, walk, http, new)
    walk.answer("recent", "ja")
    walk.at("link_sent")
    confirm = mailbox.wait_for(new, "Bevestig", after=before)
    link = confirm.link("/e-mailadres-bevestigen/")
    walk.at("old_told")
    mailbox.wait_for(address, "wordt gewijzigd", after=before)
    # Before clicking the link, the patron signs in again, on the phone: the link still works.
    assert "opnieuw inlogt" in walk.text("link_works")
    assert can_sign_in(system, username, PASSWORD)
    page = browser().get(link, timeout=TIMEOUT)
    assert page.status_code == 200 and "Ja, bevestig dit adres" in page.text
    # A new password does void it.
    changed = submit(http, f"{system.urls['identity']}/wachtwoord-wijzigen/", {
        "current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert changed.status_code == 200, changed.status_code
    assert "Na een nieuw wachtwoord werkt hij niet meer." in walk.text("link_works")
    walk.answer("link_works", "nee")
    walk.at("link_dead")
    page = browser().get(link, timeout=TIMEOUT)
    assert page.status_code == 410 and h1(page.text) == "Deze link werkt niet meer"
    walk.at("old_stays")
    assert account_of(system, ref)["recovery_email"] == address
    walk.done()


def change_username(system, walk: Walk, http, new: str, **extra) -> requests.Response:
    identity = system.urls["identity"]
    walk.at("signed_in")
    assert 'href="/gebruikersnaam-wijzigen/"' in http.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("fill_form")
    return submit(http, f"{identity}/gebruikersnaam-wijzigen/", {"username": new, **extra})


def test_self_service_gebruikersnaam_wijzigen(system, mailbox):
    walk = Walk("self-service-gebruikersnaam-wijzigen")
    username, address, card = member_with_account(system)
    http = settings_session(system, username)
    new = fresh("hernoemd")
    before = mailbox.count()
    answer = change_username(system, walk, http, new)
    walk.answer("recent", "ja")
    walk.answer("rules", "ja")
    walk.answer("free", "ja")
    walk.at("changed")
    assert f"Je gebruikersnaam is nu {new}." in answer.text
    assert signed_in(system, http)  # the sessions stay
    assert can_sign_in(system, new, PASSWORD) and can_sign_in(system, card, PASSWORD)
    assert not can_sign_in(system, username, PASSWORD)
    walk.at("libraries_told")
    eventually(lambda: library_customer(system, card)["login_account"]["username"] == new,
               "the library has the new username")
    walk.at("notice")
    mail = mailbox.wait_for(address, "gebruikersnaam is gewijzigd", after=before)
    assert username in mail.text and new in mail.text
    walk.at("solved")
    walk.done()


def test_self_service_gebruikersnaam_wijzigen_refused(system):
    cases = [  # (signed in recently?, password typed, new name, answers, end node, message)
        (False, PASSWORD, "anna.jansen",
         {"recent": "nee", "password_right": "ja", "rules": "ja", "free": "nee"}, "refused",
         "Deze gebruikersnaam is al in gebruik."),
        (True, None, "ab", {"recent": "ja", "rules": "nee"}, "refused", None),
        (False, "Niet-mijn-wachtwoord", fresh("nieuw"),
         {"recent": "nee", "password_right": "nee"}, "wrong_password",
         "Dit is niet je huidige wachtwoord."),
    ]
    for recent, password, new, answers, node, message in cases:
        walk = Walk("self-service-gebruikersnaam-wijzigen")
        username = make_patron(system)[0]
        http = settings_session(system, username)
        if not recent:
            not_recent(system, username)
        extra = {"current_password": password} if password else {}
        answer = change_username(system, walk, http, new, **extra)
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at(node)
        assert answer.status_code == 400, answer.status_code
        assert errors(answer.text) and (message or "") in errors(answer.text), errors(
            answer.text)
        walk.at("not_changed")
        assert can_sign_in(system, username, PASSWORD)
        walk.done()


def test_self_service_account_verwijderen(system, mailbox):
    identity = system.urls["identity"]
    walk = Walk("self-service-account-verwijderen")
    username, address, card = member_with_account(system)
    http = settings_session(system, username)
    shelf = service_sign_in(system, http, "reading")
    before = mailbox.count()
    walk.at("signed_in")
    assert 'href="/account-verwijderen/"' in http.get(f"{identity}/", timeout=TIMEOUT).text
    walk.answer("offered", "ja")
    walk.at("warning")
    page = http.get(f"{identity}/account-verwijderen/", timeout=TIMEOUT)
    assert "Je lidmaatschap bij de bibliotheek blijft wel bestaan" in page.text
    walk.at("fill_form")
    answer = submit(http, f"{identity}/account-verwijderen/",
                    {"current_password": PASSWORD, "understood": "on"})
    walk.answer("ticked", "ja")
    walk.answer("password_right", "ja")
    walk.at("deleted")
    assert h1(answer.text) == "Je inlogaccount is verwijderd"
    assert not can_sign_in(system, username, PASSWORD)
    assert not signed_in(system, http)
    eventually(lambda: service_state(http, shelf) != "signed_in",
               "signed out at the Online Bibliotheek", 60)
    walk.at("libraries_told")
    customer = eventually(lambda: (c := library_customer(system, card))["login_account"]
                          ["linked"] is False and c, "the library cleared the link")
    assert customer["subscription"]["state"] == "active"  # the membership stays
    walk.at("notice")
    mailbox.wait_for(address, "is verwijderd", after=before)
    walk.at("solved")
    walk.done()


def test_self_service_account_verwijderen_refused(system):
    identity = system.urls["identity"]
    for data, answers, message in (
        ({"current_password": PASSWORD}, {"ticked": "nee"}, "Vink aan dat je dit begrijpt."),
        ({"current_password": "Niet-mijn-wachtwoord", "understood": "on"},
         {"ticked": "ja", "password_right": "nee"}, "Dit is niet je huidige wachtwoord."),
    ):
        walk = Walk("self-service-account-verwijderen")
        username = make_patron(system)[0]
        http = settings_session(system, username)
        walk.at("signed_in")
        walk.answer("offered", "ja")
        walk.at("warning")
        walk.at("fill_form")
        answer = submit(http, f"{identity}/account-verwijderen/", data)
        for question, label in answers.items():
            walk.answer(question, label)
        walk.at("refused")
        assert answer.status_code == 400 and message in answer.text
        walk.at("not_deleted")
        assert can_sign_in(system, username, PASSWORD)
        walk.done()


SETTINGS_FLOWS = {  # flow definition -> (identity's flow name, page)
    "self-service-wachtwoord-wijzigen": ("password_change", "/wachtwoord-wijzigen/"),
    "self-service-emailadres-wijzigen": ("email_change", "/e-mailadres-wijzigen/"),
    "self-service-gebruikersnaam-wijzigen": ("username_change", "/gebruikersnaam-wijzigen/"),
    "self-service-account-verwijderen": ("account_delete", "/account-verwijderen/"),
}


def test_self_service_flows_a_library_does_not_offer(system):
    """A library may switch flows off for its own customers (domain.md)."""
    api = library_api(system, "duinstreek")
    before = api.call("GET", "/settings").json()["self_service_flows"]
    username, _address, ref = make_patron(system, link=False)
    assert api.link(ref, username).status_code == 201
    http = settings_session(system, username)
    identity = system.urls["identity"]
    try:
        off = api.call("PUT", "/settings", {"self_service_flows": [
            f for f in before if f not in {name for name, _page in SETTINGS_FLOWS.values()}]})
        assert off.status_code == 200, off.text
        home = http.get(f"{identity}/", timeout=TIMEOUT).text
        for flow_id, (_name, page) in SETTINGS_FLOWS.items():
            walk = Walk(flow_id)
            walk.at("signed_in")
            walk.answer("offered", "nee")
            assert f'href="{page}"' not in home
            walk.at("not_offered")
            assert http.get(identity + page, timeout=TIMEOUT).status_code == 404
            walk.done()
    finally:
        assert api.call("PUT", "/settings", {"self_service_flows": before}).status_code == 200


# == 10. Balie: lid worden ==================================================================


def staff_console(system) -> requests.Session:
    http, library = browser(), system.urls["library"]
    signed = submit(http, f"{library}/console/inloggen/", {
        "username": "balie.maas", "password": staff(system)["password"]}, follow=False)
    assert signed.status_code == 302, signed.text[:300]
    return http


def register(system, walk: Walk, http, *, name: str, email: str = "", type_label: str =
             "Volwassen Compact", birth_date: str = "1975-06-07", login: bool = True,
             username: str = "", activate_now: bool = False) -> requests.Response:
    url = f"{system.urls['library']}/console/lid-worden/"
    walk.at("open_form")
    page = http.get(url, timeout=TIMEOUT)
    assert page.status_code == 200 and "Gebruik inlogaccount" in page.text
    walk.at("fill_form")
    data = {**hidden_fields(page.text), "name": name, "birth_date": birth_date, "email": email,
            "phone": "", "subscription_type": option(page.text, "subscription_type", type_label),
            "start": "", "username": username}
    if login:
        data["login_account"] = "on"
    if activate_now:
        data["activate_now"] = "on"
    return http.post(url, data=data, headers={"Referer": url}, timeout=TIMEOUT)


def registered_card(answer: requests.Response) -> str:
    assert h1(answer.text) == "Ingeschreven", h1(answer.text)
    return re.search(r'data-testid="card-number">([^<]+)<', answer.text).group(1)


def test_balie_lid_worden_activated_at_the_desk(system, mailbox):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    address = f"{fresh('balie')}@example.org"
    before = mailbox.count()
    answer = register(system, walk, http, name="Balie Lid", email=address, activate_now=True)
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    assert library_customer(system, card)["subscription"]["state"] == "active"
    walk.answer("use_login", "ja")
    walk.answer("generated_ok", "ja")
    walk.at("generated")
    assert f"Inlogaccount {card} aangemaakt (nog niet actief)." in answer.text
    assert account_of(system, card)["has_password"] is False
    walk.answer("has_email", "ja")
    walk.at("activation_mail")
    assert f"De activeringsmail is onderweg naar {address}." in answer.text
    assert "24 uur" in mailbox.wait_for(address, "Activeer", after=before).text
    walk.answer("activate_now", "ja")
    walk.at("activated")
    assert "Het inlogaccount is geactiveerd en wordt niet meer verwijderd." in answer.text
    assert account_of(system, card)["state"] == "active"
    choose = mailbox.wait_for(address, "Kies een wachtwoord", after=before)
    assert "Deze link werkt 24 uur en één keer." in choose.text
    done = submit(browser(), choose.link("/activeren/"),
                  {"password": PASSWORD, "password_again": PASSWORD})
    assert h1(done.text) == "Je inlogaccount is klaar"
    walk.at("solved")
    assert can_sign_in(system, card, PASSWORD)
    eventually(lambda: library_api(system, LIBRARY).rights(card).json().get("rights"),
               "the rights pushed")
    walk.done()


def test_balie_lid_worden_without_e_mail_the_patron_must_activate(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    answer = register(system, walk, http, name="Zonder Mail")
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    walk.answer("use_login", "ja")
    walk.answer("generated_ok", "ja")
    walk.at("generated")
    walk.answer("has_email", "nee")
    walk.at("no_mail")
    assert "Er is geen e-mailadres: activeer het account aan de balie." in answer.text
    assert "activeer het account aan de balie" in walk.text("no_mail")
    walk.answer("activate_now", "nee")
    walk.at("patron_activates")
    account = account_of(system, card)
    assert account["state"] == "inactive" and not account["recovery_email"]
    walk.at("solved")
    walk.done()


def test_balie_lid_worden_without_login_account(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    answer = register(system, walk, http, name="Geen Account", login=False)
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    walk.answer("use_login", "nee")
    walk.at("no_login")
    assert "<h2>Inlogaccount</h2>" not in answer.text
    assert library_customer(system, card)["login_account"]["linked"] is False
    walk.at("member_only")
    walk.done()


def test_balie_lid_worden_username_taken(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    answer = register(system, walk, http, name="Bezette Naam", username="anna.jansen")
    walk.answer("accepted", "ja")
    walk.at("registered")
    card = registered_card(answer)
    walk.answer("use_login", "ja")
    walk.answer("generated_ok", "nee")
    walk.at("login_failed")
    assert "Deze gebruikersnaam is al in gebruik." in answer.text
    customer = library_customer(system, card)
    assert customer["subscription"]["state"] == "active"  # the membership is kept
    assert customer["login_account"]["linked"] is False
    walk.at("generate_later")
    walk.done()


def test_balie_lid_worden_refused(system):
    walk, http = Walk("balie-lid-worden"), staff_console(system)
    year = date.today().year - 40
    answer = register(system, walk, http, name="Te Oud", type_label="Jeugd",
                      birth_date=f"{year}-01-01")
    walk.answer("accepted", "nee")
    walk.at("form_error")
    assert answer.status_code == 400 and h1(answer.text) == "Lid worden aan de balie"
    assert "Te Oud is te oud voor Jeugd (tot 18 jaar)." in answer.text
    assert "te oud voor" in walk.text("form_error")
    walk.at("not_registered")
    walk.done()


# == every node walked ======================================================================


def test_every_node_of_every_flow_was_walked(request):
    """Run last: together the walks above went through every node of every flow, so a node
    added to a flow lies on a walked path and the walk there notices it."""
    here = sys.modules[__name__]
    ran = {item.originalname for item in request.session.items if item.module is here}
    tests = {name for name in vars(here) if name.startswith("test_")}
    if ran != tests:
        pytest.skip("only when every test of this module runs")
    if request.session.testsfailed:
        pytest.skip("a walk failed")
    flows = {d.id: d for d in definitions.all_definitions().values() if d.kind == "flow"}
    assert set(VISITED) == set(flows)
    for flow_id, flow in flows.items():
        assert VISITED[flow_id] == set(flow.nodes), (flow_id, set(flow.nodes) - VISITED[flow_id])
