"""Demo data: the states the seed talks about, never on a production database."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bibid.identity.accounts.models import Account
from bibid.identity.signin import flow

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _demo_provider_settings(settings):
    """What demo mode gives the provider (settings.py computes it at start-up, and unit
    tests start in production mode): plain-http redirect URIs and a signing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": key,
        "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    }


def load(*args) -> dict:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return json.loads(out.getvalue())


def test_refused_without_demo_mode(settings):
    settings.BIBID_DEMO = False
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("load_demo", stdout=io.StringIO())
    assert not Account.objects.exists()


def test_demo_patrons_are_in_the_states_they_show(settings):
    settings.BIBID_DEMO = True
    data = load()
    states = {p["username"]: p["state"] for p in data["patrons"]}
    named = ("anna.jansen", "bram.devries", "carla.smit", "dirk.bakker", "eva.visser")
    assert {name: states.pop(name) for name in named} == {
        "anna.jansen": "active",
        "bram.devries": "inactive",
        "carla.smit": "inactive-expired",
        "dirk.bakker": "blocked",
        "eva.visser": "active",
    }
    assert set(states.values()) == {"active"}
    anna = next(p for p in data["patrons"] if p["username"] == "anna.jansen")
    attempt = flow.Attempt(username="anna.jansen", password=anna["password"], ip="127.0.0.1")
    assert flow.sign_in(attempt).ok
    dirk = next(p for p in data["patrons"] if p["username"] == "dirk.bakker")
    blocked = flow.Attempt(username="dirk.bakker", password=dirk["password"], ip="127.0.0.1")
    assert flow.sign_in(blocked).throttled
    assert data["operators"][0]["username"] == "beheer"


def test_show_changes_nothing_and_if_empty_keeps_existing(settings):
    settings.BIBID_DEMO = True
    load()
    Account.objects.filter(username="anna.jansen").update(recovery_email="changed@example.org")
    load("--if-empty")
    assert Account.objects.get(username="anna.jansen").recovery_email == "changed@example.org"
    before = Account.objects.count()
    shown = load("--show")
    assert Account.objects.count() == before
    assert {p["username"] for p in shown["patrons"]} >= {"anna.jansen", "dirk.bakker"}
    load()  # a reset restores the original state
    assert Account.objects.get(username="anna.jansen").recovery_email == "anna.jansen@example.org"


def test_demo_links_and_stable_account_ids(settings):
    from bibid.common import demo as spec
    from bibid.identity.libraries.models import Link

    settings.BIBID_DEMO = True
    load()
    anna = Account.objects.get(username="anna.jansen")
    assert str(anna.public_id) == spec.account_public_id("anna.jansen")
    assert sorted(
        Link.objects.filter(account=anna).values_list("library__code", "customer_ref")
    ) == [("aan-de-maas", "2010000001"), ("duinstreek", "3020000001")]
    child = Link.objects.get(customer_ref="2010000010")  # the father's card
    assert child.account.username == "lotte.bos"
    outdated = Link.objects.get(customer_ref="2010000007")
    assert outdated.authorized_at is not None and outdated.rights == []


def test_reset_runs_any_number_of_times(settings):
    """`bibid demo` resets every time; the second run used to fail on the operator."""
    from bibid.identity.signin.models import LoginEvent

    settings.BIBID_DEMO = True
    first = load()
    accounts = Account.objects.count()
    anna = next(p for p in first["patrons"] if p["username"] == "anna.jansen")
    assert flow.sign_in(
        flow.Attempt(username="anna.jansen", password=anna["password"], ip="127.0.0.1")
    ).ok
    again = load()
    assert load() == again == first
    assert Account.objects.count() == accounts
    assert Account.objects.filter(username="beheer", is_superuser=True).count() == 1
    # Afresh: what happened before the reset is gone with the old accounts.
    assert not LoginEvent.objects.filter(username="anna.jansen", outcome="success").exists()


def test_the_demo_operator_has_a_published_one_time_code_secret(settings):
    import pyotp
    from django.test import Client

    from bibid.common import clock
    from bibid.identity import demo

    settings.BIBID_DEMO = True
    operator = load()["operators"][0]
    secret = operator["totp_secret"]
    assert secret == demo.demo_totp_secret("beheer")
    client = Client()
    signed = client.post("/inloggen/", {"username": "beheer", "password": operator["password"]})
    assert signed.status_code == 302
    # The admin asks for the second step (not its setup: the demo enrolled the secret), and
    # a code computed from the printed secret, as an app would, opens it.
    assert client.get("/beheer/").status_code == 302
    assert client.get("/beheer/tweede-stap/").status_code == 200
    step = client.post("/beheer/tweede-stap/", {"code": pyotp.TOTP(secret).at(clock.now())})
    assert step.status_code == 302
    assert client.get("/beheer/").status_code == 200
