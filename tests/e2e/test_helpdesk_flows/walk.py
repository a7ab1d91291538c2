"""The walk of a process flow (src/bibid/library/helpdesk/flows/*.yaml) against the running
system, and the helpers the flow tests share: browsers, pages, the system's state.

Each test performs a flow the way a patron (or, at the desk, a staff member) does, and at
each step says which node of the flow it is at (`Walk.at`, `Walk.answer`) and asserts what
that node says happens. At the end the nodes it went through must be exactly the path
`engine.walk(definition, {}, answers=...)` gives for the answers it chose. The definitions
are plain data (pyyaml and pydantic): this process loads them without setting Django up.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from bibid.library.helpdesk import definitions, engine

from .. import harness
from ..library_api import approve_handover, fresh_card
from ..oidc import TIMEOUT, csrf_of, library_api

PASSWORD = "Een-zin-vol-boeken-en-thee"
NEW_PASSWORD = "Een-andere-zin-vol-boeken"
LIBRARY = "aan-de-maas"
POLL = 150  # seconds: the library reads the changes feed once a minute
FAILURE = re.compile(r'<div class="alert" role="alert" id="login-error".*?</div>', re.S)


# -- the walk --------------------------------------------------------------------------------


VISITED: dict[str, set[str]] = {}  # flow -> the nodes some flow test walked


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
            f"{[step.node for step in path]}"
        )
        assert path[-1].kind == "end"
        VISITED.setdefault(self.flow.id, set()).update(self.visited)
        return path


# -- helpers: browsers, pages, the system's state -------------------------------------------


def eventually(check: Callable[[], Any], what: str, timeout: float = POLL) -> Any:
    return harness.eventually(check, what, timeout)


def browser() -> requests.Session:
    """A browser of its own, from an address of its own (so guessing lanes are not shared)."""
    http = requests.Session()
    http.headers["X-Forwarded-For"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    return http


def submit(
    http: requests.Session,
    page_url: str,
    data: dict,
    *,
    action: str | None = None,
    follow: bool = True,
) -> requests.Response:
    """Fill in the form of the page at page_url and send it, as a browser does."""
    page = http.get(page_url, timeout=TIMEOUT)
    assert page.status_code == 200, (page_url, page.status_code)
    return http.post(
        action or page_url,
        data={"csrfmiddlewaretoken": csrf_of(page.text), **data},
        headers={"Referer": page_url},
        timeout=TIMEOUT,
        allow_redirects=follow,
    )


def h1(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip() if found else ""


def main(html: str) -> str:
    found = re.search(r"<main.*?</main>", html, re.S)
    return re.sub(
        r'name="csrfmiddlewaretoken" value="[^"]*"', "", found.group(0) if found else html
    )


def errors(html: str) -> str:
    """The error messages shown at the form's fields."""
    return " ".join(re.findall(r'<p class="field-error"[^>]*>([^<]*)</p>', html))


def fresh(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def shell_json(system, code: str) -> Any:
    """Run code in the identity service's context (operator tooling) and read `result`."""
    out = system.identity_shell(
        code + "\nimport json as _json\nprint('@@' + _json.dumps(result, default=str))\n"
    )
    return json.loads(out.rsplit("@@", 1)[1])


def library_shell_json(system, code: str) -> Any:
    out = system.bibid(
        "library",
        "shell",
        "-v",
        "0",
        "-c",
        code + "\nimport json as _json\nprint('@@' + _json.dumps(result, default=str))\n",
    )
    return json.loads(out.rsplit("@@", 1)[1])


def make_patron(
    system,
    *,
    password: str | None = PASSWORD,
    active: bool = True,
    confirmed: bool = True,
    link: bool = True,
) -> tuple[str, str, str]:
    """A login account with a recovery address; linked at LIBRARY under a customer reference
    of its own: a card number in the library's range (rule L6), which the patron may sign in
    with. Returns (username, address, reference).

    An account the patron holds (active, with a password) is linked as a library must (rule
    L2): the library asks, the patron signs in on the handover page and agrees, the library
    confirms. One the patron never activated (no password) is the library's own: it
    generated it (rule L1). An inactive account with a password cannot sign in on the
    handover page, so it cannot be linked: ask for it with link=False."""
    username = fresh("flow")
    address = f"{username}@example.org"
    ref = fresh_card(LIBRARY)
    api = library_api(system, LIBRARY)
    confirm = (
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={username!r})"
        ".update(recovery_email_confirmed_at=clock.now())\n"
    )
    if link and not (active and password):
        assert not active and password is None, "the patron could not agree: link=False"
        made = api.generate(ref, {"username": username, "recovery_email": address})
        assert made.status_code == 201, made.text
        assert made.json()["account"]["state"] == "inactive", made.text
        if confirmed:
            system.identity_shell(confirm)
        return username, address, ref
    system.identity_shell(
        "from bibid.identity.accounts.actors import Actor\n"
        "from bibid.identity.accounts.services import create_account\n"
        f"create_account(username={username!r}, password={password!r}, active={active!r},"
        f" recovery_email={address!r}, actor=Actor.system('test'))\n"
        + (confirm if confirmed else "")
    )
    if link:
        answer = api.link_with_patron(ref, username, password)
        assert answer.status_code == 201, answer.text
    return username, address, ref


