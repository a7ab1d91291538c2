"""What identity tells a library's helpdesk (issue 14): failed sign-ins counted right, when the
password was last set, no alarm mail for a first password, and a purge or deletion said at once
in the status answer."""

from datetime import datetime, time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bibid.identity.mail.models import OutboxMessage
from bibid.identity.oidc import events
from bibid.identity.selfservice import services as selfservice
from bibid.identity.signin import flow

from .api_helpers import link_with_patron, make_library
from .conftest import PASSWORD
from .test_guard import data_statements
from .test_selfservice import NEW, _memory_mail, path_of, sign_in_ok  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def maas(db):
    return make_library("aan-de-maas", "Bibliotheek aan de Maas")


def wrong_password(username: str) -> None:
    assert not flow.sign_in(flow.Attempt(username=username, password="fout", ip="192.0.2.7")).ok


def right_password(username: str, password: str = PASSWORD) -> None:
    assert flow.sign_in(flow.Attempt(username=username, password=password, ip="192.0.2.7")).ok


def service_reports(account, *kinds: str) -> None:
    """What a service reports about the patron, written by identity's own recorder."""
    service = SimpleNamespace(name="Online Bibliotheek")
    for kind in kinds:
        events.record(
            account=account,
            application=service,
            report=events.Report.parse(
                {"sub": str(account.public_id), "kind": kind, "details": {}}
            ),
        )


def status(api, ref: str = "20123", **query) -> dict:
    response = api.get(f"/customers/{ref}/status", **query)
    assert response.status_code == 200, response.content
    return response.json()


# -- 1. a service's report is not a failed sign-in attempt -----------------------------------


def test_reports_of_services_are_not_failed_attempts(maas, anna):
    assert link_with_patron(maas, "20123", anna).status_code == 201
    wrong_password("anna.jansen")
    service_reports(anna, "logout_detected", "rights_missing", "not_linked")
    answer = status(maas, username="anna.jansen")
    assert [e["kind"] for e in answer["recent_events"][:3]] == [
        "not_linked",
        "rights_missing",
        "logout_detected",
    ]
    assert all(e["outcome"] == "failure" for e in answer["recent_events"])
    assert answer["failures_today"] == 1
    assert answer["typed"]["failures_today"] == 1


# -- 2. failures counted since the last successful sign-in or password change ----------------


@pytest.fixture
def noon(clock):
    """Today at noon (Amsterdam), so that moving the clock a little never crosses midnight."""
    clock.current = timezone.make_aware(datetime.combine(timezone.localdate(), time(12)))
    return clock


def test_failures_count_from_the_last_success_or_new_password(noon, maas, anna):
    assert link_with_patron(maas, "20123", anna).status_code == 201
    noon.advance(seconds=1)  # after the password was set (when anna was made)
    for _ in range(3):
        wrong_password("anna.jansen")
        noon.advance(seconds=1)
    assert status(maas)["failures_today"] == 3
    assert status(maas, username="anna.jansen")["typed"]["failures_today"] == 3

    right_password("anna.jansen")  # the patron got in: the earlier failures are over
    noon.advance(seconds=1)
    assert status(maas)["failures_today"] == 0
    wrong_password("anna.jansen")
    noon.advance(seconds=1)
    assert status(maas)["failures_today"] == 1

    noon.advance(seconds=1)
    anna.refresh_from_db()
    selfservice.change_password(account=anna, current=PASSWORD, new=NEW)
    changed_at = noon()
    noon.advance(seconds=1)
    answer = status(maas, username="anna.jansen")
    assert (answer["failures_today"], answer["typed"]["failures_today"]) == (0, 0)
    assert parse_datetime(answer["account"]["password_changed_at"]) == changed_at
    for _ in range(2):
        wrong_password("anna.jansen")
        noon.advance(seconds=1)
    assert status(maas)["failures_today"] == 2


