"""Helpers for the rogue-library tests: a library API client, victims of library A, the
patron's own moves over HTTP (sign-in, the handover page, links from mails) and what
identity holds about an account (read through the operators' shell, never changed there).

Nothing here weakens a check: each helper returns the raw answer, the tests assert."""

from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass

import requests

from .library_api import (  # noqa: F401 - the rogue-library modules import them from here
    _NO_BODY,
    LIBRARY_A,  # the victims' library, card prefix 2010
    LIBRARY_B,  # the rogue library, card prefix 3020
    PROBLEM,
    READ_WRITE,
    TIMEOUT,
    demo_client,
    fresh_address,
    on_handover_page,
)
from .library_api import Library as ApiLibrary

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# Subjects of the login service's mails (src/bibid/identity/mail/messages.py).
SUBJECT_LINK_CODE = "Je code om je inlogaccount te koppelen"
SUBJECT_LIBRARY_CHANGED_ADDRESS = "Een bibliotheek heeft je herstel-e-mailadres veranderd"
SUBJECT_CONFIRM_ADDRESS = "Bevestig je nieuwe e-mailadres"
SUBJECT_RESET = "Een nieuw wachtwoord voor je inlogaccount"
SUBJECT_LINKED = "Je inlogaccount is gekoppeld aan een bibliotheek"


def card(prefix: str) -> str:
    """A card number in a library's range that no demo customer has (demo: <prefix>0000NN)."""
    return f"{prefix}9{random.randrange(10**7):07d}"


def b_card() -> str:
    return card("3020")


def a_card() -> str:
    return card("2010")


class Library(ApiLibrary):
    """A library system calling identity's library API with its own client credentials,
    with headers of its own on every call (the acting staff member, say)."""

    def __init__(
        self, identity: str, client: dict, scope: str = READ_WRITE, headers: dict | None = None
    ) -> None:
        super().__init__(identity, client, scope)
        self.code = client["library"]
        self.name = client["name"]
        self.headers = headers or {}

    def call(self, method: str, path: str, body=_NO_BODY, *, headers=None, **kw):
        return super().call(method, path, body, headers={**self.headers, **(headers or {})}, **kw)

    def status(self, ref, username=None, **kw):
        params = {"username": username} if username is not None else None
        return self.call("GET", f"/customers/{ref}/status", params=params, **kw)


def describe(response: requests.Response) -> str:
    """What was sent and what came back, for assertion messages and the report."""
    request = response.request
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return (
        f"{request.method} {request.url} {body or ''} -> {response.status_code} "
        f"{response.text[:600]}"
    )


