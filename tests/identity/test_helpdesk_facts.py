"""What identity tells a library's helpdesk (issue 14): failed sign-ins counted right, when the
password was last set, no alarm mail for a first password, and a purge or deletion said at once
in the status answer."""

from datetime import datetime, time
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bibid.identity.mail.models import OutboxMessage
from bibid.identity.oidc import events
from bibid.identity.selfservice import services as selfservice
from bibid.identity.signin import flow

from .api_helpers import link_with_patron, make_library
from .conftest import PASSWORD
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
        events.record(account=account, application=service, report=events.Report.parse(
            {"sub": str(account.public_id), "kind": kind, "details": {}}))


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
        "not_linked", "rights_missing", "logout_detected"]
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
    fresh = make_account("nieuw.lid", password=None, active=False,
                         recovery_email="nieuw@example.org")
    enqueue(kind="activation", to=fresh.recovery_email, account_id=fresh.pk)
    path = path_of(OutboxMessage.objects.get(kind="activation"))
    assert client.post(path, {"password": NEW, "password_again": NEW}).status_code == 200
    fresh.refresh_from_db()
    assert fresh.password_changed_at == noon()

    noon.advance(minutes=5)
    client.post("/wachtwoord-vergeten/", {"name": "nieuw.lid"})
    reset = path_of(OutboxMessage.objects.get(kind="password_reset"))
    assert client.post(reset, {"password": NEW + "2", "password_again": NEW + "2"}) \
        .status_code == 200
    fresh.refresh_from_db()
    assert fresh.password_changed_at == noon()


def test_a_hash_upgrade_at_sign_in_is_not_a_new_password(noon, settings, anna):
    stamped = anna.password_changed_at
    noon.advance(minutes=5)
    # The stored MD5 hash is no longer the preferred hasher's: a correct password re-hashes it.
    settings.PASSWORD_HASHERS = ["bibid.common.hashers.Argon2idHasher",
                                 *settings.PASSWORD_HASHERS]
    before = anna.password
    assert anna.check_password(PASSWORD)
    assert anna.password != before  # upgraded (and the hash saved)
    assert anna.password_changed_at == stamped
    anna.save()  # a later save of the same object must not store a moved stamp either
    anna.refresh_from_db()
    assert anna.password_changed_at == stamped


# -- 3. no "was this you?" alarm for a first password ----------------------------------------


def password_notices() -> list[str]:
    return list(OutboxMessage.objects.filter(kind="notice", data__notice="password_changed")
                .values_list("to", flat=True))


def test_no_alarm_for_the_first_password_from_the_activation_link(make_account, client):
    from bibid.identity.mail.services import enqueue

    fresh = make_account("nieuw.lid", password=None, active=False,
                         recovery_email="nieuw@example.org")
    enqueue(kind="activation", to=fresh.recovery_email, account_id=fresh.pk)
    path = path_of(OutboxMessage.objects.get(kind="activation"))
    assert client.post(path, {"password": NEW, "password_again": NEW}).status_code == 200
    fresh.refresh_from_db()
    assert fresh.state == "active" and fresh.has_usable_password()
    assert password_notices() == []


def test_no_alarm_for_a_first_password_from_a_reset_link(make_account, client):
    make_account("nooit.wachtwoord", password=None, active=False,
                 recovery_email="nooit@example.org")
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
