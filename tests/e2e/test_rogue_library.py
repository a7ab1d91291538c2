"""A rogue library, over real HTTP against the running system: library B (Bibliotheek
Duinstreek's API client) attacks patrons of library A (Bibliotheek aan de Maas).

Each test tries one attack or chain from the testers' findings (docs/security/threat-model.md)
and asserts that it is refused or needs the patron, and that nothing changed for the victim:
the old password still signs in, the recovery address is the same and confirmed, no link to
B, no reset mail. This module: linking (L2), the username oracle (L5), card numbers (L6), and
the staff second step (issue 17: a manager of B cannot reset or unblock it for staff of A).
The recovery address, unblock and acting role (L3, L4, acting headers) are in
test_rogue_library_recovery.py.

Victims are accounts of this module's own (tests/e2e/rogue.py: active, a password, a
confirmed recovery address, linked to a customer of A), so that other modules sharing the
system see the demo patrons as they were; demo patrons are only read or signed in to.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from .console_pages import staff_http
from .oidc import csrf_of
from .rogue import (
    LIBRARY_A,
    LIBRARY_B,
    SUBJECT_LINK_CODE,
    SUBJECT_LINKED,
    SUBJECT_RESET,
    TIMEOUT,
    Library,
    b_card,
    demo_client,
    describe,
    facts,
    make_victims,
    ok,
    on_handover_page,
    problem,
    sign_in,
)

ANNA = ("anna.jansen", "Lezen-in-de-zon-2026", "2010000001")  # A's patron, also B's 3020000001
NINA = ("nina.degroot", "Collega-met-leesbril", "2010000014")  # A's colleague
DIRK = "dirk.bakker"  # A's patron, blocked after 14 wrong passwords (demo)
ROGUE_ADDRESS = "rogue@duinstreek-medewerker.example"


@pytest.fixture(scope="module")
def identity(system) -> str:
    return system.urls["identity"]


@pytest.fixture(scope="module")
def lib_b(system, identity) -> Library:
    return Library(identity, demo_client(system, LIBRARY_B))


@pytest.fixture(scope="module")
def victims(system):
    return make_victims(system, ["a", "b", "c", "c2", "d"])


def assert_untouched(system, identity, victim, *, links=None) -> dict:
    """The victim's account as the patron left it; their password still signs in."""
    found = facts(system, victim.username)
    assert found["recovery_email"] == victim.email, found
    assert found["confirmed"] and found["previous"] == "" and not found["frozen"], found
    assert found["links"] == (links or [[LIBRARY_A, victim.card]]), found
    queued = [kind for kind, _to, _notice in found["outbox"]]
    assert "password_reset" not in queued and "email_change" not in queued, found
    assert not [
        m for m in found["outbox"] if m[2] in ("linked", "recovery_email_set_by_library")
    ], found
    assert sign_in(identity, victim.username, victim.password) == 302
    return found


# a) the takeover chain ---------------------------------------------------------------------