def test_failures_of_yesterday_do_not_count(noon, maas, anna):
    assert link_with_patron(maas, "20123", anna).status_code == 201
    noon.advance(hours=-13)  # yesterday, 23:00
    wrong_password("anna.jansen")
    noon.advance(hours=13, seconds=1)
    wrong_password("anna.jansen")
    assert status(maas)["failures_today"] == 1


def test_every_way_of_setting_a_password_is_stamped(noon, make_account, client):
    from bibid.identity.accounts.models import Account
    from bibid.identity.mail.services import enqueue

    created = make_account("met.wachtwoord")
    assert created.password_changed_at == noon()
    assert make_account("zonder.wachtwoord", password=None).password_changed_at is None
    operator = Account.objects.create_superuser("beheer.test", PASSWORD)
    assert operator.password_changed_at == noon()

    noon.advance(minutes=5)
    fresh = make_account(
        "nieuw.lid", password=None, active=False, recovery_email="nieuw@example.org"
    )
    enqueue(kind="activation", to=fresh.recovery_email, account_id=fresh.pk)
    path = path_of(OutboxMessage.objects.get(kind="activation"))
    assert client.post(path, {"password": NEW, "password_again": NEW}).status_code == 200
    fresh.refresh_from_db()
    assert fresh.password_changed_at == noon()

    noon.advance(minutes=5)
    client.post("/wachtwoord-vergeten/", {"name": "nieuw.lid"})
    reset = path_of(OutboxMessage.objects.get(kind="password_reset"))
    assert (
        client.post(reset, {"password": NEW + "2", "password_again": NEW + "2"}).status_code == 200
    )
    fresh.refresh_from_db()
    assert fresh.password_changed_at == noon()


def test_a_hash_upgrade_at_sign_in_is_not_a_new_password(noon, settings, anna):
    stamped = anna.password_changed_at
    noon.advance(minutes=5)
    # The stored MD5 hash is no longer the preferred hasher's: a correct password re-hashes it.
    settings.PASSWORD_HASHERS = ["bibid.common.hashers.Argon2idHasher", *settings.PASSWORD_HASHERS]
    before = anna.password
    assert anna.check_password(PASSWORD)
    assert anna.password != before  # upgraded (and the hash saved)
    assert anna.password_changed_at == stamped
    anna.save()  # a later save of the same object must not store a moved stamp either
    anna.refresh_from_db()
    assert anna.password_changed_at == stamped


# -- 3. no "was this you?" alarm for a first password ----------------------------------------


def password_notices() -> list[str]:
    return list(
        OutboxMessage.objects.filter(kind="notice", data__notice="password_changed").values_list(
            "to", flat=True
        )
    )


def test_no_alarm_for_the_first_password_from_the_activation_link(make_account, client):
    from bibid.identity.mail.services import enqueue

    fresh = make_account(
        "nieuw.lid", password=None, active=False, recovery_email="nieuw@example.org"
    )
    enqueue(kind="activation", to=fresh.recovery_email, account_id=fresh.pk)
    path = path_of(OutboxMessage.objects.get(kind="activation"))
    assert client.post(path, {"password": NEW, "password_again": NEW}).status_code == 200
    fresh.refresh_from_db()
    assert fresh.state == "active" and fresh.has_usable_password()
    assert password_notices() == []


def test_no_alarm_for_a_first_password_from_a_reset_link(make_account, client):
    make_account(
        "nooit.wachtwoord", password=None, active=False, recovery_email="nooit@example.org"
    )
    client.post("/wachtwoord-vergeten/", {"name": "nooit.wachtwoord"})
    reset = path_of(OutboxMessage.objects.get(kind="password_reset"))
    assert client.post(reset, {"password": NEW, "password_again": NEW}).status_code == 200
    assert sign_in_ok("nooit.wachtwoord", NEW)
    assert password_notices() == []


