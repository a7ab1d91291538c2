"""The library API over real HTTP, as a library system uses it: tokens, the life of a link,
tenant isolation, linking at several libraries, idempotency keys, bulk pushes, bad input,
the changes feed and the published schema."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests

from . import harness
from .library_api import (
    LIBRARY_A,
    LIBRARY_B,
    OPERATION_IDS,
    READ,
    READ_WRITE,
    TIMEOUT,
    Library,
    approve_handover,
    assert_problem,
    authorization,
    choose_password,
    demo_client,
    failed_sign_in,
    fresh_address,
    new_ref,
    on_handover_page,
    request_token,
)


@pytest.fixture(scope="module")
def identity(system) -> str:
    return system.urls["identity"]


@pytest.fixture(scope="module")
def lib_a(system, identity) -> Library:
    return Library(identity, demo_client(system, LIBRARY_A))


@pytest.fixture(scope="module")
def lib_b(system, identity) -> Library:
    return Library(identity, demo_client(system, LIBRARY_B))


@pytest.fixture(scope="module")
def lib_a_read(system, identity) -> Library:
    return Library(identity, demo_client(system, LIBRARY_A), scope=READ)


# 1. Tokens and scopes ------------------------------------------------------------------------


def test_tokens_secrets_and_scopes(system, identity, lib_a, lib_a_read):
    client = demo_client(system, LIBRARY_A)
    wrong = request_token(identity, client, READ_WRITE, secret="not-the-secret")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert "access_token" not in wrong.json()

    ref = new_ref()
    url = f"{identity}/api/v1/customers/{ref}/account"
    for headers in (
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic ZGVtbzpkZW1v"},
    ):
        for method in ("GET", "POST"):
            answer = requests.request(method, url, headers=headers, json={}, timeout=TIMEOUT)
            assert_problem(answer, 401, "invalid_token")
            assert answer.headers["WWW-Authenticate"].startswith("Bearer"), headers
    # Only the header transport (RFC 9700): a token in the query string is no token.
    answer = requests.get(url, params={"access_token": lib_a.token}, timeout=TIMEOUT)
    assert_problem(answer, 401, "invalid_token")
    assert_problem(lib_a.show(ref), 404, "not_linked")  # the refused POSTs created nothing

    # A read-only token reads, and is refused (403) on every changing operation.
    assert lib_a.ok(lib_a.generate(ref, {"recovery_email": "scope@example.org"}), 201)
    shown = lib_a_read.ok(lib_a_read.show(ref))
    assert shown["state"] == "inactive"
    lib_a_read.ok(lib_a_read.status(ref))
    lib_a_read.ok(lib_a_read.changes())
    refused = [
        lib_a_read.generate(new_ref()),
        lib_a_read.link(new_ref(), ref),
        lib_a_read.confirm(new_ref(), str(uuid.uuid4()), "123456"),
        lib_a_read.unlink(ref),
        lib_a_read.activate(ref),
        lib_a_read.authorize(ref, authorization("Kim", {"code": "ebooks"})),
        lib_a_read.bulk([{"customer_ref": ref, **authorization("Kim")}]),
        lib_a_read.recovery_email(ref, "other@example.org"),
        lib_a_read.password_reset(ref),
        lib_a_read.unblock(ref),
    ]
    for answer in refused:
        body = assert_problem(answer, 403, "insufficient_scope")
        assert body["data"] == {"scope": "accounts:write"}
    assert lib_a.ok(lib_a.show(ref)) == shown  # still inactive, same address, still linked
    assert lib_a.ok(lib_a.status(ref))["authorization"]["authorized_at"] is None

    # A revoked token is a 401 from then on.
    fresh = Library(identity, client)
    fresh.ok(fresh.show(ref))
    revoked = requests.post(
        f"{identity}/o/revoke_token/",
        data={"token": fresh.token},
        auth=(client["client_id"], client["client_secret"]),
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    assert_problem(fresh.show(ref), 401, "invalid_token")


def test_insufficient_scope_is_announced_in_www_authenticate(lib_a_read):
    answer = lib_a_read.generate(new_ref())
    assert_problem(answer, 403, "insufficient_scope")
    challenge = answer.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), dict(answer.headers)
    assert 'error="insufficient_scope"' in challenge


# 2. The life of a link -----------------------------------------------------------------------


def test_the_whole_life_of_a_link(identity, mailbox, lib_a):
    ref = new_ref()
    generated = lib_a.ok(lib_a.generate(ref, {"recovery_email": "life@example.org"}), 201)
    assert generated["result"] == "generated"
    assert generated["activation_mail"] == "queued"
    account = generated["account"]
    assert account["customer_ref"] == ref
    assert account["username"] == ref  # the default: the customer reference
    assert account["state"] == "inactive" and account["activated_at"] is None
    assert account["has_password"] is False
    assert account["recovery_email"] == "life@example.org"
    assert account["linked_libraries"] == [lib_a.name]

    assert lib_a.ok(lib_a.show(ref)) == account

    activated = lib_a.ok(lib_a.activate(ref))
    assert activated["result"] == "activated"
    assert activated["choose_password_mail"] == "queued"  # no password yet, has an address
    assert activated["account"]["state"] == "active"
    assert activated["account"]["activated_at"] is not None
    again = lib_a.ok(lib_a.activate(ref))
    assert again["result"] == "already_active"
    assert again["account"]["activated_at"] == activated["account"]["activated_at"]

    push = authorization(
        "Kim de Vries",
        {
            "code": "ebooks",
            "valid_until": "2099-12-31",
            "limits": {"loans": 10, "period": "concurrent"},
        },
        {"code": "audiobooks", "valid_until": "2000-01-01"},  # over: not an effective right
        {"code": "youth", "valid_from": "2999-01-01"},  # not yet
        birth_date="1980-04-01",
        card_number=ref,
        subscription_type="Volwassen Compleet",
    )
    updated = lib_a.ok(lib_a.authorize(ref, push))
    assert updated["result"] == "updated"
    assert sorted(r["code"] for r in updated["rights"]) == ["audiobooks", "ebooks", "youth"]
    unchanged = lib_a.ok(lib_a.authorize(ref, push))
    assert unchanged["result"] == "unchanged"
    assert unchanged["authorized_at"] == updated["authorized_at"]
    assert unchanged["rights"] == updated["rights"]

    rights = lib_a.ok(lib_a.rights(ref))
    assert rights["rights"] == [
        {
            "code": "ebooks",
            "valid_from": None,
            "valid_until": "2099-12-31",
            "limits": {"loans": 10, "period": "concurrent"},
            "library": lib_a.name,
            "this_library": True,
        }
    ]

    # Not activated by the patron (the library activated it): still the library's to set
    # at once (rule L1).
    mark = uuid.uuid4().hex[:8]
    new_address = f"nieuw.adres.{mark}@example.org"
    reset = lib_a.ok(lib_a.recovery_email(ref, f"  Nieuw.Adres.{mark}@Example.ORG "))
    assert reset["result"] == "recovery_email_set"
    assert reset["account"]["recovery_email"].lower() == new_address
    assert reset["account"]["recovery_email_set_by"] == f"library:{LIBRARY_A}"
    assert reset["account"]["recovery_email_confirmed"] is False

    mails_before = mailbox.count()
    queued = lib_a.ok(lib_a.password_reset(ref), 202)
    assert queued["result"] == "password_reset_queued"

    assert lib_a.ok(lib_a.unblock(ref))["result"] == "not_blocked"
    assert lib_a.ok(lib_a.history(ref)) == {"events": []}

    address = fresh_address()
    failed_sign_in(identity, ref, address)
    events = lib_a.ok(lib_a.history(ref))["events"]
    assert len(events) == 1
    assert events[0]["kind"] == "login" and events[0]["outcome"] == "failure"
    assert events[0]["address"] == address.rsplit(".", 1)[0] + ".0/24"  # never the exact one
    assert events[0]["browser"] == "bibid-e2e-library-api"

    status = lib_a.ok(lib_a.status(ref))
    assert status["linked"] is True
    assert status["account"]["state"] == "active"
    assert status["account"]["recovery_email_set_by"] == f"library:{LIBRARY_A}"
    assert status["account"]["block"]["failures"] == 1
    assert status["authorization"]["customer"] == {
        "name": "Kim de Vries",
        "birth_date": "1980-04-01",
        "card_number": ref,
        "subscription_type": "Volwassen Compleet",
    }
    assert status["authorization"]["rights"] == updated["rights"]
    assert status["authorization"]["authorized_at"] == updated["authorized_at"]
    assert status["effective_rights"] == rights["rights"]
    assert status["recent_events"] == events
    assert status["failures_today"] == 1

    # Unblock lifts a wait, never the count (rule L4): one failure is no wait ...
    nothing = lib_a.ok(lib_a.unblock(ref))
    assert nothing["result"] == "not_blocked"
    assert nothing["account"]["block"] == {"failures": 1, "blocked_until": None}
    # ... five are: the wait ends, the failures of the hour stay counted.
    for _ in range(4):
        failed_sign_in(identity, ref, fresh_address())
    blocked = lib_a.ok(lib_a.status(ref))["account"]["block"]
    assert blocked["failures"] == 5 and blocked["blocked_until"] is not None
    lifted = lib_a.ok(lib_a.unblock(ref))
    assert lifted["result"] == "unblocked"
    assert lifted["account"]["block"] == {"failures": 5, "blocked_until": None}

    assert lib_a.ok(lib_a.unlink(ref)) == {"result": "unlinked", "account": None}
    assert_problem(lib_a.show(ref), 404, "not_linked")
    assert lib_a.ok(lib_a.status(ref))["linked"] is False  # the diagnosis reads that too
    assert_problem(lib_a.unlink(ref), 404, "not_linked")
    # Unlinking keeps the account: the customer can be linked to it again, with the
    # patron's consent (rule L2). The patron chooses a password from the reset mail ...
    password = f"Een-eigen-wachtwoord-{mark}"
    mail = mailbox.wait_for(new_address, "Een nieuw wachtwoord", timeout=60, after=mails_before)
    chosen = choose_password(mail.link("/wachtwoord-herstellen/"), password)
    assert chosen.status_code == 200, chosen.text[:400]
    # ... the library asks (nothing is linked yet), the patron signs in on the handover
    # page with the card number, and the library completes the link.
    asked = lib_a.ok(lib_a.link(ref, ref), 202)
    assert asked["result"] == "confirmation_needed"
    assert asked["handover_url"] == f"{identity}/koppelen/{asked['request_id']}/"
    assert_problem(lib_a.show(ref), 404, "not_linked")
    assert_problem(lib_a.confirm(ref, asked["request_id"]), 409, "waiting_for_patron")
    approve_handover(asked["handover_url"], ref, password)
    relinked = lib_a.ok(lib_a.confirm(ref, asked["request_id"]), 201)
    assert relinked["result"] == "linked"
    assert relinked["account"]["username"] == ref
    assert relinked["account"]["state"] == "active"
    assert relinked["account"]["has_password"] is True
    assert lib_a.ok(lib_a.show(ref)) == relinked["account"]
    # A retried confirm gives the same answer; the request is used.
    assert lib_a.ok(lib_a.confirm(ref, asked["request_id"]), 201) == relinked


def test_rules_of_generate_and_password_reset(lib_a):
    taken = new_ref()
    lib_a.ok(lib_a.generate(taken), 201)
    # Without a recovery address: no activation mail, and no reset mail (422).
    assert lib_a.ok(lib_a.show(taken))["recovery_email"] is None
    assert_problem(lib_a.password_reset(taken), 422, "no_recovery_email")
    # The customer already has an account.
    assert_problem(
        lib_a.generate(taken, {"username": f"x.{uuid.uuid4().hex[:10]}"}),
        409,
        "customer_already_linked",
    )
    # A username in use (compared case-insensitively) by another customer's account.
    chosen_name = f"Kim.{uuid.uuid4().hex[:10]}"
    lib_a.ok(lib_a.generate(new_ref(), {"username": chosen_name}), 201)
    other = new_ref()
    body = assert_problem(
        lib_a.generate(other, {"username": chosen_name.upper()}), 409, "username_taken"
    )
    assert body["field"] == "username"
    # A card number of a library's range is no username (rule L6), unless it is the
    # customer's own (the default), taken or not.
    for card_number in (taken, new_ref(), new_ref(LIBRARY_B)):
        body = assert_problem(
            lib_a.generate(other, {"username": card_number}), 400, "username_is_card_number"
        )
        assert body["field"] == "username"
    # A username against the rules.
    for bad in ("abc", "met spatie", "x" * 81):
        answer = lib_a.generate(other, {"username": bad})
        assert answer.status_code == 400, (bad, answer.text)
        assert_problem(answer, 400)
    # A reference outside the library's card ranges is no customer of its own (rule L6).
    for outside in ("abc", "c0ffee1234", new_ref(LIBRARY_B)):
        body = assert_problem(lib_a.generate(outside), 422, "card_number_not_in_range")
        assert body["field"] == "customer_ref"
    assert_problem(lib_a.show(other), 404, "not_linked")
    assert_problem(lib_a.show("abc"), 404, "not_linked")
    chosen = lib_a.ok(lib_a.generate(other, {"username": f"José.{other}", "language": "en"}), 201)
    assert chosen["account"]["username"] == f"José.{other}"
    assert chosen["activation_mail"] == "no_address"


def test_six_password_resets_mail_the_patron_three_times_then_429(system, mailbox, lib_a):
    """The mail limit over real HTTP: 6 calls, 3 mails in the mailbox, then 429 mail_limit
    with Retry-After; the first call's Idempotency-Key still answers what it answered."""
    ref, address = new_ref(), f"limiet.{uuid.uuid4().hex[:10]}@example.org"
    lib_a.ok(lib_a.generate(ref, {"recovery_email": address}), 201)
    first = {"Idempotency-Key": f"reset-{ref}"}
    answers = [lib_a.password_reset(ref, headers=first)]
    answers += [lib_a.password_reset(ref) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429, 429]
    for refused in answers[3:]:
        body = assert_problem(refused, 429, "mail_limit")
        assert body["type"].endswith("/mail-limit")
        retry_after = int(refused.headers["Retry-After"])
        assert 0 < retry_after <= 3600 and body["data"]["retry_after"] == retry_after
    replay = lib_a.password_reset(ref, headers=first)
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    # Exactly three were queued (refusals queue nothing); wait until they are all sent,
    # then the mailbox holds those three and no more.
    sent = (
        "from bibid.identity.mail.models import OutboxMessage as O\n"
        f"q = O.objects.filter(kind='password_reset', to={address!r})\n"
        "print(q.count(), q.filter(sent_at__isnull=True).count())\n"
    )
    assert harness.eventually(
        lambda: system.identity_shell(sent).split() == ["3", "0"],
        "the three reset mails sent",
        timeout=60,
    )

    def resets() -> int:
        return sum(
            1
            for m in list(mailbox.messages)
            if address in m.to and "nieuw wachtwoord" in m.subject.lower()
        )

    harness.eventually(lambda: resets() >= 3, "three reset mails arrive", timeout=30)
    assert resets() == 3


