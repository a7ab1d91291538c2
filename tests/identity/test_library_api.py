"""The library API in-process: query bounds, bulk, feed, scopes, secrets, card-number sign-in."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account
from bibid.identity.accounts.services import create_account, delete_account
from bibid.identity.libraries.models import Change, Link
from bibid.identity.signin import flow
from bibid.identity.signin.models import LoginEvent

from .api_helpers import link_with_patron, make_library, token_for
from .conftest import PASSWORD
from .test_guard import data_statements

pytestmark = pytest.mark.django_db
RIGHTS = {
    "customer": {"name": "Anna Jansen", "card_number": "20123"},
    "rights": [{"code": "ebooks", "limits": {"loans": 10, "period": "concurrent"}}],
}


@pytest.fixture
def maas(db):
    return make_library("aan-de-maas", "Bibliotheek aan de Maas")


@pytest.fixture
def duin(db):
    return make_library("duinstreek", "Bibliotheek Duinstreek")


def linked(api, ref: str, username: str) -> Account:
    account = Account.objects.filter(username=username).first()
    if account is None:
        from bibid.identity.accounts.services import create_account

        account = create_account(
            username=username, password=PASSWORD, active=True, actor=Actor.system("test")
        )
    assert link_with_patron(api, ref, account).status_code == 201
    return account


@pytest.mark.parametrize("history_length", [1, 1000])
def test_status_costs_the_same_queries_whatever_the_history(maas, history_length):
    account = linked(maas, "20123", "anna.jansen")
    LoginEvent.objects.bulk_create(
        LoginEvent(
            account_id=account.pk,
            username="anna.jansen",
            outcome="failure",
            reason="wrong_password",
            ip="192.0.2.1",
        )
        for _ in range(history_length)
    )
    maas.put("/customers/20123/authorization", RIGHTS)
    with CaptureQueriesContext(connection) as ctx:
        response = maas.get("/customers/20123/status")
    assert response.status_code == 200
    assert len(response.json()["recent_events"]) == min(history_length, 20)
    # token (1) + library (1) + link (1) + links (1) + block (1) + events (1) + count (1)
    # + the viewed event (1): fixed, whatever the history.
    assert len(data_statements(ctx.captured_queries)) <= 9


def test_status_reports_failures_today_and_the_block(maas):
    account = linked(maas, "20123", "anna.jansen")
    for _ in range(6):
        flow.sign_in(flow.Attempt(username="anna.jansen", password="wrong", ip="192.0.2.9"))
    status = maas.get("/customers/20123/status").json()
    assert status["failures_today"] == 6
    assert status["account"]["block"]["blocked_until"] is not None
    assert status["recent_events"][0]["reason"] == "throttled"
    assert status["recent_events"][0]["address"] == "192.0.2.0/24"  # staff see the network
    assert maas.post("/customers/20123/unblock").json()["result"] == "unblocked"
    assert maas.get("/customers/20123/status").json()["account"]["block"]["blocked_until"] is None
    assert account.username == "anna.jansen"


def test_bulk_authorize_statements_do_not_grow_with_items(maas):
    for i in range(30):
        linked(maas, f"ref{i}", f"patron{i:03d}")
    items = [{"customer_ref": f"ref{i}", **RIGHTS} for i in range(30)]
    with CaptureQueriesContext(connection) as small:
        assert maas.post("/authorizations", {"items": items[:3]}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        body = maas.post("/authorizations", {"items": items}).json()
    assert body["counts"] == {"updated": 27, "unchanged": 3, "stale": 0, "not_linked": 0}
    assert len(data_statements(large.captured_queries)) == len(
        data_statements(small.captured_queries)
    )


def test_rights_are_the_union_of_what_valid_links_push(maas, duin):
    linked(maas, "m1", "anna.jansen")
    linked(duin, "d1", "anna.jansen")
    maas.put("/customers/m1/authorization", RIGHTS)
    duin.put(
        "/customers/d1/authorization",
        {
            "customer": {"name": "Anna Jansen"},
            "rights": [
                {"code": "audiobooks", "valid_until": "2020-01-01"},  # expired
                {"code": "youth", "valid_from": "2020-01-01"},
            ],
        },
    )
    rights = duin.get("/customers/d1/rights").json()["rights"]
    assert {(r["code"], r["library"], r["this_library"]) for r in rights} == {
        ("ebooks", "Bibliotheek aan de Maas", False),
        ("youth", "Bibliotheek Duinstreek", True),
    }


def test_an_account_deleted_reaches_every_linked_library_feed(maas, duin):
    account = linked(maas, "m1", "anna.jansen")
    linked(duin, "d1", "anna.jansen")
    delete_account(account=account, actor=Actor.system("test"), reason="patron")
    assert not Link.objects.exists()
    for api, ref in ((maas, "m1"), (duin, "d1")):
        changes = api.get("/changes").json()["changes"]
        # Each library hears of its own link first (so a lost answer is repaired), then
        # of the deletion.
        assert [(c["kind"], c["customer_ref"]) for c in changes] == [
            ("link_created", ref),
            ("account_deleted", ref),
        ]
        assert {c["account_id"] for c in changes} == {str(account.public_id)}
    assert Change.objects.count() == 4


def test_changes_feed_pages_with_a_cursor(maas):
    for i in range(5):
        account = linked(maas, f"r{i}", f"gone.patron{i}")
        delete_account(account=account, actor=Actor.system("test"), reason="patron")
    first = maas.get("/changes", limit=3).json()
    assert [(c["kind"], c["customer_ref"]) for c in first["changes"]] == [
        ("link_created", "r0"),
        ("account_deleted", "r0"),
        ("link_created", "r1"),
    ]
    assert first["more"]
    rest = maas.get("/changes", after=first["next_after"], limit=10).json()
    assert [c["customer_ref"] for c in rest["changes"]] == [
        "r1",
        "r2",
        "r2",
        "r3",
        "r3",
        "r4",
        "r4",
    ]
    assert not rest["more"]
    assert maas.get("/changes", after=rest["next_after"]).json()["changes"] == []


def test_client_secrets_use_the_fast_hash_not_argon2(real_hasher, db):
    from bibid.identity.libraries.services import register_library

    done = register_library(code="snel", name="Snelle bibliotheek")
    stored = done.library.application.client_secret
    assert stored.startswith("sha256-secret$") and done.client_secret not in stored
    from django.test import Client

    started = time.perf_counter()
    for _ in range(5):
        assert (
            token_for(Client(), done.client_id, done.client_secret, "accounts:read")["status"]
            == 200
        )
    assert (time.perf_counter() - started) / 5 < 10  # sanity only: no assertion on speed
    # Patrons' passwords stay Argon2id.
    from django.contrib.auth.hashers import make_password

    assert make_password("x").startswith("argon2id$")


def test_other_clients_cannot_get_library_scopes(db):
    from django.test import Client
    from oauth2_provider.models import Application

    Application.objects.create(
        name="Mijn Menu",
        client_id="portal",
        client_secret="portal-secret-" + "x" * 40,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    token = token_for(Client(), "portal", "portal-secret-" + "x" * 40, "accounts:read")
    assert token["status"] == 400 and token["error"] == "invalid_scope"


def test_patron_signs_in_with_a_card_number(maas):
    linked(maas, "20123", "anna.jansen")
    maas.put(
        "/customers/20123/authorization",
        {**RIGHTS, "customer": {"name": "Anna", "card_number": "20123456"}},
    )
    result = flow.sign_in(flow.Attempt(username="20123456", password=PASSWORD, ip="192.0.2.3"))
    assert result.ok and result.account.username == "anna.jansen"


def test_a_card_number_is_not_a_second_set_of_guesses(maas):
    linked(maas, "20123", "anna.jansen")
    for _ in range(5):
        flow.sign_in(flow.Attempt(username="anna.jansen", password="wrong", ip="192.0.2.4"))
    result = flow.sign_in(flow.Attempt(username="20123", password=PASSWORD, ip="192.0.2.5"))
    assert result.throttled  # the account's own lane is slowed down, whatever name is typed


def test_a_card_number_signs_in_only_at_the_library_whose_range_holds_it(maas, duin):
    anna = linked(maas, "555", "anna.jansen")
    bram = create_account(
        username="bram.devries", password=PASSWORD, active=True, actor=Actor.system("test")
    )
    # Duinstreek may not link with Maas's card number (its range is 3, d)...
    opened = duin.post("/customers/555/link", {"username": "bram.devries"})
    assert opened.status_code == 422
    assert opened.json()["code"] == "card_number_not_in_range"
    # ... and a link made with it anyway (before ranges existed) does not count at sign-in.
    from bibid.identity.libraries.models import Library

    Link.objects.create(
        library=Library.objects.get(code="duinstreek"),
        customer_ref="555",
        card_number="555",
        account=bram,
    )
    result = flow.sign_in(flow.Attempt(username="555", password=PASSWORD, ip="192.0.2.6"))
    assert result.ok and result.account == anna


def test_the_patron_hears_of_every_link(maas):
    from bibid.identity.accounts.services import create_account
    from bibid.identity.mail.models import OutboxMessage

    create_account(
        username="eva.visser",
        password=PASSWORD,
        active=True,
        recovery_email="eva@example.org",
        actor=Actor.system("test"),
    )
    eva = Account.objects.get(username="eva.visser")
    assert link_with_patron(maas, "e1", eva).status_code == 201
    notice = OutboxMessage.objects.get(kind="notice", data__notice="linked")
    assert notice.to == "eva@example.org"
    assert notice.data == {"notice": "linked", "library": "Bibliotheek aan de Maas"}


def test_an_operator_removing_a_link_reaches_the_feed(maas):
    linked(maas, "m9", "anna.jansen")
    from bibid.identity.libraries.services import remove_link

    remove_link(link=Link.objects.get(customer_ref="m9"), actor=Actor.operator("beheer"))
    changes = maas.get("/changes").json()["changes"]
    assert [(c["kind"], c["customer_ref"], c["data"]) for c in changes] == [
        ("link_created", "m9", {"username": "anna.jansen"}),
        ("link_removed", "m9", {"by": "operator:beheer", "reason": "removed_by_operator"}),
    ]
    assert maas.get("/customers/m9/account").status_code == 404


def test_a_refused_request_does_not_keep_its_idempotency_key(maas):
    key = {"Idempotency-Key": "retry-after-fix-1"}
    first = maas.post("/customers/m5/password-reset", headers=key)
    assert first.status_code == 404  # not linked yet
    linked(maas, "m5", "anna.jansen")
    Account.objects.filter(username="anna.jansen").update(recovery_email="anna@example.org")
    again = maas.post("/customers/m5/password-reset", headers=key)
    assert again.status_code == 202 and "Idempotent-Replayed" not in again.headers
    replay = maas.post("/customers/m5/password-reset", headers=key)
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"


def test_a_taken_name_falls_back_to_the_reference_only_when_that_is_a_valid_name(maas):
    linked(maas, "m1", "gezin.bos")
    # Found by schemathesis: a one-letter reference is no username, so there is no fallback.
    short = maas.post(
        "/customers/t/account", {"username": "gezin.bos", "if_username_taken": "use_reference"}
    )
    assert short.status_code == 409 and short.json()["code"] == "username_taken"
    assert not Link.objects.filter(customer_ref="t").exists()
    fine = maas.post(
        "/customers/2010000099/account",
        {"username": "gezin.bos", "if_username_taken": "use_reference"},
    )
    assert fine.status_code == 201, fine.json()
    assert fine.json()["account"]["username"] == "2010000099"
    assert fine.json()["username_was_taken"] is True


def test_status_of_a_customer_without_link_and_the_username_they_type(maas):
    """The diagnosis's one round trip: what the typed name points at, linked or not."""
    anna = linked(maas, "20123", "anna.jansen")
    other = create_account(
        username="piet.typt", password=PASSWORD, active=False, actor=Actor.system("test")
    )
    unlinked = maas.get("/customers/99999/status", username="anna.jansen").json()
    assert unlinked["linked"] is False and unlinked["account"] is None
    assert unlinked["typed"] == {
        "username": "anna.jansen",
        "exists": True,
        "is_linked_account": False,
        "linked_here_to": "20123",
        "username_of_account": "anna.jansen",
        "state": "active",
        "failures_today": 0,
    }
    own = maas.get("/customers/20123/status", username="ANNA.Jansen").json()["typed"]
    assert own["is_linked_account"] is True
    # Minimal disclosure: an account not linked at this library looks exactly like a name
    # that does not exist (no existence, state or failures), and the look-up is recorded.
    elsewhere = maas.get("/customers/20123/status", username="piet.typt").json()["typed"]
    nobody = maas.get("/customers/20123/status", username="niemand").json()["typed"]
    assert (
        elsewhere
        == {**nobody, "username": "piet.typt"}
        == {
            "username": "piet.typt",
            "exists": None,
            "is_linked_account": False,
            "linked_here_to": None,
            "username_of_account": None,
            "state": None,
            "failures_today": None,
        }
    )
    from bibid.identity.libraries.models import LibraryEvent

    assert [
        e.data["typed"]
        for e in LibraryEvent.objects.filter(operation="username_lookup").order_by("id")
    ] == ["piet.typt", "niemand"]
    assert anna.pk != other.pk


