"""Self-service lid worden against a real identity service."""

import uuid

import pytest
from django.test import Client

from bibid.library.customers.models import Customer
from bibid.library.loginaccounts import feed
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.subscriptions.models import Subscription
from bibid.library.tenants.models import Library

pytestmark = pytest.mark.django_db


def form(type_id: int, **extra) -> dict:
    tag = uuid.uuid4().hex[:8]
    return {
        "name": f"Nieuw Lid {tag}",
        "birth_date": "1990-02-03",
        "email": f"lid.{tag}@example.org",
        "subscription_type": type_id,
        "terms": "on",
        **extra,
    }


def compleet(library: str = "aan-de-maas") -> int:
    return Library.objects.get(code=library).subscription_types.get(code="compleet").pk


def test_sign_up_creates_a_pending_membership_and_an_inactive_account(demo, live_identity):
    data = form(compleet())
    response = Client().post("/aanmelden/aan-de-maas/", data)
    assert response.status_code == 200 and "kijk in je e-mail" in response.text.lower()
    customer = Customer.objects.get(name=data["name"])
    # No username is asked: the card number is the username until the patron chooses one
    # on the activation page.
    assert customer.account_username == customer.card_number
    subscription = customer.memberships.get().subscription
    assert subscription.status == Subscription.Status.PENDING
    state = live_identity.shell(
        "from bibid.identity.accounts.models import Account\n"
        f"a = Account.objects.get(username={customer.card_number!r})\n"
        "from bibid.identity.mail.models import OutboxMessage\n"
        "print(a.state, OutboxMessage.objects.filter(account_id=a.pk, kind='activation')"
        ".count())\n"
    )
    assert state.split() == ["inactive", "1"]


def test_the_form_asks_no_username(demo):
    page = Client().get("/aanmelden/aan-de-maas/")
    assert page.status_code == 200
    assert 'name="username"' not in page.text and "Gebruikersnaam" not in page.text


def test_activation_makes_the_membership_active(demo, live_identity):
    data = form(compleet())
    Client().post("/aanmelden/aan-de-maas/", data)
    card = Customer.objects.get(name=data["name"]).card_number
    maas = Library.objects.get(code="aan-de-maas")
    feed.follow(maas)
    live_identity.shell(
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.mail.models import OutboxMessage\n"
        "from bibid.identity.accounts import tokens\n"
        "from bibid.identity.selfservice import services\n"
        f"a = Account.objects.get(username={card!r})\n"
        "services.activate(token=tokens.make(a, tokens.Purpose.ACTIVATION),"
        " password='Een-wachtwoord-voor-het-nieuwe-lid')\n"
    )
    feed.follow(Library.objects.get(code="aan-de-maas"))
    customer = Customer.objects.get(name=data["name"])
    assert customer.memberships.get().subscription.status == Subscription.Status.ACTIVE
    assert PendingPush.objects.filter(customer=customer).exists()  # now it has rights


def test_an_unactivated_sign_up_lapses_after_the_purge(demo, live_identity):
    data = form(compleet())
    Client().post("/aanmelden/aan-de-maas/", data)
    card = Customer.objects.get(name=data["name"]).card_number
    maas = Library.objects.get(code="aan-de-maas")
    feed.follow(maas)
    live_identity.shell(
        "from datetime import timedelta\n"
        "from bibid.common import clock\n"
        "from bibid.identity.accounts.models import Account\n"
        f"Account.objects.filter(username={card!r})"
        ".update(created_at=clock.now() - timedelta(hours=25))\n"
    )
    live_identity.bibid("purge-inactive", "--no-progress")
    feed.follow(Library.objects.get(code="aan-de-maas"))
    customer = Customer.objects.get(name=data["name"])
    assert customer.account_id is None
    assert customer.memberships.get().subscription.status == Subscription.Status.LAPSED


def test_sign_up_checks_input_and_age(demo):
    client = Client()
    jeugd = Library.objects.get(code="aan-de-maas").subscription_types.get(code="jeugd").pk
    too_old = client.post("/aanmelden/aan-de-maas/", form(jeugd))
    assert too_old.status_code == 400 and "past niet bij je leeftijd" in too_old.text
    for bad in ({"email": "geen-adres"}, {"name": ""}, {"terms": ""}, {"birth_date": "2999-01-01"}):
        response = client.post("/aanmelden/aan-de-maas/", form(compleet(), **bad))
        assert response.status_code == 400, bad
    assert not Customer.objects.filter(name__startswith="Nieuw Lid").exists()


def test_a_library_without_online_sign_up_has_no_form(demo):
    Library.objects.filter(code="duinstreek").update(self_service_flows=["password_reset"])
    assert Client().get("/aanmelden/duinstreek/").status_code == 404
    assert "Bibliotheek Duinstreek" not in Client().get("/aanmelden/").text


def test_sign_up_at_half_past_midnight_on_29_february(demo, live_identity, clock):
    """The library's day, not UTC's (still the 28th there), and a leap day has no
    counterpart next year: the subscription runs 365 days as one sold at the desk does."""
    from datetime import UTC, date, datetime

    from bibid.library.subscriptions.services import default_end

    clock.current = datetime(2028, 2, 28, 23, 30, tzinfo=UTC)  # 00:30 in Amsterdam
    data = form(compleet())
    response = Client().post("/aanmelden/aan-de-maas/", data)
    assert response.status_code == 200, response.status_code
    subscription = Customer.objects.get(name=data["name"]).memberships.get().subscription
    assert (subscription.start, subscription.end) == (date(2028, 2, 29), date(2029, 2, 27))
    assert default_end(date(2026, 3, 1)) == date(2027, 2, 28)  # the desk's rule, unchanged
