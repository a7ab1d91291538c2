"""The identity admin: one guarded way in, no passwords shown, every change audited."""

import re

import pytest
from django.test import Client

from bibid.common.guard import lanes as guard
from bibid.identity.accounts.models import Account, AccountEvent
from tests.mfa_support import pass_second_step

pytestmark = pytest.mark.django_db
OPERATOR_PASSWORD = "Beheer-van-Bibid-test"


@pytest.fixture
def operator(db):
    return Account.objects.create_superuser("beheer", OPERATOR_PASSWORD)


@pytest.fixture
def admin_client(operator):
    client = Client()
    client.post("/inloggen/", {"username": "beheer", "password": OPERATOR_PASSWORD})
    # The admin asks for the second step too (bibid.common.mfa): an app, a computed code.
    assert pass_second_step(client, operator, "/beheer/tweede-stap/").status_code == 302
    return client


def test_admin_login_goes_through_the_guarded_sign_in(client):
    response = client.get("/beheer/login/?next=/beheer/")
    assert response.status_code == 302
    assert response["Location"] == "/inloggen/?next=%2Fbeheer%2F"


def test_patrons_cannot_use_the_admin(client, anna):
    client.post("/inloggen/", {"username": "anna.jansen", "password": "Een-lange-zin-vol-boeken"})
    response = client.get("/beheer/", follow=True)
    assert response.status_code == 403 and "Geen toegang" in response.text


def test_search_and_change_page_never_show_a_password(admin_client, anna):
    listing = admin_client.get("/beheer/accounts/account/?q=ANNA")
    assert listing.status_code == 200 and "anna.jansen" in listing.text
    page = admin_client.get(f"/beheer/accounts/account/{anna.pk}/change/")
    assert page.status_code == 200
    assert anna.password not in page.text
    assert "md5$" not in page.text and "argon2" not in page.text
    assert 'name="password"' not in page.text


def test_no_adding_accounts_by_hand(admin_client):
    assert admin_client.get("/beheer/accounts/account/add/").status_code == 403


def test_an_operator_edit_is_recorded(admin_client, make_account):
    account = make_account("bram.devries", password=None, active=False)
    page = admin_client.get(f"/beheer/accounts/account/{account.pk}/change/")
    form = dict(re.findall(r'name="(csrfmiddlewaretoken)" value="([^"]+)"', page.text)[:1])
    form.update(
        {
            "username": "bram.devries",
            "state": "active",
            "recovery_email": "",
            "recovery_email_confirmed_at_0": "",
            "recovery_email_confirmed_at_1": "",
        }
    )
    response = admin_client.post(f"/beheer/accounts/account/{account.pk}/change/", form)
    assert response.status_code == 302, response.text[:2000]
    account.refresh_from_db()
    assert account.state == "active"
    event = AccountEvent.objects.get(kind="updated", account_public_id=account.public_id)
    assert event.actor == "operator:beheer"
    assert event.data["changed"]["state"] == ["inactive", "active"]


def test_an_operator_sees_and_lifts_a_block(admin_client, anna):
    lane = [guard.account_lane(anna.username_key)]
    for _ in range(7):
        guard.reserve(lane)
    page = admin_client.get(f"/beheer/accounts/account/{anna.pk}/change/")
    assert "geblokkeerd tot" in page.text
    assert "Recente inlogpogingen" in page.text  # the sign-in's part of the account page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    admin_client.post(
        "/beheer/accounts/account/",
        {"csrfmiddlewaretoken": token, "action": "lift_blocks", "_selected_action": [anna.pk]},
    )
    assert guard.account_block(anna.username_key).blocked_until is None
    event = AccountEvent.objects.get(kind="block_lifted")
    assert event.data == {"was_blocked": True} and event.actor == "operator:beheer"


def test_deleting_in_the_admin_leaves_a_tombstone(admin_client, anna):
    page = admin_client.get(f"/beheer/accounts/account/{anna.pk}/delete/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    admin_client.post(
        f"/beheer/accounts/account/{anna.pk}/delete/", {"csrfmiddlewaretoken": token, "post": "yes"}
    )
    assert not Account.objects.filter(pk=anna.pk).exists()
    assert AccountEvent.objects.get(kind="deleted").username == "anna.jansen"


def test_logs_are_read_only(admin_client):
    assert admin_client.get("/beheer/signin/loginevent/").status_code == 200
    assert admin_client.get("/beheer/signin/loginevent/add/").status_code == 403
    assert admin_client.get("/beheer/accounts/accountevent/add/").status_code == 403