def test_activating_again_does_not_claim_there_is_no_address(lib_a):
    ref = new_ref()
    lib_a.ok(lib_a.generate(ref, {"recovery_email": "again@example.org"}), 201)
    lib_a.ok(lib_a.activate(ref))
    again = lib_a.ok(lib_a.activate(ref))
    assert again["result"] == "already_active"
    assert again["account"]["recovery_email"] == "again@example.org"
    assert again["choose_password_mail"] != "no_address"


# 3. Tenant isolation -------------------------------------------------------------------------


def same_answer_but_the_ref(
    theirs: requests.Response, their_ref: str, nowhere: requests.Response, nowhere_ref: str
) -> bool:
    """Equal answers once each names its own customer reference as REF (a refusal may
    repeat the card number it was given; that tells nothing about the customer)."""
    return (
        theirs.status_code == nowhere.status_code
        and theirs.headers["Content-Type"] == nowhere.headers["Content-Type"]
        and json.loads(theirs.text.replace(their_ref, "REF"))
        == json.loads(nowhere.text.replace(nowhere_ref, "REF"))
    )


def test_another_library_cannot_see_or_touch_a_customer(lib_a, lib_b):
    ref, second, pending = new_ref(), new_ref(), new_ref()
    lib_a.ok(lib_a.generate(ref, {"recovery_email": "iso@example.org"}), 201)
    lib_a.ok(lib_a.authorize(ref, authorization("Iso Lid", {"code": "ebooks"})))
    lib_a.ok(lib_a.generate(second), 201)
    key = f"key-{uuid.uuid4().hex}"
    first = lib_a.authorize(
        second, authorization("Tweede", {"code": "ebooks"}), headers={"Idempotency-Key": key}
    )
    lib_a.ok(first)
    # A link request of A's, waiting for its patron (the username may be left out).
    asked = lib_a.ok(lib_a.link(pending, None), 202)
    shown, status = lib_a.ok(lib_a.show(ref)), lib_a.ok(lib_a.status(ref))
    shown_second = lib_a.ok(lib_a.show(second))
    cursor_b = lib_b.cursor()

    push = authorization("Iemand Anders", {"code": "audiobooks"})
    operations = {
        "show": lambda r: lib_b.show(r),
        "link": lambda r: lib_b.link(r, f"nobody-{uuid.uuid4().hex[:8]}"),
        "confirm": lambda r: lib_b.confirm(r, asked["request_id"]),
        "unlink": lambda r: lib_b.unlink(r),
        "activate": lambda r: lib_b.activate(r),
        "authorize": lambda r: lib_b.authorize(r, push),
        "rights": lambda r: lib_b.rights(r),
        "recovery-email": lambda r: lib_b.recovery_email(r, "attacker@example.org"),
        "password-reset": lambda r: lib_b.password_reset(r),
        "unblock": lambda r: lib_b.unblock(r),
        "history": lambda r: lib_b.history(r),
        "status": lambda r: lib_b.status(r),
    }
    # A's card numbers are not B's to take in (rule L6): refused wherever a card number
    # goes in; everywhere else A's customers are "not linked", like nobody at all.
    takes_a_card_number = {"link", "confirm", "authorize"}
    for name, operation in operations.items():
        for target in (ref, second, pending):
            somebody = new_ref()
            theirs, nowhere = operation(target), operation(somebody)
            if name == "status":  # answers "not linked" in a 200, the same for both
                assert theirs.status_code == 200 and theirs.json()["linked"] is False
            elif name in takes_a_card_number:
                assert_problem(theirs, 422, "card_number_not_in_range")
            else:
                assert_problem(theirs, 404, "not_linked")
            assert same_answer_but_the_ref(theirs, target, nowhere, somebody), (
                name,
                theirs.text,
                nowhere.text,
            )

    # A's link request is not B's, not even for a customer in B's own range: the same as
    # a request that does not exist.
    own_card = new_ref(LIBRARY_B)
    not_found = assert_problem(
        lib_b.confirm(own_card, asked["request_id"]), 404, "link_request_not_found"
    )
    assert not_found == assert_problem(
        lib_b.confirm(own_card, str(uuid.uuid4())), 404, "link_request_not_found"
    )
    assert_problem(lib_a.confirm(pending, asked["request_id"]), 409, "waiting_for_patron")

    # An Idempotency-Key belongs to one library: B's identical request with A's key is B's
    # own request (a refusal of its own), not a replay of A's answer.
    replay = lib_b.authorize(
        second, authorization("Tweede", {"code": "ebooks"}), headers={"Idempotency-Key": key}
    )
    assert_problem(replay, 422, "card_number_not_in_range")
    assert "Idempotent-Replayed" not in replay.headers

    refused = assert_problem(
        lib_b.bulk([{"customer_ref": r, **push} for r in (ref, second)]),
        422,
        "card_number_not_in_range",
    )
    assert refused["field"] == "items"
    own_cards = [new_ref(LIBRARY_B), new_ref(LIBRARY_B)]
    bulk = lib_b.ok(lib_b.bulk([{"customer_ref": r, **push} for r in own_cards]))
    assert bulk["counts"] == {"updated": 0, "unchanged": 0, "stale": 0, "not_linked": 2}

    assert lib_a.ok(lib_a.show(ref)) == shown
    assert lib_a.ok(lib_a.status(ref)) == status
    assert lib_a.ok(lib_a.show(second)) == shown_second
    assert_problem(lib_a.show(pending), 404, "not_linked")

    # A's customer reference is no customer of B's (card numbers belong to one library),
    # nor can it become the username of one of B's accounts: A's patron signs in with it.
    assert_problem(
        lib_b.generate(ref, {"username": f"b.{uuid.uuid4().hex[:10]}"}),
        422,
        "card_number_not_in_range",
    )
    assert_problem(lib_b.generate(own_card, {"username": ref}), 400, "username_is_card_number")
    assert_problem(lib_b.show(own_card), 404, "not_linked")
    # B's own customers get accounts of their own, which A does not see.
    own = f"b.{uuid.uuid4().hex[:10]}"
    generated = lib_b.ok(lib_b.generate(own_card, {"username": own}), 201)
    assert generated["account"]["customer_ref"] == own_card
    assert generated["account"]["username"] == own
    assert generated["account"]["linked_libraries"] == [lib_b.name]
    assert lib_b.ok(lib_b.show(own_card))["username"] == own
    assert lib_b.ok(lib_b.status(own_card))["authorization"]["rights"] == []
    assert lib_b.ok(lib_b.rights(own_card))["rights"] == []
    assert lib_a.ok(lib_a.show(ref)) == shown
    assert lib_a.ok(lib_a.status(ref)) == status

    feed = lib_b.ok(lib_b.changes(cursor_b))
    assert not {c["customer_ref"] for c in feed["changes"]} & {ref, second, pending}


