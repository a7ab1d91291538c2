"""The library REST API: personal tokens, the same rules as the console, problem details."""

import json
import uuid

import pytest
from django.test import Client

from bibid.library.customers.models import Customer
from bibid.library.demo import demo_token

pytestmark = pytest.mark.django_db
OPERATION_IDS = {
    "customer_create",
    "customer_get",
    "customer_update",
    "subscription_create",
    "subscription_update",
    "login_account_show",
    "login_account_generate",
    "login_account_link",
    "login_account_unlink",
    "login_account_activate",
    "login_account_authorize",
    "login_account_rights",
    "login_account_reset_recovery_email",
    "login_account_send_password_reset",
    "login_account_unblock",
    "login_account_history",
    "diagnosis_run",
    "diagnosis_fix",
}


class Api:
    def __init__(self, username: str) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {demo_token(username)}"}

    def get(self, path):
        return self.client.get(f"/api/v1{path}", **self.headers)

    def send(self, method, path, body=None):
        return getattr(self.client, method)(
            f"/api/v1{path}",
            data=json.dumps(body or {}),
            content_type="application/json",
            **self.headers,
        )


def test_schema_lists_every_operation(demo):
    schema = Client().get("/api/v1/openapi.json").json()
    found = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert found >= OPERATION_IDS


def test_no_token_or_a_bad_token_is_401(demo):
    assert Client().get("/api/v1/customers/2010000001").status_code == 401
    bad = Client().get("/api/v1/customers/2010000001", HTTP_AUTHORIZATION="Bearer bibid_x")
    assert bad.status_code == 401 and bad["Content-Type"] == "application/problem+json"


def test_customer_create_get_update(demo):
    api = Api("balie.maas")
    created = api.send(
        "post",
        "/customers",
        {"name": "Tess Terpstra", "birth_date": "1999-09-09", "email": "tess@example.org"},
    )
    assert created.status_code == 201, created.content
    card = created.json()["card_number"]
    assert card.startswith("2010")
    assert api.get(f"/customers/{card}").json()["name"] == "Tess Terpstra"
    updated = api.send("patch", f"/customers/{card}", {"phone": "010-1234567"})
    assert updated.json()["phone"] == "010-1234567"


def test_subscription_create_and_update_push_rights(demo):
    api = Api("balie.maas")
    card = f"9{uuid.uuid4().int % 10**9:09d}"
    api.send(
        "post",
        "/customers",
        {"name": "Sub Tester", "birth_date": "1980-01-01", "card_number": card},
    )
    created = api.send("post", "/subscriptions", {"card_number": card, "type": "compact"})
    assert created.status_code == 201 and created.json()["state"] == "active"
    from bibid.library.loginaccounts.models import PendingPush

    assert PendingPush.objects.filter(customer__card_number=card).exists()
    updated = api.send("patch", f"/subscriptions/{created.json()['id']}", {"status": "cancelled"})
    assert updated.json()["state"] == "cancelled"


def test_login_account_operations_through_the_api(demo):
    api = Api("helpdesk.maas")
    shown = api.get("/customers/2010000001/login-account")
    assert shown.status_code == 200 and shown.json()["identity"]["username"] == "anna.jansen"
    rights = api.get("/customers/2010000001/login-account/rights")
    assert rights.status_code == 200
    history = api.get("/customers/2010000004/login-account/history")
    assert history.status_code == 200 and history.json()["identity"]["events"]


def test_privacy_and_tenant_rules_hold_in_the_api(demo):
    desk = Api("balie.maas")
    refused = desk.get("/customers/2010000014/login-account")
    assert refused.status_code == 403 and refused.json()["code"] == "private_customer"
    assert desk.get("/customers/2010000014").json()["login_account"] == {
        "linked": False,
        "username": None,
        "visible": False,
        "unconfirmed": 0,
    }
    assert Api("nina").get("/customers/2010000014/login-account").status_code == 200
    other = Api("balie.duin")
    assert other.get("/customers/2010000001").status_code == 404
    assert other.get("/customers/2010000001/login-account").status_code == 404
    assert desk.send("post", "/customers/2010000004/login-account/unblock").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "birth_date": "1990-01-01"},
        {"name": "x" * 300, "birth_date": "1990-01-01"},
        {"name": "Nul\u0000teken", "birth_date": "1990-01-01"},
        {"name": "Datum", "birth_date": 0},
        {"name": "Datum", "birth_date": "2999-01-01"},
        {"name": "Extra", "birth_date": "1990-01-01", "salary": 1},
        {"name": "Pas", "birth_date": "1990-01-01", "card_number": "a/b"},
    ],
)
def test_bad_input_is_a_4xx_problem_and_changes_nothing(demo, body):
    before = Customer.objects.count()
    response = Api("balie.maas").send("post", "/customers", body)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/problem+json"
    assert Customer.objects.count() == before


def test_unknown_path_and_method_are_problems(demo):
    api = Api("balie.maas")
    assert api.get("/nergens").status_code == 404
    assert api.get("/nergens")["Content-Type"] == "application/problem+json"
    put = api.send("put", "/customers")
    assert put.status_code == 405 and put["Content-Type"] == "application/problem+json"


def test_a_birth_date_is_from_1900_to_today(demo):
    """0918-05-08 is a typing error, not a customer: refused (400, the field named) when a
    customer is made and when one is changed; 1900-01-01 and today are fine."""
    api = Api("balie.maas")
    for bad, code in (
        ("0918-05-08", "birth_date_too_early"),
        ("1899-12-31", "birth_date_too_early"),
        ("2999-01-01", "birth_date_in_future"),
    ):
        made = api.send("post", "/customers", {"name": "Typfout", "birth_date": bad})
        assert made.status_code == 400, (bad, made.content)
        assert made.json()["code"] == code and made.json()["field"] == "birth_date"
    ok = api.send("post", "/customers", {"name": "Heel Oud", "birth_date": "1900-01-01"})
    assert ok.status_code == 201, ok.content
    card = ok.json()["card_number"]
    changed = api.send("patch", f"/customers/{card}", {"birth_date": "0918-05-08"})
    assert changed.status_code == 400 and changed.json()["code"] == "birth_date_too_early"
    assert api.get(f"/customers/{card}").json()["birth_date"] == "1900-01-01"