def sign_in(system, http: requests.Session, name: str, password: str) -> requests.Response:
    return submit(
        http,
        f"{system.urls['identity']}/inloggen/",
        {"username": name, "password": password},
        follow=False,
    )


def signed_in(system, http: requests.Session) -> bool:
    answer = http.get(f"{system.urls['identity']}/", timeout=TIMEOUT, allow_redirects=False)
    return answer.status_code == 200


def can_sign_in(system, name: str, password: str) -> bool:
    return sign_in(system, browser(), name, password).status_code == 302


def login_event(system, typed: str) -> dict | None:
    """The newest sign-in attempt with this typed name, as the helpdesk's log has it."""
    return shell_json(
        system,
        (
            "from bibid.identity.signin.models import LoginEvent\n"
            f"e = LoginEvent.objects.filter(username={typed!r}, kind='login')"
            ".order_by('-at', '-id').first()\n"
            "result = e and {'reason': e.reason, 'outcome': e.outcome, 'account': e.account_id}\n"
        ),
    )


def handled_request(system, typed: str) -> dict:
    """The newest forgot-password/username request for what was typed, once the task worker
    has handled it: whether a mail was queued."""
    code = (
        "from bibid.identity.selfservice.models import SelfServiceRequest\n"
        f"r = SelfServiceRequest.objects.filter(typed={typed!r}).order_by('-pk').first()\n"
        "result = r and r.handled_at and {'mail_queued': r.mail_queued,"
        " 'account': r.account_id}\n"
    )
    return eventually(lambda: shell_json(system, code), f"the request for {typed} handled", 90)


def mails(mailbox, to: str, subject: str, after: int) -> int:
    with mailbox.lock:
        return len(
            [
                m
                for m in mailbox.messages[after:]
                if to.lower() in (r.lower() for r in m.to) and subject.lower() in m.subject.lower()
            ]
        )


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
    return shell_json(
        system,
        (
            "from bibid.identity.accounts.models import Account\n"
            "from bibid.identity.oidc.models import LogoutDelivery\n"
            f"a = Account.objects.get(username={username!r})\n"
            "result = list(LogoutDelivery.objects.filter(sub=str(a.public_id))"
            ".values('client_id', 'delivered_at', 'attempts'))\n"
        ),
    )


def staff(system, username: str = "balie.maas") -> dict:
    return next(s for s in system.demo["staff"] if s["username"] == username)


def library_rest(system, method: str, path: str, body: dict | None = None) -> requests.Response:
    """The library service's own REST API, as a staff member's tool uses it."""
    return requests.request(
        method,
        f"{system.urls['library']}/api/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {staff(system)['api_token']}"},
        timeout=TIMEOUT,
    )


def library_customer(system, card: str) -> dict:
    answer = library_rest(system, "GET", f"/customers/{card}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def member_with_account(system, *, subscription: str | None = "compact") -> tuple[str, str, str]:
    """A customer of the library service (with a subscription) whose login account is linked
    by staff ("Koppel inlogaccount"). Returns (username, address, card number)."""
    username, address, _ref = make_patron(system, link=False)
    created = library_rest(
        system,
        "POST",
        "/customers",
        {"name": f"Lid {username}", "birth_date": "1980-04-05", "email": address},
    )
    assert created.status_code == 201, created.text
    card = created.json()["card_number"]
    if subscription:
        sold = library_rest(
            system, "POST", "/subscriptions", {"card_number": card, "type": subscription}
        )
        assert sold.status_code == 201, sold.text
    # Linking needs the patron (rule L2): the staff member asks, the patron signs in on the
    # handover page at the desk and agrees, the staff member confirms.
    asked = library_rest(
        system, "POST", f"/customers/{card}/login-account/link", {"username": username}
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["handover_url"].startswith(system.urls["identity"]), asked.text
    approve_handover(asked.json()["handover_url"], username, PASSWORD)
    linked = library_rest(
        system,
        "POST",
        f"/customers/{card}/login-account/link/confirm",
        {"request_id": asked.json()["request_id"]},
    )
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