# 4. One login for all libraries --------------------------------------------------------------


def test_one_account_linked_at_two_libraries(system, lib_a, lib_b):
    username = f"kim.{uuid.uuid4().hex[:10]}"
    password = "Een-zin-vol-lange-woorden-2026"
    system.create_patron(username, password, recovery_email=f"{username}@example.org")
    ref_a, ref_b = new_ref(LIBRARY_A), new_ref(LIBRARY_B)
    # The patron agrees at each library (rule L2); the name is found whatever its capitals.
    at_a = lib_a.ok(lib_a.link_with_patron(ref_a, username.upper(), password), 201)["account"]
    assert at_a["username"] == username and at_a["has_password"] is True
    assert at_a["linked_libraries"] == [lib_a.name]
    at_b = lib_b.ok(lib_b.link_with_patron(ref_b, username, password), 201)["account"]
    assert at_b["customer_ref"] == ref_b
    assert at_b["linked_libraries"] == sorted([lib_a.name, lib_b.name])
    assert lib_b.ok(lib_b.show(ref_b))["linked_libraries"] == sorted([lib_a.name, lib_b.name])
    assert lib_a.ok(lib_a.show(ref_a))["linked_libraries"] == sorted([lib_a.name, lib_b.name])

    lib_a.ok(
        lib_a.authorize(
            ref_a,
            authorization(
                "Kim (A)", {"code": "ebooks", "limits": {"loans": 10}}, card_number=ref_a
            ),
        )
    )
    # A card number of B's range is not A's to push (rule L6).
    assert_problem(
        lib_a.authorize(ref_a, authorization("Kim (A)", card_number=ref_b)),
        422,
        "card_number_not_in_range",
    )
    lib_b.ok(lib_b.authorize(ref_b, authorization("Kim (B)", {"code": "audiobooks"})))

    def rights_of(library, ref):
        return {
            (r["code"], r["library"], r["this_library"])
            for r in library.ok(library.rights(ref))["rights"]
        }

    assert rights_of(lib_b, ref_b) == {
        ("ebooks", lib_a.name, False),
        ("audiobooks", lib_b.name, True),
    }
    assert rights_of(lib_a, ref_a) == {
        ("ebooks", lib_a.name, True),
        ("audiobooks", lib_b.name, False),
    }
    # What A pushed about its customer stays A's: B sees A's rights, not A's customer data.
    status_b = lib_b.ok(lib_b.status(ref_b))
    assert status_b["authorization"]["customer"] == {"name": "Kim (B)"}
    assert [r["code"] for r in status_b["authorization"]["rights"]] == ["audiobooks"]

    lib_b.ok(lib_b.unlink(ref_b))
    assert lib_a.ok(lib_a.show(ref_a))["linked_libraries"] == [lib_a.name]
    assert rights_of(lib_a, ref_a) == {("ebooks", lib_a.name, True)}


