"""The second step of staff at the console: no session after the password alone, codes
computed as an app does (pyotp), replay and guessing refused, recovery codes once, the
enrolment at the first sign-in, a reset by a manager of the same library only, the admin
unreachable with a password alone, and scoped, expiring API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from django.test import Client

from bibid.common import clock
from bibid.common import demo as spec
from bibid.common.mfa.models import Authenticator, MfaEvent, RecoveryCode
from bibid.library.demo import demo_totp_secret
from bibid.library.staff import tokens
from bibid.library.staff.models import ApiToken, AuditEvent, Staff
from bibid.library.staff.permissions import Actor
from tests.mfa_support import next_code

pytestmark = pytest.mark.django_db
PASSWORDS = {s.username: s.password for s in spec.STAFF}
STEP = "/console/tweede-stap/"
SETUP = "/console/tweede-stap/instellen/"


def password_only(username: str, client: Client | None = None) -> Client:
    client = client or Client()
    response = client.post(
        "/console/inloggen/", {"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 302 and response["Location"] == STEP
    return client


def signed_in(username: str) -> Client:
    client = password_only(username)
    staff = Staff.objects.get(username=username)
    assert client.post(STEP, {"code": next_code(staff)}).status_code == 302
    return client


def test_a_password_alone_gives_no_session_and_a_code_does(demo):
    client = password_only("balie.maas")
    assert "_auth_user_id" not in client.session
    assert client.get("/console/").status_code == 302  # still not signed in
    assert client.get("/beheer/").status_code == 302
    staff = Staff.objects.get(username="balie.maas")
    # A code computed here from the demo's published secret, as an app would.
    code = pyotp.TOTP(demo_totp_secret("balie.maas")).at(clock.now())
    response = client.post(STEP, {"code": code})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert AuditEvent.objects.filter(staff=staff, action="second_factor_ok").count() == 1


def test_a_code_is_refused_the_second_time_and_one_message_for_all(demo):
    staff = Staff.objects.get(username="balie.maas")
    code = pyotp.TOTP(demo_totp_secret("balie.maas")).at(clock.now())
    first = password_only("balie.maas")
    assert first.post(STEP, {"code": code}).status_code == 302
    again = password_only("balie.maas")
    replay = again.post(STEP, {"code": code})
    wrong = again.post(STEP, {"code": "000000" if code != "000000" else "111111"})
    assert replay.status_code == wrong.status_code == 200
    assert "_auth_user_id" not in again.session
    message = "Dat lukte niet. Controleer de code of probeer het opnieuw."
    assert message in replay.text and message in wrong.text
    reasons = list(
        AuditEvent.objects.filter(staff=staff, action="second_factor_refused").values_list(
            "detail__reason", flat=True
        )
    )
    assert sorted(reasons) == ["replayed", "wrong_code"]


def test_guessing_the_second_step_is_limited_with_429(demo):
    client = password_only("balie.maas")
    statuses = [client.post(STEP, {"code": "000001"}).status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
    staff = Staff.objects.get(username="balie.maas")
    # Even the right code waits now: the guard counts before it checks.
    blocked = client.post(STEP, {"code": next_code(staff)})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session
    # Another staff member's second step has its own lane.
    assert (
        Client()
        .post(
            "/console/inloggen/",
            {"username": "helpdesk.maas", "password": PASSWORDS["helpdesk.maas"]},
        )
        .status_code
        == 302
    )


def test_a_pending_second_step_ends_after_five_minutes(demo):
    client = password_only("balie.maas")
    staff = Staff.objects.get(username="balie.maas")
    later = clock.now() + timedelta(minutes=6)
    clock.set_clock(lambda: later)
    try:
        response = client.post(STEP, {"code": next_code(staff)})
    finally:
        clock.set_clock(None)
    assert response.status_code == 302 and response["Location"] == "/console/inloggen/"


def test_first_sign_in_enrols_an_app_shows_recovery_codes_once_each_used_once(demo):
    staff = Staff.objects.get(username="balie.maas")
    Authenticator.objects.filter(user=staff).delete()
    client = password_only("balie.maas")
    assert client.get(STEP)["Location"] == SETUP
    page = client.get(SETUP)
    assert page.status_code == 200 and "<svg" in page.text
    secret = re.search(r'data-testid="totp-secret">([^<]+)<', page.text).group(1).replace(" ", "")
    assert client.post(SETUP, {"code": "123456"}).status_code in (400, 302)
    done = client.post(SETUP, {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and done["Location"] == "/console/tweede-stap/herstelcodes/"
    codes_page = client.get(done["Location"])
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", codes_page.text)
    assert len(codes) == 10 and RecoveryCode.objects.filter(user=staff).count() == 10
    assert not any(c in RecoveryCode.objects.values_list("digest", flat=True) for c in codes)
    assert client.get("/console/").status_code == 200  # signed in after enrolling
    assert codes[0] not in client.get("/console/tweede-stap/herstelcodes/").text  # once
    assert (
        AuditEvent.objects.filter(staff=staff, action="enrolled").exclude(who="demo").count() == 1
    )
    # A recovery code instead of the app: once.
    again = password_only("balie.maas")
    assert again.post(STEP, {"code": codes[0]}).status_code == 302
    assert AuditEvent.objects.filter(staff=staff, action="recovery_code_used").count() == 1
    third = password_only("balie.maas")
    assert third.post(STEP, {"code": codes[0]}).status_code == 200
    assert "_auth_user_id" not in third.session


def test_enrolment_is_only_for_someone_without_a_factor(demo):
    client = password_only("balie.maas")  # the demo gave an app already
    assert client.get(SETUP).status_code == 302
    assert Client().get(SETUP).status_code == 302  # nobody pending
    assert Client().get(STEP)["Location"] == "/console/inloggen/"


def test_a_manager_resets_a_colleague_of_their_own_library_only(demo):
    desk = Staff.objects.get(username="balie.maas")
    other = Staff.objects.filter(library__code="duinstreek").first()
    manager = signed_in("manager.maas")
    listing = manager.get("/console/medewerkers/")
    assert listing.status_code == 200 and desk.name in listing.text
    assert other.name not in listing.text
    rogue = manager.post(f"/console/medewerkers/{other.pk}/tweede-stap-herstellen/")
    assert rogue.status_code == 404
    assert Authenticator.objects.filter(user=other).exists()
    done = manager.post(f"/console/medewerkers/{desk.pk}/tweede-stap-herstellen/")
    assert done.status_code == 302
    assert not Authenticator.objects.filter(user=desk).exists()
    event = AuditEvent.objects.get(action="reset", staff=desk)
    assert event.who == "manager.maas" and event.result == "ok"
    # The demo colleague has no address: the page says to tell them in person.
    assert "laat het de medewerker zelf weten" in manager.get("/console/medewerkers/").text
    # A desk member may not.
    helper = signed_in("helpdesk.maas")
    assert helper.post(f"/console/medewerkers/{desk.pk}/tweede-stap-herstellen/").status_code == 403
    # The colleague enrols again at the next sign-in.
    assert password_only("balie.maas").get(STEP)["Location"] == SETUP


def test_the_library_admin_needs_the_second_step(demo):
    operator = Staff.objects.get(username="beheer")
    client = Client()
    client.force_login(operator)  # a session made without the second step
    response = client.get("/beheer/")
    assert response.status_code == 302 and "/beheer/login/" in response["Location"]
    assert client.get(response["Location"])["Location"].startswith("/console/inloggen/")
    password = Client()
    password.post(
        "/console/inloggen/", {"username": "beheer", "password": "Beheer-bibliotheeksysteem-2026"}
    )
    assert password.get("/beheer/").status_code == 302
    assert password.post(STEP, {"code": next_code(operator)}).status_code == 302
    assert password.get("/beheer/").status_code == 200
    assert MfaEvent.objects.filter(user=operator, action="second_factor_ok").exists()


def test_api_tokens_have_a_scope_no_higher_than_their_owner_and_expire(demo):
    from bibid.common.problems import Problem

    desk = Staff.objects.get(username="balie.maas")
    manager = Staff.objects.get(username="manager.maas")
    with pytest.raises(Problem):
        tokens.create_token(actor=Actor(desk), staff=desk, name="x", role="manager")
    with pytest.raises(Problem):
        tokens.create_token(actor=Actor(desk), staff=desk, name="x", days=366)
    raw, token = tokens.create_token(actor=Actor(manager), staff=manager, name="s", role="desk")
    assert token.expires_at - clock.now() > timedelta(days=89)
    assert tokens.staff_for(raw).role == "desk"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    # Reading a customer's login history needs the helpdesk role: the desk scope may not.
    history = "/api/v1/customers/2010000001/login-account/history"
    scoped = Client().get(history, **headers)
    full_raw, _t = tokens.create_token(actor=Actor(manager), staff=manager, name="m")
    full = Client().get(history, HTTP_AUTHORIZATION=f"Bearer {full_raw}")
    assert scoped.status_code == 403 and full.status_code != 403
    ApiToken.objects.filter(pk=token.pk).update(expires_at=clock.now() - timedelta(seconds=1))
    assert tokens.staff_for(raw) is None
    assert Client().get("/api/v1/customers", {"q": "x"}, **headers).status_code == 401
    # Made in the console: the role and the days asked for.
    page = signed_in("manager.maas").post(
        "/console/tokens/", {"name": "script", "role": "helpdesk", "days": "30"}
    )
    assert 'data-testid="new-token"' in page.text
    made = ApiToken.objects.get(name="script")
    assert made.role == "helpdesk" and made.expires_at - clock.now() <= timedelta(days=30)