# -- mail limits (bibid.identity.mail.limits) --------------------------------------------------


def _patron_with_address(api, ref: str, username: str, email: str) -> Account:
    account = linked(api, ref, username)
    Account.objects.filter(pk=account.pk).update(recovery_email=email)
    account.refresh_from_db()
    return account


def _is_mail_limit(answer) -> int:
    """Assert the 429 problem document; return its Retry-After (seconds)."""
    assert answer.status_code == 429, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["type"].endswith("/mail-limit") and body["code"] == "mail_limit"
    assert body["status"] == 429 and body["title"]
    assert "e-mails" in body["messages"]["nl"] and body["messages"]["en"]
    assert body["detail"] == body["messages"]["nl"]
    retry_after = int(answer["Retry-After"])
    assert 0 < retry_after <= 3600 and body["data"]["retry_after"] == retry_after
    return retry_after


def test_six_password_reset_calls_send_three_mails_then_a_clear_429(maas):
    from bibid.identity.accounts.models import AccountEvent
    from bibid.identity.libraries.models import LibraryEvent
    from bibid.identity.mail.models import OutboxMessage

    anna = _patron_with_address(maas, "m7", "anna.jansen", "anna@example.org")
    first_key = {"Idempotency-Key": "reset-m7-1"}
    answers = [maas.post("/customers/m7/password-reset", headers=first_key)]
    answers += [maas.post("/customers/m7/password-reset") for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429, 429]
    for refused in answers[3:]:
        _is_mail_limit(refused)
    mails = OutboxMessage.objects.filter(kind="password_reset", account_id=anna.pk)
    assert mails.count() == 3
    assert AccountEvent.objects.filter(account_id=anna.pk, kind="password_reset_sent").count() == 3
    refusals = LibraryEvent.objects.filter(operation="mail_refused")
    assert refusals.count() == 3
    assert {(e.data["customer"], e.data["mail"]) for e in refusals} == {("m7", "password_reset")}
    # The first call's key still answers what it answered, and sends nothing more.
    replay = maas.post("/customers/m7/password-reset", headers=first_key)
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    assert mails.count() == 3
    # Per account: another patron of the same library still gets a mail.
    other = _patron_with_address(maas, "m8", "eva.visser", "eva@example.org")
    assert maas.post("/customers/m8/password-reset").status_code == 202
    assert OutboxMessage.objects.filter(kind="password_reset", account_id=other.pk).count() == 1


