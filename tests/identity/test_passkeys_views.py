"""Passkeys through the pages, in-process, with a software authenticator: adding one needs a
recent sign-in in this session, rename and remove, the sign-in with one (generic refusals,
the guard, the events the helpdesk reads, `amr` in the session)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from bibid.common.guard import lanes as guard
from bibid.identity.accounts.models import AccountEvent
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.passkeys.models import Passkey, PasskeyUser, RemovedPasskey
from bibid.identity.signin import passkey as passkey_flow
from bibid.identity.signin.models import LoginEvent
from tests.webauthn_soft import SoftAuthenticator

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, body: dict):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def sign_in_with_password(client: Client, username: str = "anna.jansen") -> None:
    response = client.post("/inloggen/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def add_passkey(client: Client, authenticator: SoftAuthenticator, name: str = "telefoon"):
    begun = post_json(client, "/passkeys/toevoegen/begin/", {"fields": {"name": name}})
    assert begun.status_code == 200, begun.content
    answer = authenticator.create(begun.json()["publicKey"])
    return post_json(
        client, "/passkeys/toevoegen/", {"credential": answer, "fields": {"name": name}}
    )


def passkey_sign_in(client: Client, authenticator: SoftAuthenticator, *, fields=None):
    options = post_json(client, "/inloggen/passkey/begin/", {"fields": {}}).json()["publicKey"]
    answer = authenticator.get(options)
    return post_json(client, "/inloggen/passkey/", {"credential": answer, "fields": fields or {}})


@pytest.fixture
def patron(make_account):
    return make_account(recovery_email="anna@example.org")


@pytest.fixture
def enrolled(patron):
    """Anna with one passkey, added after a password sign-in; a fresh browser to use it."""
    authenticator = SoftAuthenticator()
    client = Client()
    sign_in_with_password(client)
    assert add_passkey(client, authenticator).json() == {"redirect": "/passkeys/"}
    return authenticator, Client()


def test_adding_a_passkey_needs_a_recent_sign_in_in_this_session(patron, client):
    # Signed in long ago (no sign-in time in this session): the password first.
    client.force_login(patron)
    page = client.get("/passkeys/")
    assert "current_password" in page.text and "data-webauthn" not in page.text
    refused = post_json(client, "/passkeys/toevoegen/begin/", {"fields": {"name": "x"}})
    assert refused.status_code == 403 and "wachtwoord" in refused.json()["error"]
    wrong = client.post("/passkeys/bevestigen/", {"current_password": "niet-het-wachtwoord"})
    assert wrong.status_code == 400
    assert (
        post_json(client, "/passkeys/toevoegen/begin/", {"fields": {"name": "x"}}).status_code
        == 403
    )
    right = client.post("/passkeys/bevestigen/", {"current_password": PASSWORD})
    assert right.status_code == 302
    assert 'data-webauthn="create"' in client.get("/passkeys/").text
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    assert Passkey.objects.filter(account=patron).count() == 1


def test_a_sign_in_minutes_ago_is_no_longer_recent(patron, client):
    from datetime import timedelta

    from bibid.common import clock

    sign_in_with_password(client)
    later = clock.now() + timedelta(minutes=6)
    clock.set_clock(lambda: later)
    try:
        begun = post_json(client, "/passkeys/toevoegen/begin/", {"fields": {"name": "x"}})
    finally:
        clock.set_clock(None)
    assert begun.status_code == 403


def test_adding_stores_the_key_records_an_event_and_tells_the_patron(patron, client):
    sign_in_with_password(client)
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator, "  mijn   telefoon ").status_code == 200
    passkey = Passkey.objects.get(account=patron)
    assert passkey.name == "mijn telefoon" and passkey.sign_count == 0
    # The user handle is random and the authenticator got it, not the account id.
    handle = bytes(PasskeyUser.objects.get(account=patron).handle)
    assert len(handle) == 32 and str(patron.pk).encode() not in handle
    assert next(iter(authenticator.credentials.values()))["user"] == handle
    event = AccountEvent.objects.filter(account_id=patron.pk, kind="updated").latest("at")
    assert event.data["passkey"]["added"] == "mijn telefoon"
    notice = OutboxMessage.objects.get(data__notice="passkey_added")
    assert notice.to == "anna@example.org"
    # A second passkey is fine; the page lists both with their last use.
    assert add_passkey(client, SoftAuthenticator(), "laptop").status_code == 200
    page = client.get("/passkeys/")
    assert "laptop" in page.text and "mijn telefoon" in page.text and "nog niet" in page.text
    assert 'data-testid="passkey-lost"' in page.text


def test_an_empty_name_or_a_forged_answer_adds_nothing(patron, client):
    sign_in_with_password(client)
    assert (
        post_json(client, "/passkeys/toevoegen/begin/", {"fields": {"name": " "}}).status_code
        == 400
    )
    begun = post_json(client, "/passkeys/toevoegen/begin/", {"fields": {"name": "x"}})
    answer = SoftAuthenticator(origin="https://evil.example").create(begun.json()["publicKey"])
    refused = post_json(
        client, "/passkeys/toevoegen/", {"credential": answer, "fields": {"name": "x"}}
    )
    assert refused.status_code == 400 and not Passkey.objects.exists()


def test_rename_and_remove_only_your_own(patron, make_account, client):
    sign_in_with_password(client)
    add_passkey(client, SoftAuthenticator())
    passkey = Passkey.objects.get(account=patron)
    assert client.post(f"/passkeys/{passkey.pk}/naam/", {"name": "werk"}).status_code == 302
    assert Passkey.objects.get(pk=passkey.pk).name == "werk"
    renamed = AccountEvent.objects.filter(account_id=patron.pk, kind="updated").latest("at")
    assert renamed.data["passkey"]["renamed"] == ["telefoon", "werk"]

    make_account("bert.bakker")
    other = Client()
    sign_in_with_password(other, "bert.bakker")
    assert other.post(f"/passkeys/{passkey.pk}/naam/", {"name": "van mij"}).status_code == 404
    assert other.post(f"/passkeys/{passkey.pk}/verwijderen/").status_code == 404
    assert Passkey.objects.filter(pk=passkey.pk).exists()

    assert client.post(f"/passkeys/{passkey.pk}/verwijderen/").status_code == 302
    assert not Passkey.objects.filter(pk=passkey.pk).exists()
    assert RemovedPasskey.objects.get().account_id == patron.pk
    removed = AccountEvent.objects.filter(account_id=patron.pk, kind="updated").latest("at")
    assert removed.data["passkey"]["removed"] == "werk"
    assert OutboxMessage.objects.filter(data__notice="passkey_removed").count() == 1


def test_signing_in_with_a_passkey(enrolled, patron):
    authenticator, client = enrolled
    target = "/oidc/authorize/?client_id=x&response_type=code"
    response = passkey_sign_in(client, authenticator, fields={"next": target})
    assert response.status_code == 200 and response.json() == {"redirect": target}
    assert int(client.session["_auth_user_id"]) == patron.pk
    assert client.session["bibid_amr"] == ["hwk", "user"]
    assert "bibid_identity_device" in response.cookies
    event = LoginEvent.objects.filter(account_id=patron.pk, reason="ok").latest("at")
    assert event.details["method"] == "passkey" and event.details["name"] == "telefoon"
    assert event.outcome == "success" and event.username == "anna.jansen"
    passkey = Passkey.objects.get(account=patron)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    # Another site as `next` is not followed.
    again = passkey_sign_in(client, authenticator, fields={"next": "https://evil.example/"})
    assert again.json() == {"redirect": "/"}
    # A password sign-in afterwards in the same session no longer says "passkey".
    sign_in_with_password(client)
    assert "bibid_amr" not in client.session


def _failure_answers(enrolled, patron, make_account):
    """Four refused passkey answers, each from a fresh browser; what each one looked like."""
    authenticator, _ = enrolled
    seen = {}
    # A credential this identity never saw.
    stranger = SoftAuthenticator()
    stranger.create({"challenge": "x", "user": {"id": "AAAA"}})
    seen["passkey_unknown"] = passkey_sign_in(Client(), stranger)
    # A bad signature: the right credential id, signed by another key.
    impostor = SoftAuthenticator()
    impostor.create({"challenge": "x", "user": {"id": "AAAA"}})
    credential_id = next(iter(authenticator.credentials))
    held = dict(authenticator.credentials[credential_id])
    impostor.credentials = {
        credential_id: {**held, "key": next(iter(impostor.credentials.values()))["key"]}
    }
    seen["passkey_invalid"] = passkey_sign_in(Client(), impostor)
    # An inactive account (a valid signature).
    patron.state = patron.State.INACTIVE
    patron.save(update_fields=["state"])
    seen["inactive"] = passkey_sign_in(Client(), authenticator)
    patron.state = patron.State.ACTIVE
    patron.save(update_fields=["state"])
    # A passkey the patron removed (still on the phone).
    owner = Client()
    owner.force_login(patron)
    owner.post(f"/passkeys/{Passkey.objects.get().pk}/verwijderen/")
    seen["passkey_removed"] = passkey_sign_in(Client(), authenticator)
    return seen


def test_every_refusal_looks_the_same_and_the_events_tell_them_apart(
    enrolled, patron, make_account
):
    seen = _failure_answers(enrolled, patron, make_account)
    bodies = {(r.status_code, r.content) for r in seen.values()}
    assert len(bodies) == 1, bodies
    status, body = bodies.pop()
    assert status == 400 and "error" in json.loads(body)
    failures = LoginEvent.objects.filter(outcome="failure", details__method="passkey")
    by_reason = {event.reason: event for event in failures}
    assert set(by_reason) == set(seen)
    assert by_reason["passkey_unknown"].account_id is None
    # The removed passkey is told apart by its hash and found on the account.
    assert by_reason["passkey_removed"].account_id == patron.pk
    assert (
        by_reason["passkey_removed"].details["credential"]
        == RemovedPasskey.objects.get().credential_hash
    )
    assert by_reason["passkey_invalid"].account_id == patron.pk
    assert not Client().session.get("_auth_user_id")


def test_an_answer_without_a_challenge_is_refused(enrolled):
    authenticator, client = enrolled
    options = post_json(client, "/inloggen/passkey/begin/", {}).json()["publicKey"]
    answer = authenticator.get(options)
    assert post_json(client, "/inloggen/passkey/", {"credential": answer}).status_code == 200
    client.post("/uitloggen/")
    replayed = post_json(client, "/inloggen/passkey/", {"credential": answer})
    assert replayed.status_code == 400
    assert LoginEvent.objects.filter(reason="passkey_invalid").latest("at").details["check"] in (
        "no_challenge",
        "sign_count",
    )


def test_the_guard_limits_passkey_answers_per_network(enrolled, monkeypatch):
    authenticator, _ = enrolled
    monkeypatch.setattr(passkey_flow, "PER_NETWORK", guard.Policy("pkaddr", free=2, max_delay=60))
    stranger = SoftAuthenticator()
    stranger.create({"challenge": "x", "user": {"id": "AAAA"}})
    answers = [passkey_sign_in(Client(), stranger).status_code for _ in range(4)]
    assert answers[:2] == [400, 400] and answers[-1] == 429
    limited = passkey_sign_in(Client(), authenticator)  # even the right passkey waits
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert LoginEvent.objects.filter(reason="throttled", details__method="passkey").exists()


def test_the_passkey_endpoints_need_the_csrf_token(enrolled):
    client = Client(enforce_csrf_checks=True)
    assert post_json(client, "/inloggen/passkey/begin/", {}).status_code == 403
    assert post_json(client, "/inloggen/passkey/", {}).status_code == 403


def test_deleting_the_account_deletes_its_passkeys(enrolled, patron):
    from bibid.identity.accounts.actors import Actor
    from bibid.identity.accounts.services import delete_account

    assert Passkey.objects.filter(account=patron).exists()
    delete_account(account=patron, actor=Actor.system("test"), reason="test")
    assert not Passkey.objects.exists() and not PasskeyUser.objects.exists()
