"""The sign-in decision: reasons, one hash per attempt, every attempt recorded."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher

from bibid.identity.signin import flow
from bibid.identity.signin.device import Device, user_tag
from bibid.identity.signin.models import LoginEvent

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
Reason = LoginEvent.Reason


def attempt(username="anna.jansen", password=PASSWORD, **kw):
    return flow.Attempt(
        username=username,
        password=password,
        ip=kw.pop("ip", "192.0.2.10"),
        user_agent=kw.pop("user_agent", "Firefox/140"),
        **kw,
    )


@pytest.fixture
def verifications(monkeypatch):
    """Count password verifications (the expensive, timing-relevant step)."""
    calls = []
    original = MD5PasswordHasher.verify

    def counting(self, password, encoded):
        calls.append(encoded)
        return original(self, password, encoded)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counting)
    return calls


def test_correct_password_signs_in_and_is_recorded(anna):
    result = flow.sign_in(attempt())
    assert result.ok and result.account == anna
    event = LoginEvent.objects.get()
    assert (event.outcome, event.reason, event.account_id) == ("success", "ok", anna.pk)
    assert (event.ip, event.user_agent, event.username) == (
        "192.0.2.10",
        "Firefox/140",
        "anna.jansen",
    )


def test_username_is_matched_ignoring_case_and_accents(make_account):
    account = make_account("José.Jansen")
    assert flow.sign_in(attempt("jose.jansen")).account == account


@pytest.mark.parametrize(
    ("setup", "username", "password", "reason"),
    [
        ("none", "nobody.here", PASSWORD, Reason.UNKNOWN_USERNAME),
        ("anna", "anna.jansen", "wrong-password", Reason.WRONG_PASSWORD),
        ("inactive", "bram.devries", PASSWORD, Reason.NO_PASSWORD),
        ("anna", "not a valid name!", PASSWORD, Reason.UNKNOWN_USERNAME),
    ],
)
def test_each_failure_keeps_its_real_reason(
    make_account, verifications, setup, username, password, reason
):
    if setup == "anna":
        make_account("anna.jansen")
    if setup == "inactive":
        make_account("bram.devries", password=None, active=False)
    result = flow.sign_in(attempt(username, password))
    assert not result.ok and result.reason == reason
    assert LoginEvent.objects.get().reason == reason
    # Exactly one verification, real or dummy: failures cost the same whatever the reason.
    assert len(verifications) == 1


def test_inactive_account_with_a_password_is_refused(make_account):
    make_account("carla.smit", active=False)  # a password, but never activated
    result = flow.sign_in(attempt("carla.smit"))
    assert result.reason == Reason.INACTIVE


def test_throttled_attempt_checks_no_password(anna, verifications):
    for _ in range(5):
        flow.sign_in(attempt(password="wrong"))
    verifications.clear()
    result = flow.sign_in(attempt())  # even the right password must wait
    assert result.throttled and result.retry_after == 2
    assert verifications == []
    assert LoginEvent.objects.filter(reason=Reason.THROTTLED).count() == 1


def test_unknown_names_are_throttled_like_real_ones(db):
    results = [flow.sign_in(attempt("ghost.user", "x")) for _ in range(6)]
    assert [r.reason for r in results] == [Reason.UNKNOWN_USERNAME] * 5 + [Reason.THROTTLED]


def test_a_device_that_signed_in_before_is_not_locked_out(anna):
    for _ in range(8):
        flow.sign_in(attempt(password="wrong", ip="203.0.113.5"))
    assert flow.sign_in(attempt()).throttled
    device = Device(id="anna-laptop", users=(user_tag(anna.username_key),))
    assert flow.sign_in(attempt(device=device)).ok


def test_recorded_username_and_browser_lose_control_characters_and_length(db):
    flow.sign_in(attempt("evil\x1b[31m" + "x" * 500, user_agent="UA\x00\n" + "y" * 400))
    event = LoginEvent.objects.get()
    assert "\x1b" not in event.username and len(event.username) == 150
    assert event.user_agent.startswith("UAy") and len(event.user_agent) == 300


def test_old_hash_parameters_are_upgraded_on_sign_in(real_hasher, make_account, settings):
    from django.contrib.auth.hashers import make_password

    account = make_account("old.hash")
    account.password = make_password(PASSWORD, hasher="argon2")  # Django's default Argon2
    account.save(update_fields=["password"])
    assert flow.sign_in(attempt("old.hash")).ok
    account.refresh_from_db()
    assert account.password.startswith("argon2id$")


def test_old_attempts_are_pruned_after_the_retention(anna, clock, settings):
    from bibid.identity.signin.tasks import prune_login_events

    settings.BIBID_LOGIN_EVENT_RETENTION_DAYS = 90
    flow.sign_in(attempt())
    clock.advance(days=89)
    flow.sign_in(attempt())
    assert prune_login_events.call() == 0
    clock.advance(days=2)
    assert prune_login_events.call() == 1
    assert LoginEvent.objects.count() == 1