def test_a_library_has_a_mail_limit_of_its_own(maas, duin, monkeypatch):
    from bibid.common.guard import lanes as guard
    from bibid.identity.mail import limits

    monkeypatch.setattr(limits, "PER_LIBRARY", guard.Policy("maillib", 1000, 60, cap=2))
    for n in range(3):
        _patron_with_address(maas, f"m{n}", f"lezer.{n}", f"lezer{n}@example.org")
    assert [maas.post(f"/customers/m{n}/password-reset").status_code for n in range(3)] == [
        202,
        202,
        429,
    ]
    # Another library's limit is its own.
    _patron_with_address(duin, "d1", "duin.lezer", "duin@example.org")
    assert duin.post("/customers/d1/password-reset").status_code == 202


def test_recovery_address_confirmations_are_limited_per_account_and_per_address(maas):
    from bibid.identity.mail.models import OutboxMessage

    anna = _patron_with_address(maas, "m7", "anna.jansen", "anna@example.org")
    Account.objects.filter(pk=anna.pk).update(recovery_email_confirmed_at=anna.created_at)
    addresses = ["een@example.org", "twee@example.org", "drie@example.org", "vier@example.org"]
    answers = [maas.put("/customers/m7/recovery-email", {"email": a}) for a in addresses]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    _is_mail_limit(answers[3])
    # Nothing changed with the refusal: the third address is the one waiting for its link.
    assert Account.objects.get(pk=anna.pk).recovery_email == "drie@example.org"
    assert not OutboxMessage.objects.filter(to="vier@example.org").exists()
    # Per address, whoever asks: three other patrons cannot all be pointed at one inbox.
    target = "doelwit@example.org"
    for n in range(4):
        _patron_with_address(maas, f"r{n}", f"rlezer.{n}", f"r{n}@example.org")
        Account.objects.filter(username=f"rlezer.{n}").update(
            recovery_email_confirmed_at=anna.created_at
        )
    codes = [maas.put(f"/customers/r{n}/recovery-email", {"email": target}) for n in range(4)]
    assert [c.status_code for c in codes] == [200, 200, 200, 429]
    assert OutboxMessage.objects.filter(kind="email_change", to=target).count() == 3


def test_the_openapi_schema_declares_the_mail_limit(maas):
    schema = maas.client.get("/api/v1/openapi.json").json()
    for path, method in (
        ("/api/v1/customers/{ref}/password-reset", "post"),
        ("/api/v1/customers/{ref}/recovery-email", "put"),
    ):
        responses = schema["paths"][path][method]["responses"]
        assert "application/problem+json" in responses["429"]["content"], path