def test_takeover_chain_stops_at_the_link_request(system, identity, mailbox, lib_b, victims):
    """Testers: B creates a customer, links A's patron by username alone, sets the recovery
    address, sends a reset and signs in. Now the link needs the patron (L2), and without a
    link nothing else works (404 not_linked)."""
    victim, ref = victims["a"], b_card()
    asked = ok(lib_b.link(ref, victim.username), 202)
    assert asked["result"] == "confirmation_needed"
    request_id = asked["request_id"]
    problem(lib_b.confirm(ref, request_id), 409, "waiting_for_patron")

    # The code goes to the patron's confirmed address, never to the library.
    mail = mailbox.wait_for(victim.email, SUBJECT_LINK_CODE, timeout=60)
    assert "Bibliotheek Duinstreek" in mail.text
    real = re.search(r"^\s*(\d{6})\s*$", mail.text, re.M).group(1)
    assert real not in asked.values() and real not in str(asked)

    guesses = [f"{(int(real) + step) % 10**6:06d}" for step in (1, 2, 3, 4, 5)]
    for left, guess in zip((4, 3, 2, 1), guesses, strict=False):
        body = problem(lib_b.confirm(ref, request_id, guess), 400, "wrong_code")
        assert body["data"]["attempts_left"] == left, body
    problem(lib_b.confirm(ref, request_id, guesses[4]), 410, "link_request_expired")
    # Five wrong codes void the request: not even the right code links now.
    problem(lib_b.confirm(ref, request_id, real), 410, "link_request_expired")
    problem(lib_b.confirm(ref, request_id), 410, "link_request_expired")

    # The rest of the chain: nothing to act on.
    problem(lib_b.recovery_email(ref, ROGUE_ADDRESS), 404, "not_linked")
    problem(lib_b.password_reset(ref), 404, "not_linked")
    problem(lib_b.unblock(ref), 404, "not_linked")
    problem(lib_b.show(ref), 404, "not_linked")
    problem(lib_b.history(ref), 404, "not_linked")
    assert ok(lib_b.status(ref), 200)["linked"] is False

    assert_untouched(system, identity, victim)
    to_victim = [m.subject for m in list(mailbox.messages) if victim.email in m.to]
    assert SUBJECT_RESET not in to_victim and SUBJECT_LINKED not in to_victim, to_victim
    assert not [m for m in list(mailbox.messages) if ROGUE_ADDRESS in m.to]


def test_the_handover_page_needs_the_patrons_own_password(system, identity, lib_b, victims):
    """B's staff cannot agree on the patron's behalf: a wrong password on the handover page
    is the generic failure and the request stays waiting; the patron can decline."""
    victim, ref = victims["a"], b_card()
    asked = ok(lib_b.link(ref, victim.username), 202)
    wrong = on_handover_page(asked["handover_url"], victim.username, "Raden-is-niet-weten-1")
    assert wrong.status_code == 400, wrong.status_code
    assert "Onjuiste inlog" in wrong.text
    problem(lib_b.confirm(ref, asked["request_id"]), 409, "waiting_for_patron")
    # Signing in as another (B's own) account does not approve a request naming the victim.
    piet = on_handover_page(asked["handover_url"], "piet.hendriks", "Duinen-en-boeken-2026")
    assert piet.status_code == 409, piet.status_code
    problem(lib_b.confirm(ref, asked["request_id"]), 409, "waiting_for_patron")
    # The patron says no: the request is gone.
    with requests.Session() as browser:
        page = browser.get(asked["handover_url"], timeout=TIMEOUT)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        no = browser.post(
            asked["handover_url"],
            timeout=TIMEOUT,
            data={"csrfmiddlewaretoken": token, "action": "decline"},
        )
    assert no.status_code == 200
    problem(lib_b.confirm(ref, asked["request_id"]), 410, "link_request_expired")
    assert requests.get(asked["handover_url"], timeout=TIMEOUT).status_code == 410
    assert_untouched(system, identity, victim)


def test_a_colleague_of_library_a_is_no_easier_prey(system, identity, mailbox, lib_b):
    """Testers: the chain worked on A's colleagues too. Same rule, same refusals."""
    username, password, _card = NINA
    ref = b_card()
    asked = ok(lib_b.link(ref, username), 202)
    problem(lib_b.confirm(ref, asked["request_id"]), 409, "waiting_for_patron")
    body = problem(lib_b.confirm(ref, asked["request_id"], "000000"), 400, "wrong_code")
    assert body["data"]["attempts_left"] == 4
    problem(lib_b.recovery_email(ref, ROGUE_ADDRESS), 404, "not_linked")
    problem(lib_b.password_reset(ref), 404, "not_linked")
    found = facts(system, username)
    assert found["recovery_email"] == "nina.degroot@example.org" and found["confirmed"]
    assert [LIBRARY_B, ref] not in found["links"]
    assert sign_in(identity, username, password) == 302