# 5. The partner/child mix-up -----------------------------------------------------------------


def test_partner_and_child_mix_up_is_refused(system, lib_a, lib_b):
    partner, child = new_ref(), new_ref()
    mark = uuid.uuid4().hex[:8]
    partners, partners_password = f"partner.{mark}", f"Zin-van-de-partner-{mark}"
    system.create_patron(partners, partners_password)
    lib_a.ok(lib_a.link_with_patron(partner, partners, partners_password), 201)
    # Asked for the child, the partner's account is refused, even with the partner's
    # consent on the handover page: one account, one customer per library.
    asked = lib_a.ok(lib_a.link(child, partners), 202)
    approve_handover(asked["handover_url"], partners, partners_password)
    body = assert_problem(
        lib_a.confirm(child, asked["request_id"]), 409, "account_linked_to_other_customer"
    )
    assert body["data"]["customer"] == partner
    assert_problem(lib_a.show(child), 404, "not_linked")
    assert lib_a.ok(lib_a.show(partner))["username"] == partners

    # The child's own account (linked at another library too) is linked to the child ...
    childs_own, childs_password = f"kind.{mark}", f"Zin-van-het-kind-{mark}"
    system.create_patron(childs_own, childs_password)
    lib_b.ok(lib_b.link_with_patron(new_ref(LIBRARY_B), childs_own, childs_password), 201)
    # ... and not to the partner, who has an account already (refused at once).
    assert_problem(lib_a.link(partner, childs_own), 409, "customer_already_linked")
    assert lib_a.ok(lib_a.show(partner))["username"] == partners

    # A name that does not exist opens a request like any other (rule L2: the answer tells
    # nothing), and nothing links without the patron: no code was mailed.
    nobody = lib_a.ok(lib_a.link(child, f"nobody-{uuid.uuid4().hex[:8]}"), 202)
    assert nobody.keys() == asked.keys() and nobody["result"] == "confirmation_needed"
    assert_problem(lib_a.confirm(child, nobody["request_id"]), 409, "waiting_for_patron")
    assert_problem(lib_a.confirm(child, nobody["request_id"], "123456"), 400, "wrong_code")
    # Operators' accounts are never linked (staff: never), even when they agree.
    operator = system.demo["operators"][0]
    for_operator = lib_a.ok(lib_a.link(child, operator["username"]), 202)
    refused = on_handover_page(
        for_operator["handover_url"], operator["username"], operator["password"]
    )
    assert refused.status_code == 403, refused.status_code
    assert_problem(lib_a.confirm(child, for_operator["request_id"]), 409, "waiting_for_patron")
    assert_problem(lib_a.show(child), 404, "not_linked")

    linked = lib_a.ok(lib_a.link_with_patron(child, childs_own, childs_password), 201)
    assert linked["account"]["username"] == childs_own
    assert linked["account"]["linked_libraries"] == sorted([lib_a.name, lib_b.name])
    assert lib_a.ok(lib_a.show(partner))["username"] == partners


