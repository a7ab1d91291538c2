"""Identity hung (SIGSTOP, longer than the library's timeout) while staff make changes
(issue 13, faults 1 and 2), with real processes: nothing lost, nothing applied out of order,
no activation mail twice, and the staff member told the truth."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
import requests

from .harness import eventually, start_system, stop_system
from .library_api import Library, demo_client

TIMEOUT = 2  # the library's timeout for calls to identity, short for the test
TYPES = {"basis": "Basis (alleen lenen in de bibliotheek)", "compact": "Volwassen Compact",
         "compleet": "Volwassen Compleet"}


@pytest.fixture(scope="module")
def system(tmp_path_factory, mailbox):
    running = start_system(tmp_path_factory.mktemp("bibid-hung"), workers=1, threads=4,
                           extra_env={"EMAIL_URL": mailbox.url,
                                      "BIBID_IDENTITY_TIMEOUT": str(TIMEOUT)})
    yield running
    stop_system(running)


class Staff:
    """The library's REST API as a staff app uses it (the desk's token)."""

    def __init__(self, system) -> None:
        staff = next(s for s in system.demo["staff"] if s["username"] == "balie.maas")
        self.base = system.urls["library"] + "/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {staff['api_token']}"

    def send(self, method: str, path: str, body=None) -> requests.Response:
        return self.http.request(method, self.base + path, json=body, timeout=30)

    def new_customer(self, type_code: str = "compleet") -> tuple[str, int, str]:
        email = f"klant.{uuid.uuid4().hex[:10]}@example.org"
        made = self.send("POST", "/customers", {"name": f"Klant {email[6:12]}",
                                                "birth_date": "1980-01-01", "email": email})
        assert made.status_code == 201, made.text
        card = made.json()["card_number"]
        sub = self.send("POST", "/subscriptions", {"card_number": card, "type": type_code})
        assert sub.status_code == 201, sub.text
        return card, sub.json()["id"], email

    def customer(self, card: str) -> dict:
        return self.send("GET", f"/customers/{card}").json()


def _settled(login_account: dict) -> bool:
    return login_account["linked"] and not login_account["unconfirmed"]


def _identity_web_pids(system) -> list[int]:
    """The identity service's gunicorn master and its workers."""
    return [pid for pid, (_ppid, cmd) in system.processes().items()
            if "bibid.identity.wsgi" in cmd]


def _held_at_identity(system, card: str) -> dict:
    """What identity holds for this customer, asked as the library's API client would."""
    identity = Library(system.urls["identity"], demo_client(system, "aan-de-maas"))
    return identity.status(card).json()


def test_a_hung_identity_loses_nothing_orders_pushes_and_tells_the_truth(system, mailbox):
    staff = Staff(system)
    linked = []
    for _ in range(4):
        card, subscription, email = staff.new_customer("compleet")
        done = staff.send("POST", f"/customers/{card}/login-account", {})
        assert done.status_code == 201, done.text
        linked.append((card, subscription))
    fresh = [staff.new_customer("compleet") for _ in range(2)]
    eventually(lambda: all(_held_at_identity(system, card)["authorization"]
                           for card, _s in linked), "the first pushes arrive", timeout=90)

    pids = _identity_web_pids(system)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Two changes in a row per customer while identity hangs: the first push times out
        # at the library but sits in identity's queue; the second must win whatever the order.
        for _card, subscription in linked:
            for type_code in ("compact", "basis"):
                changed = staff.send("PATCH", f"/subscriptions/{subscription}",
                                     {"type": type_code})
                assert changed.status_code == 200, changed.text
            time.sleep(0.5)
        # Generating an account now: sent, no answer in time. Not "nothing changed".
        answers = [staff.send("POST", f"/customers/{card}/login-account", {})
                   for card, _sub, _email in fresh]
        for answer in answers:
            assert answer.status_code == 504, answer.text
            problem = answer.json()
            assert problem["code"] == "identity_unconfirmed"
            assert "niets gewijzigd" not in problem["detail"].lower()
        for card, _sub, _email in fresh:
            assert staff.customer(card)["login_account"]["unconfirmed"] == 1
        time.sleep(TIMEOUT * 2)  # more drains time out meanwhile
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    # Every customer ends with the newest subscription at identity ("basis": no rights).
    for card, _subscription in linked:
        eventually(lambda card=card: (_held_at_identity(system, card)["authorization"]
                                      ["customer"].get("subscription_type") == TYPES["basis"]),
                   f"identity holds the newest data of {card}", timeout=120)
        held = _held_at_identity(system, card)
        assert held["authorization"]["rights"] == []
    # The unconfirmed accounts were settled: made once, linked on both sides, one mail each.
    for card, _sub, email in fresh:
        # The changes feed or the settling replay, whichever comes first, links it; the
        # replay then settles the record (identity answers what it did the first time).
        eventually(lambda card=card: _settled(staff.customer(card)["login_account"]),
                   f"the library learns that {card} got its account", timeout=120)
        shown = staff.customer(card)["login_account"]
        held = _held_at_identity(system, card)
        assert held["linked"] and held["account"]["username"] == shown["username"]
        mailbox.wait_for(email, "")
    time.sleep(3)  # a second mail, if any, would have come by now (the outbox runs at once)
    for _card, _sub, email in fresh:
        to_them = [m for m in mailbox.messages if email in m.to]
        assert len(to_them) == 1, [m.subject for m in to_them]
    # Still true a while later: a late old push (if any was still queued) changed nothing.
    time.sleep(TIMEOUT)
    for card, _subscription in linked:
        assert _held_at_identity(system, card)["authorization"]["customer"][
            "subscription_type"] == TYPES["basis"]
