"""Identity's operators: the admin (/beheer/) asks for the second step after the shared
sign-in page's password (a step-up), enrols an operator without a factor at the first visit,
limits guessing, and lets one operator reset another's factor (audited)."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client

from bibid.common.mfa.models import Authenticator, MfaEvent
from bibid.identity.accounts.models import Account
from tests.mfa_support import next_code, seed_totp

pytestmark = pytest.mark.django_db
PASSWORD = "Beheer-van-Bibid-test"
STEP = "/beheer/tweede-stap/"
SETUP = "/beheer/tweede-stap/instellen/"


def password_only(username: str) -> Client:
    client = Client()
    response = client.post("/inloggen/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def operator(db):
    return Account.objects.create_superuser("beheer", PASSWORD)


def test_the_admin_is_unreachable_with_a_password_alone(operator):
    seed_totp(operator)
    client = password_only("beheer")
    response = client.get("/beheer/accounts/account/")
    assert response.status_code == 302
    response = client.get(response["Location"])  # the admin's login: to the second step
    assert response.status_code == 302 and response["Location"] == STEP
    assert client.post(STEP, {"code": "000000"}).status_code == 200
    assert client.get("/beheer/").status_code == 302
    done = client.post(STEP, {"code": next_code(operator)})
    assert done.status_code == 302 and done["Location"] == "/beheer/accounts/account/"
    assert client.get("/beheer/accounts/account/").status_code == 200
    assert MfaEvent.objects.filter(user=operator, action="second_factor_ok").count() == 1
    assert MfaEvent.objects.filter(user=operator, action="second_factor_refused").count() == 1


def test_an_operator_enrols_at_the_first_visit(operator):
    client = password_only("beheer")
    assert client.get(STEP)["Location"] == SETUP
    page = client.get(SETUP)
    secret = re.search(r'data-testid="totp-secret">([^<]+)<', page.text).group(1).replace(" ", "")
    done = client.post(SETUP, {"code": pyotp.TOTP(secret).now()})
    assert done["Location"] == "/beheer/tweede-stap/herstelcodes/"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", client.get(done["Location"]).text)
    assert len(codes) == 10
    assert client.get("/beheer/").status_code == 200
    # The recovery code works once, in a new session.
    again = password_only("beheer")
    assert again.post(STEP, {"code": codes[3]}).status_code == 302
    third = password_only("beheer")
    assert third.post(STEP, {"code": codes[3]}).status_code == 200


def test_guessing_at_the_admin_is_limited(operator):
    seed_totp(operator)
    client = password_only("beheer")
    statuses = [client.post(STEP, {"code": "000001"}).status_code for _ in range(6)]
    assert statuses[0] == 200 and statuses[-1] == 429
    response = client.post(STEP, {"code": next_code(operator)})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1


def test_patrons_are_not_asked_and_do_not_reach_the_admin(operator, anna):
    client = Client()
    client.post("/inloggen/", {"username": "anna.jansen", "password": "Een-lange-zin-vol-boeken"})
    assert client.get(STEP)["Location"].startswith("/inloggen/")
    assert client.get(SETUP)["Location"].startswith("/inloggen/")
    assert client.get("/beheer/", follow=True).status_code == 403


def test_an_operator_resets_another_operators_factor(operator):
    other = Account.objects.create_superuser("beheer.twee", PASSWORD)
    seed_totp(other)
    seed_totp(operator)
    client = password_only("beheer")
    assert client.post(STEP, {"code": next_code(operator)}).status_code == 302
    factor = Authenticator.objects.get(user=other)
    response = client.post(
        "/beheer/mfa/authenticator/",
        {"action": "reset_second_step", "_selected_action": [factor.pk]},
    )
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=other).exists()
    event = MfaEvent.objects.get(user=other, action="reset")
    assert event.actor == "operator:beheer"
    assert password_only("beheer.twee").get(STEP)["Location"] == SETUP
