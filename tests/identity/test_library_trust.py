"""The trust model between libraries and the login (docs/security/library-api-rules.md),
in-process through the library API: a library acts only on accounts the patron gave it, and
the patron sees and can undo what a library did."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from bibid.common import clock
from bibid.identity.accounts import tokens
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import create_account
from bibid.identity.libraries import linking, patron, selectors
from bibid.identity.libraries.models import Change, LibraryEvent, Link, LinkRequest
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.signin import flow

from .api_helpers import link_with_patron, make_library
from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def maas(db):
    return make_library("aan-de-maas", "Bibliotheek aan de Maas")


@pytest.fixture
def duin(db):
    return make_library("duinstreek", "Bibliotheek Duinstreek")


@pytest.fixture
def anna(db):
    account = create_account(
        username="anna.jansen",
        password=PASSWORD,
        active=True,
        recovery_email="anna@example.org",
        actor=Actor.system("test"),
    )
    Account.objects.filter(pk=account.pk).update(recovery_email_confirmed_at=clock.now())
    account.refresh_from_db()
    return account


@pytest.fixture
def frozen_clock():
    moment = [clock.now()]
    clock.set_clock(lambda: moment[0])
    yield moment
    clock.set_clock(None)


def code_mail(account) -> str:
    return (
        OutboxMessage.objects.filter(to=account.recovery_email, data__notice="link_code")
        .latest("id")
        .data["code"]
    )


# -- L2: linking needs the patron ----------------------------------------------------------


def test_a_library_cannot_link_by_username_alone(duin, anna):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"})
    assert opened.status_code == 202
    assert opened.json()["result"] == "confirmation_needed"
    assert not Link.objects.exists()
    waiting = duin.post("/customers/3001/link/confirm", {"request_id": opened.json()["request_id"]})
    assert waiting.status_code == 409 and waiting.json()["code"] == "waiting_for_patron"
    assert not Link.objects.exists()
    # Nothing else a library could do to the account works without a link.
    for method, path, body in (
        ("put", "/customers/3001/recovery-email", {"email": "x@evil.example"}),
        ("post", "/customers/3001/password-reset", None),
        ("post", "/customers/3001/unblock", None),
    ):
        answer = getattr(duin, method)(path, body) if body else getattr(duin, method)(path)
        assert answer.status_code == 404
    anna.refresh_from_db()
    assert anna.recovery_email == "anna@example.org"


def test_the_patron_reads_out_the_code_and_the_library_links(duin, anna):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    linked = duin.post(
        "/customers/3001/link/confirm",
        {"request_id": opened["request_id"], "code": code_mail(anna)},
    )
    assert linked.status_code == 201
    assert linked.json()["account"]["username"] == "anna.jansen"
    # A retry of the same confirm (after a timeout) gets the same answer, not a second link.
    again = duin.post(
        "/customers/3001/link/confirm",
        {"request_id": opened["request_id"], "code": code_mail(anna)},
    )
    assert again.status_code == 201 and Link.objects.count() == 1
    kinds = list(AccountEvent.objects.filter(account_id=anna.pk).values_list("kind", flat=True))
    assert "link_requested" in kinds and "linked" in kinds
    assert OutboxMessage.objects.filter(to="anna@example.org", data__notice="linked").exists()


def test_five_wrong_codes_void_the_request(duin, anna):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    answers = [
        duin.post(
            "/customers/3001/link/confirm",
            {"request_id": opened["request_id"], "code": f"00000{i}"},
        )
        for i in range(5)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 410]
    assert [a.json().get("data", {}).get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
    assert [a.json()["messages"]["nl"] for a in answers[2:4]] == [
        "Deze code klopt niet. Nog 2 pogingen.",
        "Deze code klopt niet. Nog 1 poging.",
    ]
    right = duin.post(
        "/customers/3001/link/confirm",
        {"request_id": opened["request_id"], "code": code_mail(anna)},
    )
    assert right.status_code == 410 and not Link.objects.exists()


def test_a_request_expires_after_fifteen_minutes(duin, anna, frozen_clock):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    frozen_clock[0] += timedelta(minutes=16)
    late = duin.post(
        "/customers/3001/link/confirm",
        {"request_id": opened["request_id"], "code": code_mail(anna)},
    )
    assert late.status_code == 410 and not Link.objects.exists()


def test_the_request_answers_the_same_for_a_name_that_does_not_exist(duin, anna):
    real = duin.post("/customers/3001/link", {"username": "anna.jansen"})
    fake = duin.post("/customers/3002/link", {"username": "niemand.bestaat"})
    assert real.status_code == fake.status_code == 202
    assert set(real.json()) == set(fake.json())
    assert {
        k: v
        for k, v in real.json().items()
        if k not in ("request_id", "expires_at", "handover_url")
    } == {
        k: v
        for k, v in fake.json().items()
        if k not in ("request_id", "expires_at", "handover_url")
    }
    # No code can ever confirm a request for a name without an account.
    nothing = duin.post(
        "/customers/3002/link/confirm", {"request_id": fake.json()["request_id"], "code": "123456"}
    )
    assert nothing.status_code == 400


def test_another_librarys_request_is_not_found(maas, duin, anna):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    stolen = maas.post(
        "/customers/2001/link/confirm",
        {"request_id": opened["request_id"], "code": code_mail(anna)},
    )
    assert stolen.status_code == 404


def test_link_requests_are_limited_per_library(duin, anna, settings):
    from bibid.common.guard import lanes as guard

    lane = guard.lane(linking.REQUESTS_PER_LIBRARY, "duinstreek")
    for _ in range(linking.REQUESTS_PER_LIBRARY.cap):
        assert guard.reserve([lane]) is None
    refused = duin.post("/customers/3001/link", {"username": "anna.jansen"})
    assert refused.status_code == 429 and not LinkRequest.objects.exists()


def test_the_handover_page_signs_in_without_a_session_and_approves(duin, anna):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    browser = Client(enforce_csrf_checks=False)
    assert opened["handover_url"].endswith(f"/koppelen/{opened['request_id']}/")
    page = browser.get(f"/koppelen/{opened['request_id']}/")
    assert page.status_code == 200 and "Bibliotheek Duinstreek" in page.content.decode()
    wrong = browser.post(
        f"/koppelen/{opened['request_id']}/",
        {"action": "approve", "username": "anna.jansen", "password": "fout"},
    )
    assert wrong.status_code == 400
    assert LinkRequest.objects.get().state == "pending"
    done = browser.post(
        f"/koppelen/{opened['request_id']}/",
        {"action": "approve", "username": "anna.jansen", "password": PASSWORD},
    )
    assert done.status_code == 200
    assert "_auth_user_id" not in browser.session  # the desk computer is not signed in
    linked = duin.post("/customers/3001/link/confirm", {"request_id": opened["request_id"]})
    assert linked.status_code == 201
    assert Link.objects.get().account == anna


def test_the_handover_page_refuses_another_account_than_asked(duin, anna):
    create_account(
        username="bram.devries", password=PASSWORD, active=True, actor=Actor.system("test")
    )
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    other = Client().post(
        f"/koppelen/{opened['request_id']}/",
        {"action": "approve", "username": "bram.devries", "password": PASSWORD},
    )
    assert other.status_code == 409
    assert LinkRequest.objects.get().state == "pending"


def test_the_patron_can_say_no(duin, anna):
    opened = duin.post("/customers/3001/link", {"username": "anna.jansen"}).json()
    Client().post(f"/koppelen/{opened['request_id']}/", {"action": "decline"})
    assert Client().get(f"/koppelen/{opened['request_id']}/").status_code == 410
    late = duin.post(
        "/customers/3001/link/confirm",
        {"request_id": opened["request_id"], "code": code_mail(anna)},
    )
    assert late.status_code == 410


# -- L3: recovery address and password resets ----------------------------------------------


def test_a_library_sets_the_address_of_an_account_it_still_owns_at_once(duin):
    made = duin.post("/customers/3005/account", {"recovery_email": "oud@example.org"})
    assert made.status_code == 201
    answer = duin.put("/customers/3005/recovery-email", {"email": "nieuw@example.org"})
    assert answer.json()["result"] == "recovery_email_set"
    assert Account.objects.get(username="3005").recovery_email == "nieuw@example.org"


def test_a_change_on_an_activated_account_is_told_and_can_be_undone(duin, anna):
    assert link_with_patron(duin, "3001", anna).status_code == 201
    answer = duin.put(
        "/customers/3001/recovery-email",
        {"email": "kaper@evil.example"},
        headers={"Bibid-Acting-Role": "desk", "Bibid-Acting-Staff": "staff:9"},
    )
    assert answer.json()["result"] == "confirmation_sent"
    notice = OutboxMessage.objects.get(data__notice="recovery_email_set_by_library")
    assert notice.to == "anna@example.org" and notice.data["new_email"] == "kaper@evil.example"
    assert OutboxMessage.objects.filter(kind="email_change", to="kaper@evil.example").exists()
    # No reset to the library's unconfirmed address, from the library or from the public page.
    refused = duin.post("/customers/3001/password-reset")
    assert refused.status_code == 409 and refused.json()["code"] == "recovery_email_unconfirmed"
    anna.refresh_from_db()
    assert patron.reset_address(anna) == "anna@example.org"
    # "Dit was ik niet": the old address is back, library changes are frozen.
    token = tokens.undo_token(anna, notice.data["event"])
    restored = patron.undo_library_change(token=token)
    assert restored.recovery_email == "anna@example.org"
    assert restored.library_changes_frozen_at is not None
    frozen = duin.put("/customers/3001/recovery-email", {"email": "kaper@evil.example"})
    assert frozen.status_code == 423 and frozen.json()["code"] == "frozen_by_patron"
    assert duin.post("/customers/3001/unblock").status_code == 423
    from bibid.identity.accounts.tokens import TokenError

    with pytest.raises(TokenError):
        patron.undo_library_change(token=token)  # single use
    assert patron.lift_freeze(account=restored) is True
    assert (
        duin.put("/customers/3001/recovery-email", {"email": "nieuw@example.org"}).status_code
        == 200
    )


def test_the_undo_link_still_works_after_the_password_was_changed(duin, anna):
    link_with_patron(duin, "3001", anna)
    duin.put("/customers/3001/recovery-email", {"email": "kaper@evil.example"})
    notice = OutboxMessage.objects.get(data__notice="recovery_email_set_by_library")
    anna.set_password("Een-ander-wachtwoord-van-de-kaper")
    anna.save()
    restored = patron.undo_library_change(token=tokens.undo_token(anna, notice.data["event"]))
    assert restored.recovery_email == "anna@example.org"


def test_the_new_address_counts_once_confirmed_or_after_a_day(duin, anna, frozen_clock):
    link_with_patron(duin, "3001", anna)
    duin.put("/customers/3001/recovery-email", {"email": "nieuw@example.org"})
    anna.refresh_from_db()
    assert patron.reset_address(anna) == "anna@example.org"
    frozen_clock[0] += timedelta(hours=25)
    anna.refresh_from_db()
    assert patron.reset_address(anna) == "nieuw@example.org"
    assert duin.post("/customers/3001/password-reset").status_code == 202


def test_the_desk_case_the_patron_confirms_the_new_address_at_once(duin, anna):
    from bibid.identity.selfservice import services as selfservice

    link_with_patron(duin, "3001", anna)
    duin.put("/customers/3001/recovery-email", {"email": "nieuw@example.org"})
    anna.refresh_from_db()
    selfservice.confirm_email_change(
        token=tokens.make(anna, tokens.Purpose.EMAIL_CHANGE, new_email="nieuw@example.org")
    )
    sent = duin.post("/customers/3001/password-reset")
    assert sent.status_code == 202
    assert OutboxMessage.objects.filter(kind="password_reset", to="nieuw@example.org").exists()


# -- L4: unblock lifts one delay, never the cap ---------------------------------------------


def test_unblock_lets_one_attempt_through_and_is_limited(duin, anna):
    link_with_patron(duin, "3001", anna)

    def wrong() -> str:
        return flow.sign_in(
            flow.Attempt(username="anna.jansen", password="fout", ip="192.0.2.7")
        ).reason

    reasons = [wrong() for _ in range(7)]
    assert reasons[-1] == "throttled"
    evaluated = []
    for _ in range(3):
        assert duin.post("/customers/3001/unblock").json()["result"] == "unblocked"
        evaluated += [wrong(), wrong()]
    # Each unblock let exactly one wrong password through; the next one waited again.
    assert evaluated == ["wrong_password", "throttled"] * 3
    limited = duin.post("/customers/3001/unblock")
    assert limited.status_code == 429
    assert AccountEvent.objects.filter(account_id=anna.pk, kind="block_lifted").count() == 3


def test_unblock_never_lifts_the_hourly_cap(duin, anna):
    from bibid.common.guard import lanes as guard
    from bibid.common.guard.models import Throttle

    link_with_patron(duin, "3001", anna)
    key = guard.account_lane(anna.username_key).key
    now = clock.now().timestamp()
    Throttle.objects.update_or_create(
        key=key,
        defaults={
            "failures": 100,
            "window_start": now,
            "blocked_until": now + 3000,
            "free": 5,
            "cap": 100,
            "max_delay": 900,
            "shift": 10,
        },
    )
    assert duin.post("/customers/3001/unblock").json()["result"] == "not_blocked"
    assert Throttle.objects.get(key=key).blocked_until == now + 3000


# -- L5 is in test_library_api.py (typed names); L6: card numbers ---------------------------


def test_card_numbers_outside_the_range_are_refused_everywhere(maas, duin, anna):
    assert (
        duin.post("/customers/2010000001/account", {}).json()["code"] == "card_number_not_in_range"
    )
    assert duin.post("/customers/2010000001/link", {"username": "x"}).status_code == 422
    link_with_patron(duin, "3001", anna)
    push = {"customer": {"name": "Anna", "card_number": "2010000001"}, "rights": []}
    assert duin.put("/customers/3001/authorization", push).status_code == 422
    bulk = duin.post("/authorizations", {"items": [{"customer_ref": "3001", **push}]})
    assert bulk.status_code == 422
    assert Link.objects.get().card_number == "3001"


def test_prefixes_of_two_libraries_may_not_overlap(maas):
    from bibid.common.problems import Problem
    from bibid.identity.libraries.services import register_library

    with pytest.raises(Problem) as refused:
        register_library(code="nieuw", name="Nieuw", card_prefixes=["20"])
    assert refused.value.code == "card_prefix_overlaps"


# -- L7: the patron sees it and can undo it -------------------------------------------------


def test_the_patron_sees_which_library_and_role_did_what(duin, anna):
    opened = duin.post(
        "/customers/3001/link",
        {"username": "anna.jansen"},
        headers={"Bibid-Acting-Role": "helpdesk", "Bibid-Acting-Staff": "s:1"},
    )
    linking.approve(request_id=opened.json()["request_id"], account=anna)
    duin.post(
        "/customers/3001/link/confirm",
        {"request_id": opened.json()["request_id"]},
        headers={"Bibid-Acting-Role": "desk", "Bibid-Acting-Staff": "s:2"},
    )
    duin.get("/customers/3001/account")  # no role said: recorded without one
    actions = selectors.library_actions(anna)
    assert [(a["library"], a["role"], a["kind"]) for a in actions] == [
        ("Bibliotheek Duinstreek", "", "viewed"),
        ("Bibliotheek Duinstreek", "desk", "linked"),
        ("Bibliotheek Duinstreek", "helpdesk", "link_requested"),
    ]


def test_the_patron_withdraws_a_link_and_the_library_hears_it(maas, duin, anna):
    link_with_patron(duin, "3001", anna)
    link_with_patron(maas, "2001", anna)
    bram = create_account(
        username="bram.devries", password=PASSWORD, active=True, actor=Actor.system("test")
    )
    duin_link = Link.objects.get(library__code="duinstreek")
    from bibid.common.problems import Problem

    with pytest.raises(Problem):
        patron.withdraw_link(account=bram, link_id=duin_link.pk)  # not his
    patron.withdraw_link(account=anna, link_id=duin_link.pk)
    assert list(Link.objects.values_list("library__code", flat=True)) == ["aan-de-maas"]
    assert [(c["kind"], c["customer_ref"]) for c in duin.get("/changes").json()["changes"]] == [
        ("link_created", "3001"),
        ("link_removed", "3001"),
    ]
    assert duin.get("/customers/3001/rights").status_code == 404
    # The other library hears of its own link only.
    assert list(
        Change.objects.filter(library__code="aan-de-maas").values_list("kind", flat=True)
    ) == ["link_created"]


def test_every_username_lookup_of_an_unlinked_name_is_recorded(duin, anna):
    duin.get("/customers/3001/status", username="anna.jansen")
    assert (
        LibraryEvent.objects.filter(operation="username_lookup", data__typed="anna.jansen").count()
        == 1
    )


def test_taken_usernames_at_generate_are_limited_and_recorded(duin, anna):
    from bibid.common.guard import lanes as guard
    from bibid.identity.libraries.services import TAKEN_ANSWERS_PER_LIBRARY

    taken = duin.post("/customers/3001/account", {"username": "anna.jansen"})
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"
    assert (
        LibraryEvent.objects.filter(operation="username_taken", data__typed="anna.jansen").count()
        == 1
    )
    lane = guard.lane(TAKEN_ANSWERS_PER_LIBRARY, "duinstreek")
    for _ in range(TAKEN_ANSWERS_PER_LIBRARY.cap - 1):
        guard.reserve([lane])
    limited = duin.post("/customers/3002/account", {"username": "anna.jansen"})
    assert limited.status_code == 429
    # A free name still works: the limit is on answers that reveal an account.
    assert duin.post("/customers/3003/account", {"username": "nieuw.lid"}).status_code == 201


def test_a_card_number_of_another_library_cannot_become_a_username(maas, duin, anna):
    """Found by the rogue-library tests: B generated an account named after A's card number,
    and A's patron signing in with that card number reached B's account."""
    link_with_patron(maas, "2001", anna)
    taken = duin.post("/customers/3009/account", {"username": "2001"})
    assert taken.status_code == 400 and taken.json()["code"] == "username_is_card_number"
    # The library's own customer may have their own card number as username (the default).
    assert duin.post("/customers/3009/account", {}).json()["account"]["username"] == "3009"
    # And a patron may not rename to a card number either.
    from bibid.common.problems import Problem
    from bibid.identity.selfservice import services as selfservice

    with pytest.raises(Problem) as refused:
        selfservice.change_username(account=anna, new_username="2999")
    assert refused.value.code == "username_is_card_number"


def test_a_card_number_names_its_librarys_patron_even_if_it_is_someones_username(maas, anna):
    link_with_patron(maas, "2001", anna)
    # An account named after the card number from before the rule existed.
    squatter = create_account(
        username="2001", password=PASSWORD, active=True, actor=Actor.system("test")
    )
    result = flow.sign_in(flow.Attempt(username="2001", password=PASSWORD, ip="192.0.2.66"))
    assert result.ok and result.account == anna and squatter.pk != anna.pk


def test_link_codes_per_account_are_limited_whoever_asks(maas, duin, anna):
    for ref, api in (("3001", duin), ("3002", duin), ("2001", maas), ("2002", maas)):
        opened = api.post(f"/customers/{ref}/link", {"username": "anna.jansen"})
        assert opened.status_code == 202  # the same answer every time
    codes = OutboxMessage.objects.filter(to="anna@example.org", data__notice="link_code")
    assert codes.count() == linking.CODES_PER_ACCOUNT.cap == 3
    # The fourth request has no code to guess: no code confirms it.
    fourth = LinkRequest.objects.get(customer_ref="2002")
    assert fourth.code_digest == ""
    wrong = maas.post(
        "/customers/2002/link/confirm", {"request_id": str(fourth.pk), "code": code_mail(anna)}
    )
    assert wrong.status_code == 400


def test_confirm_checks_the_card_range_too(maas, duin, anna):
    opened = maas.post("/customers/2001/link", {"username": "anna.jansen"}).json()
    answer = duin.post("/customers/2001/link/confirm", {"request_id": opened["request_id"]})
    assert answer.status_code == 422


def test_notices_go_to_the_address_the_patron_holds_not_the_librarys(duin, anna):
    """Found by the flow walks: a new password's notice went to the library's unconfirmed
    address only, so the patron's own mailbox was not told."""
    from bibid.identity.selfservice import services as selfservice

    link_with_patron(duin, "3001", anna)
    duin.put("/customers/3001/recovery-email", {"email": "kaper@evil.example"})
    anna.refresh_from_db()
    selfservice.change_password(account=anna, current=PASSWORD, new="Een-heel-nieuw-wachtwoord-1")
    notices = OutboxMessage.objects.filter(data__notice="password_changed")
    assert list(notices.values_list("to", flat=True)) == ["anna@example.org"]


def test_the_handover_page_is_no_username_oracle_either(duin, anna):
    """Found by the e2e tests: a request for a name without an account could be approved by
    any account (and so told B that the name did not exist)."""
    create_account(
        username="bram.devries", password=PASSWORD, active=True, actor=Actor.system("test")
    )
    answers = []
    for name in ("anna.jansen", "niemand.bestaat"):
        opened = duin.post("/customers/3001/link", {"username": name}).json()
        answer = Client().post(
            f"/koppelen/{opened['request_id']}/",
            {"action": "approve", "username": "bram.devries", "password": PASSWORD},
        )
        answers.append((answer.status_code, "ander inlogaccount" in answer.content.decode()))
        duin.post("/customers/3001/link/confirm", {"request_id": opened["request_id"]})
    assert answers == [(409, True), (409, True)]
    assert not Link.objects.exists()