# 6. Idempotency keys -------------------------------------------------------------------------


def test_idempotency_keys(lib_a):
    ref = new_ref()
    key = f"gen-{uuid.uuid4().hex}"
    body = {"recovery_email": "idem@example.org"}
    first = lib_a.generate(ref, body, headers={"Idempotency-Key": key})
    retry = lib_a.generate(ref, body, headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    shown = lib_a.ok(lib_a.show(ref))
    assert shown == first.json()["account"]
    # One account: a request without the key is a second attempt, refused.
    assert_problem(lib_a.generate(ref, body), 409, "customer_already_linked")

    # The same key with another body (or for another customer) is refused, and changes nothing.
    assert_problem(
        lib_a.generate(
            ref, {"recovery_email": "other@example.org"}, headers={"Idempotency-Key": key}
        ),
        422,
        "idempotency_key_reused",
    )
    assert_problem(
        lib_a.generate(new_ref(), body, headers={"Idempotency-Key": key}),
        422,
        "idempotency_key_reused",
    )
    assert lib_a.ok(lib_a.show(ref)) == shown

    push = authorization("Idem", {"code": "ebooks"})
    auth_key = f"auth-{uuid.uuid4().hex}"
    pushed = lib_a.authorize(ref, push, headers={"Idempotency-Key": auth_key})
    assert lib_a.ok(pushed)["result"] == "updated"
    repeated = lib_a.authorize(ref, push, headers={"Idempotency-Key": auth_key})
    assert repeated.status_code == 200
    assert repeated.headers["Idempotent-Replayed"] == "true"
    assert repeated.json() == pushed.json()  # the first answer ("updated"), not a second run
    assert lib_a.ok(lib_a.authorize(ref, push))["result"] == "unchanged"  # without the key

    for bad in ("x" * 201, ""):
        fresh = new_ref()
        answer = lib_a.generate(fresh, headers={"Idempotency-Key": bad})
        assert_problem(answer, 400, "invalid_idempotency_key")
        assert_problem(lib_a.show(fresh), 404, "not_linked")


# 7. Bulk authorize ---------------------------------------------------------------------------


def test_bulk_authorize(lib_a):
    linked = [new_ref() for _ in range(20)]
    for ref in linked:
        lib_a.ok(lib_a.generate(ref), 201)
    unknown = [new_ref() for _ in range(30)]
    refs = sorted(linked + unknown, key=lambda r: r[4:])  # linked and unknown mixed

    def item(ref, name=None):
        return {
            "customer_ref": ref,
            **authorization(
                name or f"Lid {ref}",
                {"code": "ebooks", "valid_until": "2099-12-31", "limits": {"loans": 10}},
                card_number=ref,
            ),
        }

    items = [item(ref) for ref in refs]
    first = lib_a.ok(lib_a.bulk(items))
    assert first["counts"] == {"updated": 20, "unchanged": 0, "stale": 0, "not_linked": 30}
    assert first["results"] == [
        {"customer_ref": ref, "result": "updated" if ref in linked else "not_linked"}
        for ref in refs
    ]
    second = lib_a.ok(lib_a.bulk(items))
    assert second["counts"] == {"updated": 0, "unchanged": 20, "stale": 0, "not_linked": 30}
    assert [r["result"] for r in second["results"]] == [
        "unchanged" if ref in linked else "not_linked" for ref in refs
    ]

    # Bulk and single pushes are the same thing: the same data is 'unchanged' either way.
    single = item(linked[0])
    del single["customer_ref"]
    assert lib_a.ok(lib_a.authorize(linked[0], single))["result"] == "unchanged"
    status = lib_a.ok(lib_a.status(linked[0]))
    assert status["authorization"]["customer"] == {
        "name": f"Lid {linked[0]}",
        "card_number": linked[0],
    }
    assert [r["code"] for r in status["effective_rights"]] == ["ebooks"]
    for ref in unknown[:3]:
        assert_problem(lib_a.show(ref), 404, "not_linked")

    changed = [item(ref, "Nieuwe Naam") if ref == linked[1] else item(ref) for ref in refs]
    third = lib_a.ok(lib_a.bulk(changed))
    assert third["counts"] == {"updated": 1, "unchanged": 19, "stale": 0, "not_linked": 30}
    before = lib_a.ok(lib_a.status(linked[1]))
    assert before["authorization"]["customer"]["name"] == "Nieuwe Naam"

    too_many = [item(linked[1], "Te Veel")] + [item(f"many{i}") for i in range(5000)]
    body = assert_problem(lib_a.bulk(too_many), 400, "invalid_request")
    assert body["errors"][0]["field"].endswith("items")
    duplicate = [item(linked[1], "Dubbel"), item(linked[2]), item(linked[1], "Dubbel")]
    assert_problem(lib_a.bulk(duplicate), 400, "duplicate_customer")
    assert_problem(lib_a.call("POST", "/authorizations", {"items": []}), 400, "invalid_request")
    assert_problem(lib_a.bulk([item("no/slash")]), 400, "invalid_request")
    # One card number outside the library's ranges (rule L6) refuses the whole call.
    outside = [item(linked[1], "Buiten"), item(new_ref(LIBRARY_B))]
    assert assert_problem(lib_a.bulk(outside), 422, "card_number_not_in_range")["field"] == "items"
    pushed_outside = item(linked[1], "Buiten")
    pushed_outside["customer"]["card_number"] = new_ref(LIBRARY_B)
    assert_problem(lib_a.bulk([pushed_outside]), 422, "card_number_not_in_range")
    del pushed_outside["customer_ref"]
    assert_problem(lib_a.authorize(linked[1], pushed_outside), 422, "card_number_not_in_range")
    assert lib_a.ok(lib_a.status(linked[1])) == before


# 8. Bad input --------------------------------------------------------------------------------


def test_bad_input_is_a_problem_and_changes_nothing(lib_a):
    ref = new_ref()
    lib_a.ok(lib_a.generate(ref, {"recovery_email": "bad@example.org"}), 201)
    lib_a.ok(lib_a.authorize(ref, authorization("Goed", {"code": "ebooks"})))
    before = lib_a.ok(lib_a.status(ref))
    fresh = new_ref()
    json_header = {"Content-Type": "application/json"}
    good_right = {"code": "ebooks"}

    answers = [
        # malformed JSON
        lib_a.call("POST", f"/customers/{fresh}/account", data="{not json", headers=json_header),
        lib_a.call(
            "PUT",
            f"/customers/{ref}/authorization",
            data='{"customer": {"name": "x"',
            headers=json_header,
        ),
        # wrong types
        lib_a.generate(fresh, {"username": 123}),
        lib_a.generate(fresh, {"language": "de"}),
        lib_a.authorize(ref, {"customer": {"name": "x"}, "rights": "ebooks"}),
        lib_a.authorize(ref, {"customer": ["x"], "rights": []}),
        lib_a.authorize(ref, {"customer": {"name": "x", "birth_date": "gisteren"}}),
        lib_a.authorize(ref, {"rights": [good_right]}),
        lib_a.call("POST", "/authorizations", {"items": "all of them"}),
        lib_a.history(ref, params={"limit": "many"}),
        lib_a.history(ref, params={"limit": 0}),
        lib_a.call("GET", "/changes", params={"after": -1}),
        # customer references that are not references: 65 characters, a NUL
        lib_a.show("r" * 65),
        lib_a.generate("r" * 65),
        lib_a.show("ab%00cd"),
        lib_a.generate("ab%00cd"),
        lib_a.activate("-leading-dash"),
        # a username with control characters
        lib_a.generate(fresh, {"username": "kim\u0007bel"}),
        lib_a.generate(fresh, {"username": "kim\u0000nul"}),
        lib_a.link(fresh, "kim\nnewline"),
        # an overlong name (10 kB)
        lib_a.authorize(ref, authorization("N" * 10_000, good_right)),
        # not an e-mail address
        lib_a.recovery_email(ref, "not-an-address"),
        lib_a.recovery_email(ref, "a@b@example.org"),
        lib_a.generate(fresh, {"recovery_email": "nope"}),
        # a period that ends before it starts
        lib_a.authorize(
            ref,
            authorization(
                "x", {"code": "ebooks", "valid_from": "2026-06-01", "valid_until": "2026-01-01"}
            ),
        ),
        # right codes and limit names out of their alphabet
        lib_a.authorize(ref, authorization("x", {"code": "E-Books!"})),
        lib_a.authorize(ref, authorization("x", {"code": "ebøøks"})),
        lib_a.authorize(ref, authorization("x", {"code": "ebooks", "limits": {"Loans": 1}})),
        lib_a.authorize(ref, authorization("x", {"code": "ebooks", "limits": {"loans": 1.5}})),
        # a link confirmation without a request id, or with one or a code that is not one
        lib_a.call("POST", f"/customers/{fresh}/link/confirm", {}),
        lib_a.call("POST", f"/customers/{fresh}/link/confirm", {"request_id": "nope"}),
        lib_a.confirm(fresh, str(uuid.uuid4()), "12a456"),
        lib_a.confirm(fresh, str(uuid.uuid4()), "1234567"),
        lib_a.call(
            "POST",
            f"/customers/{fresh}/link/confirm",
            {"request_id": str(uuid.uuid4()), "code": 123456},
        ),
    ]
    for answer in answers:
        assert answer.status_code == 400, (
            answer.request.method,
            answer.request.url,
            answer.status_code,
            answer.text[:300],
        )
        assert_problem(answer, 400)
    assert assert_problem(answers[0], 400)["code"] != "internal_error"
    assert assert_problem(answers[2], 400, "invalid_request")["field"].endswith("username")

    # An unsupported method: refused, never a 500 (its media type: see the test below).
    patched = lib_a.call("PATCH", f"/customers/{ref}/account", {"username": "other"})
    assert patched.status_code == 405

    # More than 5 MB. On a connection of its own: the body is refused unread, and gunicorn
    # then closes the connection although the answer said keep-alive.
    huge = '{"username": "' + "a" * (5 * 1024 * 1024 + 100) + '"}'
    too_big = requests.post(
        f"{lib_a.identity}/api/v1/customers/{fresh}/account",
        data=huge,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {lib_a.token}", "Connection": "close", **json_header},
    )
    assert too_big.status_code in (400, 413)
    assert_problem(too_big, too_big.status_code)

    # A cursor beyond any change: no changes, not an error.
    assert lib_a.ok(lib_a.changes(after=2**62))["changes"] == []

    assert lib_a.ok(lib_a.status(ref)) == before
    for nothing in (fresh, "r" * 64):
        assert_problem(lib_a.show(nothing), 404, "not_linked")


@pytest.mark.parametrize("raw", ["[1, 2]", '"abc"', "42", "null"])
def test_a_body_that_is_not_an_object_is_refused(lib_a, raw):
    # Until 86e35a3 such a body was taken as {} and an account was generated (201).
    ref = new_ref()
    answer = lib_a.call(
        "POST", f"/customers/{ref}/account", data=raw, headers={"Content-Type": "application/json"}
    )
    created = lib_a.show(ref)
    assert_problem(answer, 400)
    assert_problem(created, 404, "not_linked")


@pytest.mark.parametrize(
    "path", ["/customers/a%2Fb/account", "/customers/a/b/account", "/no-such-operation"]
)
def test_an_unknown_api_path_is_a_problem(lib_a, path):
    assert_problem(lib_a.call("GET", path), 404)


def test_an_unsupported_method_is_a_problem(lib_a):
    answer = lib_a.call("PATCH", f"/customers/{new_ref()}/account", {})
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == {"GET", "POST"}
    assert_problem(answer, 405)


def test_problem_messages_are_in_english_too(identity, lib_a, lib_a_read):
    # Until c4c6c95 the library API's texts had no English translation.
    ref, fresh = new_ref(), new_ref()
    lib_a.ok(lib_a.generate(ref), 201)
    answers = {
        "invalid_token": requests.get(f"{identity}/api/v1/changes", timeout=TIMEOUT),
        "insufficient_scope": lib_a_read.activate(ref),
        "not_linked": lib_a.show(new_ref()),
        "customer_already_linked": lib_a.generate(ref),
        "invalid_request": lib_a.show("r" * 65),
        "card_number_not_in_range": lib_a.generate(new_ref(LIBRARY_B)),
        "link_request_not_found": lib_a.confirm(new_ref(), str(uuid.uuid4())),
        "waiting_for_patron": lib_a.confirm(
            fresh, lib_a.ok(lib_a.link(fresh, None), 202)["request_id"]
        ),
    }
    for code, answer in answers.items():
        body = answer.json()
        assert body["code"] == code
        assert body["messages"]["en"] != body["messages"]["nl"], body
        # The title names the kind of problem, the same every time (RFC 9457 3.1.4).
        assert body["title"] == code.replace("_", " ").capitalize()


# 9. The changes feed -------------------------------------------------------------------------


def test_a_purged_account_reaches_the_changes_feed(system, lib_a, lib_b):
    ref = new_ref()
    lib_a.ok(lib_a.generate(ref), 201)  # never activated
    cursor_a, cursor_b = lib_a.cursor(), lib_b.cursor()
    out = system.identity_shell(
        "from datetime import timedelta\n"
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"accounts = Account.objects.filter(username={ref!r})\n"
        "print(accounts.update(created_at=clock.now() - timedelta(hours=25)))\n"
        "print(accounts.get().public_id)\n"
    )
    updated, public_id = out.split()
    assert updated == "1"
    assert "deleted" in system.bibid("purge-inactive", "--no-progress")

    feed = lib_a.ok(lib_a.changes(cursor_a))
    ours = [c for c in feed["changes"] if c["customer_ref"] == ref]
    assert len(ours) == 1, feed
    change = ours[0]
    assert change["kind"] == "account_deleted"
    assert change["account_id"] == public_id
    assert change["data"]["reason"] == "purged"
    assert change["id"] > cursor_a
    assert feed["next_after"] >= change["id"]

    after = lib_a.ok(lib_a.changes(change["id"]))
    assert after == {"changes": [], "next_after": change["id"], "more": False}
    assert_problem(lib_a.show(ref), 404, "not_linked")

    feed_b = lib_b.ok(lib_b.changes(cursor_b))
    assert ref not in {c["customer_ref"] for c in feed_b["changes"]}
    assert public_id not in {c["account_id"] for c in feed_b["changes"]}

    # The library can generate a new account for the customer.
    again = lib_a.ok(lib_a.generate(ref), 201)
    assert again["account"]["username"] == ref


# 10. The published schema --------------------------------------------------------------------


def test_openapi_schema_and_docs(identity):
    answer = requests.get(f"{identity}/api/v1/openapi.json", timeout=TIMEOUT)
    assert answer.status_code == 200
    schema = answer.json()
    operations = [
        op
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    ids = [op["operationId"] for op in operations]
    assert sorted(ids) == sorted(OPERATION_IDS)
    assert all(op.get("security") for op in operations)  # every operation needs a token
    assert schema["components"]["securitySchemes"]
    assert "/api/v1/authorizations" in schema["paths"]
    assert "/api/v1/changes" in schema["paths"]

    docs = requests.get(f"{identity}/api/v1/docs", timeout=TIMEOUT)
    assert docs.status_code == 200
    assert docs.headers["Content-Type"].startswith("text/html")
    assert "/api/v1/openapi.json" in docs.text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"', docs.text)
    assert assets
    for asset in assets:
        assert requests.get(f"{identity}{asset}", timeout=TIMEOUT).status_code == 200, asset