# b) the link request is no username oracle ------------------------------------------------


def _same_shape(response: requests.Response) -> tuple:
    body = response.json()
    return (
        response.status_code,
        response.headers.get("Content-Type"),
        sorted(body),
        {k: v for k, v in body.items() if k not in ("request_id", "expires_at", "handover_url")},
        re.sub(r"/koppelen/[0-9a-f-]{36}/$", "/koppelen/<id>/", body["handover_url"]),
    )


def _page_shape(url: str) -> tuple[int, str]:
    page = requests.get(url, timeout=TIMEOUT)
    text = re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', r'\1""', page.text)
    text = re.sub(r"/koppelen/[0-9a-f-]{36}/", "/koppelen/<id>/", text)  # its own address
    return page.status_code, text


def test_link_request_answers_the_same_whether_or_not_the_name_exists(lib_b, victims):
    victim = victims["b"]
    names = [
        victim.username,
        f"niemand.{uuid.uuid4().hex[:8]}",
        victim.card,
        f"{victim.card}9",
        NINA[0],
        "x",
    ]
    answers = [lib_b.link(b_card(), name) for name in names]
    for answer in answers:
        assert answer.status_code == 202, describe(answer)
    shapes = [_same_shape(answer) for answer in answers]
    assert all(shape == shapes[0] for shape in shapes), shapes
    assert shapes[0][3] == {"result": "confirmation_needed"}
    # The handover page B can open looks the same too (it never names the account).
    pages = [_page_shape(answer.json()["handover_url"]) for answer in answers]
    assert all(page == pages[0] for page in pages)
    assert pages[0][0] == 200 and victims["b"].username not in pages[0][1]


# c) card numbers belong to a library ------------------------------------------------------


def _authorization(card_number: str | None) -> dict:
    customer = {"name": "Iemand van de Maas"}
    if card_number:
        customer["card_number"] = card_number
    return {
        "customer": customer,
        "rights": [{"code": "ebooks", "limits": {"loans": 10, "period": "concurrent"}}],
    }


def test_library_b_cannot_use_card_numbers_of_library_a(system, identity, lib_b, victims):
    username, password, anna_card = ANNA
    victim = victims["c"]
    for number in (anna_card, victim.card):
        problem(
            lib_b.generate(number, {"username": f"rogue.{uuid.uuid4().hex[:8]}"}),
            422,
            "card_number_not_in_range",
        )
        problem(lib_b.link(number, username), 422, "card_number_not_in_range")
        problem(lib_b.link(number, None), 422, "card_number_not_in_range")
        problem(lib_b.authorize(number, _authorization(None)), 422, "card_number_not_in_range")
        problem(
            lib_b.bulk([{"customer_ref": number, **_authorization(None)}]),
            422,
            "card_number_not_in_range",
        )
    # B's own linked customer, pushed with A's card number.
    ref = b_card()
    ok(lib_b.generate(ref, {"username": f"duin.{uuid.uuid4().hex[:8]}"}), 201)
    for number in (anna_card, victim.card):
        problem(lib_b.authorize(ref, _authorization(number)), 422, "card_number_not_in_range")
        problem(
            lib_b.bulk([{"customer_ref": ref, **_authorization(number)}]),
            422,
            "card_number_not_in_range",
        )
    assert ok(lib_b.authorize(ref, _authorization(ref)), 200)["result"] == "updated"
    # A's patrons still sign in with their card numbers (and with their usernames).
    assert sign_in(identity, anna_card, password) == 302
    assert sign_in(identity, victim.card, victim.password) == 302
    assert_untouched(system, identity, victim)


