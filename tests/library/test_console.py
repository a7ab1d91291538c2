"""The staff console in-process: sign-in, search, the customer page, the menu, the desk."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bibid.common import demo as spec
from bibid.library.customers.models import Customer
from bibid.library.staff.models import AuditEvent, Staff
from tests.mfa_support import pass_second_step

pytestmark = pytest.mark.django_db
PASSWORDS = {s.username: s.password for s in spec.STAFF}


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post(
        "/console/inloggen/", {"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 302, response.content[:500]
    # The password opens the second step only (bibid.common.mfa); demo staff have an app.
    done = pass_second_step(client, Staff.objects.get(username=username), "/console/tweede-stap/")
    assert done.status_code == 302, done.content[:500]
    return client


def test_staff_sign_in_is_guarded_and_audited(demo):
    client = Client()
    page = client.post("/console/inloggen/", {"username": "balie.maas", "password": "nee"})
    assert page.status_code == 200 and "Onjuiste gebruikersnaam of wachtwoord" in page.text
    for _ in range(5):
        client.post("/console/inloggen/", {"username": "balie.maas", "password": "nee"})
    page = client.post(
        "/console/inloggen/", {"username": "balie.maas", "password": PASSWORDS["balie.maas"]}
    )
    assert page.status_code == 429
    # Six wrong passwords, then the refused (throttled) seventh: every attempt is audited.
    assert AuditEvent.objects.filter(action="staff_sign_in", result="refused").count() == 7


def test_the_console_needs_a_signed_in_staff_member(demo):
    response = Client().get("/console/")
    assert response.status_code == 302 and "/console/inloggen/" in response["Location"]


def test_search_by_name_card_email_and_username(demo):
    client = signed_in("balie.maas")
    assert "Bram de Vries" in client.get("/console/", {"q": "vries"}).text
    assert (
        client.get("/console/", {"q": "2010000002"})["Location"] == "/console/klanten/2010000002/"
    )
    assert "Bram de Vries" in client.get("/console/", {"q": "bram.devries@example.org"}).text
    assert "Lotte Bos" not in client.get("/console/", {"q": "lotte.bos"}).text  # Jeroen has it
    assert "Jeroen Bos" in client.get("/console/", {"q": "lotte.bos"}).text
    # Another library's customers are not found.
    assert "Piet Hendriks" not in client.get("/console/", {"q": "Piet"}).text


def test_search_costs_a_fixed_number_of_queries(demo):
    client = signed_in("balie.maas")
    with CaptureQueriesContext(connection) as few:
        client.get("/console/", {"q": "Bos"})
    with CaptureQueriesContext(connection) as many:
        client.get("/console/", {"q": "a"})
    assert len(many.captured_queries) == len(few.captured_queries)


def test_customer_page_shows_data_subscription_and_family(demo):
    client = signed_in("balie.maas")
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/console/klanten/2010000010/")
    assert page.status_code == 200
    for text in ("Jeroen Bos", "Gezin Compleet", "Karin Bos", "Lotte Bos", "lotte.bos"):
        assert text in page.text
    assert len(queries.captured_queries) <= 14


def test_customer_page_of_a_colleague_offers_nothing(demo):
    page = signed_in("balie.maas").get("/console/klanten/2010000014/")
    assert "kun je niet inzien of wijzigen" in page.text
    assert "Toon inlogaccount gegevens" not in page.text
    own = signed_in("nina").get("/console/klanten/2010000014/")
    assert "Toon inlogaccount gegevens" in own.text


def test_menu_read_shows_identity_s_answer(demo):
    client = signed_in("balie.maas")
    response = client.post("/console/klanten/2010000005/inlogaccount/gegevens/")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "eva.visser" in page.text
    assert 'data-testid="account-data"' in page.text


def test_menu_action_post_redirect_get(demo, restores_identity):
    client = signed_in("helpdesk.maas")
    page = client.get("/console/klanten/2010000004/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/console/klanten/2010000004/inlogaccount/deblokkeren/", {"csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "De blokkade is opgeheven" in page.text
    assert "De blokkade is opgeheven" not in client.get(response["Location"]).text  # shown once


def test_desk_cannot_use_helpdesk_items_even_by_posting(demo):
    client = signed_in("balie.maas")
    page = client.get("/console/klanten/2010000004/")
    assert "Deblokkeer" not in page.text
    client.post("/console/klanten/2010000004/inlogaccount/deblokkeren/")
    assert "Dit mag je met jouw rol niet doen" in client.get("/console/klanten/2010000004/").text


def test_generate_with_bad_input_shows_the_form_again(demo):
    client = signed_in("balie.maas")
    response = client.post(
        "/console/klanten/2010000006/inlogaccount/genereren/",
        {"genereer-username": "x" * 300, "genereer-recovery_email": "geen-adres"},
    )
    assert response.status_code == 400
    assert "Voer een geldig e-mailadres in" in response.text or "e-mail" in response.text
    assert Customer.objects.get(card_number="2010000006").account_id is None


def test_unknown_customer_and_unknown_action_are_404(demo):
    client = signed_in("balie.maas")
    missing = client.get("/console/klanten/0000/")
    assert missing.status_code == 404 and "Klant niet gevonden" in missing.text
    assert "Uitloggen" in missing.text  # still inside the console
    assert client.get("/console/klanten/3020000002/").status_code == 404  # other library
    assert client.post("/console/klanten/2010000001/inlogaccount/opblazen/").status_code == 404


def test_desk_registration_with_family_and_login_account(demo):
    client = signed_in("balie.maas")
    page = client.get("/console/lid-worden/")
    gezin = re.search(r'<option value="(\d+)">Gezin Compleet', page.text).group(1)
    import uuid

    tag = uuid.uuid4().hex[:6]
    data = {
        "name": f"Roos Meijer {tag}",
        "birth_date": "1987-03-04",
        "email": f"roos.{tag}@example.org",
        "phone": "",
        "subscription_type": gezin,
        "start": "",
        "login_account": "on",
        "username": f"roos.{tag}",
        "activate_now": "on",
        "gezin-TOTAL_FORMS": "4",
        "gezin-INITIAL_FORMS": "0",
        "gezin-MIN_NUM_FORMS": "0",
        "gezin-MAX_NUM_FORMS": "8",
        "gezin-0-role": "child",
        "gezin-0-name": f"Pim Meijer {tag}",
        "gezin-0-birth_date": "2018-06-01",
        **{f"gezin-{i}-role": "partner" for i in (1, 2, 3)},
    }
    done = client.post("/console/lid-worden/", data)
    assert done.status_code == 200, done.text[:3000]
    assert "Ingeschreven" in done.text
    assert "aangemaakt" in done.text and "geactiveerd" in done.text
    roos = Customer.objects.get(name=f"Roos Meijer {tag}")
    assert roos.account_username == f"roos.{tag}"
    pim = Customer.objects.get(name=f"Pim Meijer {tag}")
    assert pim.memberships.get().role == "child"


def test_desk_registration_refuses_a_child_on_an_adult_subscription(demo):
    client = signed_in("balie.maas")
    page = client.get("/console/lid-worden/")
    compleet = re.search(r'<option value="(\d+)">Volwassen Compleet', page.text).group(1)
    data = {
        "name": "Kees Klein",
        "birth_date": "2015-01-01",
        "email": "",
        "subscription_type": compleet,
        "gezin-TOTAL_FORMS": "0",
        "gezin-INITIAL_FORMS": "0",
        "gezin-MIN_NUM_FORMS": "0",
        "gezin-MAX_NUM_FORMS": "8",
    }
    response = client.post("/console/lid-worden/", data)
    assert response.status_code == 400 and "te jong" in response.text
    assert not Customer.objects.filter(name="Kees Klein").exists()


def test_api_tokens_are_shown_once_and_stored_hashed(demo):
    client = signed_in("balie.maas")
    page = client.post("/console/tokens/", {"name": "script"})
    raw = re.search(r'data-testid="new-token">([^<]+)<', page.text).group(1)
    from bibid.library.staff.models import ApiToken

    token = ApiToken.objects.get(name="script")
    assert raw.startswith("bibid_") and raw not in token.digest
    assert raw not in client.get("/console/tokens/").text
