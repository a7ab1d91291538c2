"""Faults with real processes (issue 13): identity hung (SIGSTOP, longer than the library's
timeout) while staff make changes, and kill -9 of everything during writes. Each asserts:
nothing lost, nothing applied out of order, no activation mail twice, and the staff member
told the truth. One system serves both (the crash test runs last: it restarts it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from .harness import ROOT, eventually, start_system, stop_system, wait_ready
from .library_api import Library, demo_client

TIMEOUT = 2  # the library's timeout for calls to identity, short for the test
TYPES = {
    "basis": "Basis (alleen lenen in de bibliotheek)",
    "compact": "Volwassen Compact",
    "compleet": "Volwassen Compleet",
}


@pytest.fixture(scope="module")
def system(tmp_path_factory, mailbox):
    running = start_system(
        tmp_path_factory.mktemp("bibid-hung"),
        workers=1,
        threads=4,
        extra_env={
            "EMAIL_URL": mailbox.url,
            "BIBID_IDENTITY_TIMEOUT": str(TIMEOUT),
            "BIBID_LIBRARY_POLL_SECONDS": "3",
        },
    )
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
        made = self.send(
            "POST",
            "/customers",
            {"name": f"Klant {email[6:12]}", "birth_date": "1980-01-01", "email": email},
        )
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
    return [pid for pid, (_ppid, cmd) in system.processes().items() if "bibid.identity.wsgi" in cmd]


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
    eventually(
        lambda: all(_held_at_identity(system, card)["authorization"] for card, _s in linked),
        "the first pushes arrive",
        timeout=90,
    )

    pids = _identity_web_pids(system)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Two changes in a row per customer while identity hangs: the first push times out
        # at the library but sits in identity's queue; the second must win whatever the order.
        for _card, subscription in linked:
            for type_code in ("compact", "basis"):
                changed = staff.send("PATCH", f"/subscriptions/{subscription}", {"type": type_code})
                assert changed.status_code == 200, changed.text
            time.sleep(0.5)
        # Generating an account now: sent, no answer in time. Not "nothing changed".
        answers = [
            staff.send("POST", f"/customers/{card}/login-account", {})
            for card, _sub, _email in fresh
        ]
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
        eventually(
            lambda card=card: (
                _held_at_identity(system, card)["authorization"]["customer"].get(
                    "subscription_type"
                )
                == TYPES["basis"]
            ),
            f"identity holds the newest data of {card}",
            timeout=120,
        )
        held = _held_at_identity(system, card)
        assert held["authorization"]["rights"] == []
    # The unconfirmed accounts were settled: made once, linked on both sides, one mail each.
    for card, _sub, email in fresh:
        # The changes feed or the settling replay, whichever comes first, links it; the
        # replay then settles the record (identity answers what it did the first time).
        eventually(
            lambda card=card: _settled(staff.customer(card)["login_account"]),
            f"the library learns that {card} got its account",
            timeout=120,
        )
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
        assert (
            _held_at_identity(system, card)["authorization"]["customer"]["subscription_type"]
            == TYPES["basis"]
        )


def _kill_everything(system) -> None:
    """kill -9 of `bibid up` and every process below it, at once (a power cut)."""
    victims = [system.process.pid, *system.processes()]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    system.process.wait(timeout=10)
    eventually(lambda: not any(_alive(pid) for pid in victims), "every process is gone", timeout=20)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _restart(system) -> None:
    log = system.log_path.open("a")
    system.process = subprocess.Popen(
        [sys.executable, "-m", "bibid", "up", "--workers", "1", "--threads", "4"],
        env=system.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_ready(system)


def test_kill_9_of_everything_during_writes_loses_nothing_acknowledged(system, mailbox):
    staff = Staff(system)
    card, subscription, _email = staff.new_customer("compleet")
    assert staff.send("POST", f"/customers/{card}/login-account", {}).status_code == 201
    acknowledged: dict[str, list] = {"customers": [], "generated": [], "types": []}
    stop = threading.Event()

    def write() -> None:
        # Staff keep working: new customers with an account, and changes of one
        # subscription; only answers that arrived count as acknowledged.
        writer = Staff(system)
        types = ["compact", "basis", "compleet"]
        n = 0
        while not stop.is_set():
            try:
                made = writer.send(
                    "POST",
                    "/customers",
                    {
                        "name": f"Crash {n}",
                        "birth_date": "1980-01-01",
                        "email": f"crash.{n}.{uuid.uuid4().hex[:6]}@example.org",
                    },
                )
                if made.status_code == 201:
                    acknowledged["customers"].append(made.json()["card_number"])
                    made_card = made.json()["card_number"]
                    sub = writer.send(
                        "POST", "/subscriptions", {"card_number": made_card, "type": "compleet"}
                    )
                    if (
                        sub.status_code == 201
                        and writer.send(
                            "POST", f"/customers/{made_card}/login-account", {}
                        ).status_code
                        == 201
                    ):
                        acknowledged["generated"].append(made_card)
                changed = writer.send(
                    "PATCH", f"/subscriptions/{subscription}", {"type": types[n % 3]}
                )
                if changed.status_code == 200:
                    acknowledged["types"].append(types[n % 3])
            except requests.RequestException:
                return  # the system is gone
            n += 1

    thread = threading.Thread(target=write)
    thread.start()
    eventually(lambda: len(acknowledged["generated"]) >= 3, "a few writes", timeout=60)
    _kill_everything(system)
    stop.set()
    thread.join(timeout=30)
    _restart(system)

    staff = Staff(system)
    for made in acknowledged["customers"]:
        assert staff.send("GET", f"/customers/{made}").status_code == 200, made
    for made in acknowledged["generated"]:
        assert staff.customer(made)["login_account"]["linked"], made
        assert _held_at_identity(system, made)["linked"], made
    # The last acknowledged change reaches identity after the restart (the push queue is
    # committed with the change, so it survived the crash).
    last = TYPES[acknowledged["types"][-1]]
    eventually(
        lambda: (
            _held_at_identity(system, card)["authorization"]["customer"].get("subscription_type")
            == last
        ),
        "the newest acknowledged change at identity",
        timeout=120,
    )