def test_library_b_cannot_take_a_card_number_of_library_a_as_username(
    system, identity, lib_b, victims
):
    victim, ref = victims["c2"], b_card()
    assert sign_in(identity, victim.card, victim.password) == 302  # before
    answer = lib_b.generate(ref, {"username": victim.card, "recovery_email": ROGUE_ADDRESS})
    try:
        after = sign_in(identity, victim.card, victim.password)
    finally:
        if answer.status_code == 201:  # give the other modules their system back
            system.identity_shell(
                "from bibid.identity.accounts.models import Account\n"
                f"Account.objects.filter(username={victim.card!r}).delete()\n"
            )
    assert answer.status_code in (400, 409, 422) and after == 302, (
        f"{describe(answer)}; then A's patron signs in with the card number -> {after}"
    )


# d) the username oracle -------------------------------------------------------------------


NOTHING = {
    "exists": None,
    "is_linked_account": False,
    "linked_here_to": None,
    "username_of_account": None,
    "state": None,
    "failures_today": None,
}


def test_status_tells_library_b_nothing_about_accounts_not_linked_to_it(lib_b, victims):
    victim = victims["d"]
    names = [
        victim.username,
        DIRK,
        NINA[0],
        NINA[2],
        victim.card,
        f"niemand.{uuid.uuid4().hex[:8]}",
        "admin",
        "beheer",
    ]
    for ref in (b_card(), "3020000002"):  # a customer without a link; one linked (Piet)
        answers = {name: ok(lib_b.status(ref, name), 200) for name in names}
        for name, body in answers.items():
            assert body["typed"] == {"username": name, **NOTHING}, (ref, name, body)
        rest = [
            {k: v for k, v in body.items() if k not in ("typed", "recent_events")}
            for body in answers.values()
        ]
        assert all(r == rest[0] for r in rest), rest


def test_status_names_only_accounts_linked_to_library_b_itself(lib_b):
    """Anna is a patron of both libraries (demo): B may see her under its own customer,
    and says nothing new to B. (So the issue's 'anna.jansen' example is not an oracle
    probe in the demo data; the test above uses patrons of A only.)"""
    typed = ok(lib_b.status(b_card(), ANNA[0]), 200)["typed"]
    assert typed["linked_here_to"] == "3020000001" and typed["exists"] is True
    assert typed["username_of_account"] == ANNA[0]


# -- the staff second step (issue 17) --------------------------------------------------------


def console_as(system, username: str) -> requests.Session:
    """A staff member's console session over plain HTTP: password, then the second step."""
    http = requests.Session()
    http.headers["X-Forwarded-For"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
    return staff_http(system, username, http)


def test_a_manager_of_library_b_cannot_reset_or_unblock_a_second_step_at_library_a(system):
    """Staff of A are A's: B's manager does not see them, and posting A's own reset and
    unblock addresses (ids are guessable) gets 404, not a reset: A's desk keeps its factor."""
    staff_page = f"{system.urls['library']}/console/medewerkers/"
    a = console_as(system, "manager.maas")
    listed = a.get(staff_page, timeout=TIMEOUT)
    assert listed.status_code == 200, describe(listed)
    row = next(r for r in listed.text.split("<tr") if "balie.maas" in r)
    reset = re.search(r'action="([^"]*tweede-stap-herstellen/)"', row)
    assert reset, row  # A's manager may reset A's desk: the form is there
    target = int(re.search(r"/medewerkers/(\d+)/", reset.group(1)).group(1))

    b = console_as(system, "manager.duin")
    own = b.get(staff_page, timeout=TIMEOUT)
    assert own.status_code == 200 and "balie.duin" in own.text, describe(own)
    assert "balie.maas" not in own.text
    for action in ("tweede-stap-herstellen", "tweede-stap-deblokkeren"):
        attack = f"{staff_page}{target}/{action}/"
        refused = b.post(
            attack,
            data={"csrfmiddlewaretoken": csrf_of(own.text)},
            headers={"Referer": staff_page},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        assert refused.status_code == 404, (action, describe(refused))
    again = a.get(staff_page, timeout=TIMEOUT)
    row = next(r for r in again.text.split("<tr") if "balie.maas" in r)
    assert "tweede-stap-herstellen" in row  # still enrolled: nothing was reset