def test_a_real_change_still_raises_the_alarm(anna, client):
    client.post("/wachtwoord-vergeten/", {"name": "anna.jansen"})
    reset = path_of(OutboxMessage.objects.get(kind="password_reset"))
    assert client.post(reset, {"password": NEW, "password_again": NEW}).status_code == 200
    assert password_notices() == ["anna@example.org"]
    anna.refresh_from_db()
    selfservice.change_password(account=anna, current=NEW, new=NEW + "2")
    assert password_notices() == ["anna@example.org"] * 2


# -- 4. a purge or deletion is in the status answer at once ----------------------------------


def test_a_purged_account_is_said_at_once(clock, maas):
    from bibid.identity.accounts.actors import Actor
    from bibid.identity.accounts.services import purge_inactive_accounts

    made = maas.post("/customers/20123/account", {"recovery_email": "nieuw@example.org"})
    assert made.status_code == 201, made.content
    assert status(maas)["removed"] is None  # linked
    assert status(maas, "20999")["removed"] is None  # never linked
    clock.advance(hours=24, seconds=1)
    purged_at = clock()
    assert purge_inactive_accounts(actor=Actor.system("test")).deleted == 1

    answer = status(maas)  # no feed reader has run: identity says it itself
    assert answer["linked"] is False
    assert answer["removed"] == {
        "kind": "account_deleted",
        "reason": "purged",
        "username": "20123",
        "at": answer["removed"]["at"],
    }
    assert parse_datetime(answer["removed"]["at"]) == purged_at

    # Linked again (a new account): the old removal no longer explains anything.
    assert maas.post("/customers/20123/account", {}).status_code == 201
    assert status(maas)["removed"] is None
    # Unlinked by the library itself.
    assert maas.delete("/customers/20123/link").status_code == 200
    assert status(maas)["removed"] | {"at": None} == {
        "kind": "link_removed",
        "reason": "unlinked_by_library",
        "username": None,
        "at": None,
    }


def test_a_deleted_account_and_a_withdrawn_link_are_said_with_their_reason(
    maas, anna, make_account
):
    from bibid.identity.libraries.models import Link
    from bibid.identity.libraries.patron import withdraw_link

    assert link_with_patron(maas, "20123", anna).status_code == 201
    eva = make_account("eva.bos")
    assert link_with_patron(maas, "20124", eva).status_code == 201
    selfservice.delete_account(account=anna, password=PASSWORD)
    withdraw_link(account=eva, link_id=Link.objects.get(customer_ref="20124").pk)

    deleted = status(maas, "20123")["removed"]
    assert (deleted["kind"], deleted["reason"], deleted["username"]) == (
        "account_deleted",
        "deleted",
        "anna.jansen",
    )
    withdrawn = status(maas, "20124")["removed"]
    assert (withdrawn["kind"], withdrawn["reason"]) == ("link_removed", "unlinked_by_patron")
    # Another library is told nothing about this library's customers.
    duin = make_library("duinstreek", "Bibliotheek Duinstreek")
    assert status(duin, "20123")["removed"] is None


def test_the_removal_costs_one_query_on_its_own_index(maas, anna):
    from bibid.identity.api.selectors import removals_of
    from bibid.identity.libraries.models import Change, Library

    assert link_with_patron(maas, "20123", anna).status_code == 201
    assert maas.delete("/customers/20123/link").status_code == 200
    library = Library.objects.get(code="aan-de-maas")
    Change.objects.bulk_create(  # a long feed about other customers
        Change(
            library=library,
            kind="link_removed",
            customer_ref=f"2{i:05d}",
            account_public_id=anna.public_id,
        )
        for i in range(300)
    )
    with CaptureQueriesContext(connection) as unlinked:
        answer = status(maas)
    assert answer["removed"]["kind"] == "link_removed"
    with CaptureQueriesContext(connection) as never:
        assert status(maas, "29999")["removed"] is None
    # The same statements for a customer with or without a removal (token, library, link,
    # the removal).
    assert (
        len(data_statements(unlinked.captured_queries))
        == len(data_statements(never.captured_queries))
        <= 4
    )
    if connection.vendor == "sqlite":
        plan = removals_of(library, "20123").explain()
        assert "change_library_customer" in plan, plan