def ok(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, describe(response)
    return response.json()


def problem(response: requests.Response, status: int, code: str) -> dict:
    """An RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, describe(response)
    assert response.headers.get("Content-Type", "").split(";")[0] == PROBLEM, describe(response)
    body = response.json()
    assert body["code"] == code, describe(response)
    return body


# -- victims: patrons of library A --------------------------------------------------------


@dataclass(frozen=True)
class Victim:
    username: str
    password: str
    email: str  # the confirmed recovery address, the patron's own mailbox
    card: str  # the customer at library A (also a sign-in name)


def make_victims(system, keys: list[str]) -> dict[str, Victim]:
    """Active accounts with a password and a confirmed recovery address, each linked to a
    customer of library A (the state of a patron who activated the account long ago).
    One shell run for all of them."""
    tag = uuid.uuid4().hex[:6]
    victims = {
        key: Victim(
            username=f"victim.{key}.{tag}",
            password=f"Eigen-{key}-zin-{tag}-2026",
            email=f"victim.{key}.{tag}@patron.example",
            card=a_card(),
        )
        for key in keys
    }
    spec = [[v.username, v.password, v.email, v.card] for v in victims.values()]
    system.identity_shell(
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.actors import Actor\n"
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.accounts.services import create_account\n"
        "from bibid.identity.libraries.models import Library, Link\n"
        f"library = Library.objects.get(code={LIBRARY_A!r})\n"
        f"for name, password, email, card in {spec!r}:\n"
        "    a = create_account(username=name, password=password, active=True,\n"
        "                       recovery_email=email, actor=Actor.system('test'))\n"
        "    Account.objects.filter(pk=a.pk).update(recovery_email_confirmed_at=clock.now(),\n"
        "                                          recovery_email_set_by='patron')\n"
        "    Link.objects.create(library=library, customer_ref=card, card_number=card,\n"
        "                        account=a)\n"
    )
    return victims


FACTS = """
import json
from bibid.identity.accounts.models import Account
from bibid.identity.libraries.models import Link
from bibid.identity.libraries.selectors import library_actions
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.signin.models import LoginEvent
out = {}
for name in NAMES:
    a = Account.objects.filter(username=name).first()
    if a is None:
        out[name] = None
        continue
    out[name] = {
        "recovery_email": a.recovery_email,
        "confirmed": a.recovery_email_confirmed_at is not None,
        "previous": a.previous_recovery_email,
        "frozen": a.library_changes_frozen_at is not None,
        "links": sorted([l.library.code, l.customer_ref] for l in
                        Link.objects.filter(account=a).select_related("library")),
        "outbox": [[m.kind, m.to, (m.data or {}).get("notice", "")] for m in
                   OutboxMessage.objects.filter(account_id=a.pk).order_by("pk")],
        "actions": [[x["library_code"], x["role"], x["kind"], (x["data"] or {}).get("by", {})]
                    for x in library_actions(a, limit=200)],
        "wrong_passwords": LoginEvent.objects.filter(account_id=a.pk,
                                                     reason="wrong_password").count(),
    }
print("FACTS=" + json.dumps(out))
"""


def facts(system, *names: str) -> dict:
    """What identity holds about these accounts: recovery address (confirmed, previous),
    freeze, links, queued mails, library actions (library, role, kind), wrong passwords."""
    output = system.identity_shell(f"NAMES = {list(names)!r}\n" + FACTS)
    line = next(x for x in output.splitlines() if x.startswith("FACTS="))
    found = json.loads(line[len("FACTS=") :])
    return found if len(names) != 1 else found[names[0]]


# -- the patron's side, over HTTP ---------------------------------------------------------


def form_token(session: requests.Session, url: str) -> tuple[requests.Response, str]:
    page = session.get(url, timeout=TIMEOUT)
    found = CSRF.search(page.text)
    return page, (found.group(1) if found else "")


def sign_in(identity: str, username: str, password: str, address: str | None = None) -> int:
    """Post the real sign-in form; 302 is signed in, 200 the generic failure, 429 wait."""
    with requests.Session() as browser:
        _page, token = form_token(browser, f"{identity}/inloggen/")
        answer = browser.post(
            f"{identity}/inloggen/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={
                "X-Forwarded-For": address or fresh_address(),
                "User-Agent": "bibid-e2e-rogue-library",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
    return answer.status_code


def post_page(
    url: str, data: dict | None = None, address: str | None = None
) -> tuple[requests.Response, requests.Response]:
    """GET a page with a form, then POST it with its CSRF token: (get, post)."""
    with requests.Session() as browser:
        page, token = form_token(browser, url)
        answer = browser.post(
            url,
            data={"csrfmiddlewaretoken": token, **(data or {})},
            headers={"X-Forwarded-For": address or fresh_address()},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
    return page, answer


def link_via_handover(library: Library, victim: Victim, ref: str) -> dict:
    """The legitimate way: the library asks, the patron signs in on the handover page,
    the library completes the link without a code. Returns the linked account."""
    asked = ok(library.link(ref, victim.username), 202)
    done = on_handover_page(asked["handover_url"], victim.username, victim.password)
    assert done.status_code == 200, (done.status_code, done.text[:400])
    return ok(library.confirm(ref, asked["request_id"]), 201)["account"]
