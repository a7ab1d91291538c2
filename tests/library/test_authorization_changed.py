"""Customers and subscriptions tell login accounts that a customer's data or rights changed
(customers.signals.authorization_changed) instead of importing it (the library's layers): the
push is still queued, and the authorization version counted up, in the change's own
transaction, so a change and its push commit together or not at all."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import transaction

from bibid.common import clock
from bibid.library.customers.models import Customer
from bibid.library.customers.services import update_customer
from bibid.library.customers.signals import authorization_changed
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.staff.permissions import Actor
from bibid.library.subscriptions.models import Membership, SubscriptionType
from bibid.library.subscriptions.services import create_subscription, update_subscription
from bibid.library.tenants.models import Library

SYSTEM = Actor.system("test")


class Rollback(Exception):
    pass


@pytest.fixture
def family(db):
    library = Library.objects.create(code="layers", name="Bibliotheek Lagen", card_prefix="LG")
    anna = Customer.objects.create(
        library=library, card_number="LG00000001", name="Anna Lagen", birth_date=date(1980, 5, 1)
    )
    ben = Customer.objects.create(
        library=library, card_number="LG00000002", name="Ben Lagen", birth_date=date(1979, 2, 3)
    )
    gezin = SubscriptionType.objects.create(
        library=library, code="gezin", name="Gezin", price=Decimal("80.00"), family=True
    )
    return anna, ben, gezin


def versions(*customers: Customer) -> list[int]:
    return [Customer.objects.get(pk=c.pk).authorization_version for c in customers]


def test_login_accounts_listens_once_even_if_ready_runs_again(family):
    anna, _ben, _type = family
    config = apps.get_app_config("loginaccounts")
    config.ready()
    config.ready()
    assert authorization_changed.has_listeners(Customer)
    update_customer(actor=SYSTEM, customer=anna, changes={"name": "Anna de Lagen"})
    # Connected twice, the push would have been requested twice (version 2).
    assert list(PendingPush.objects.values_list("customer_id", "version")) == [(anna.pk, 1)]


def test_a_name_change_queues_its_push_inside_the_change_s_transaction(family):
    anna, _ben, _type = family
    before = versions(anna)
    with pytest.raises(Rollback), transaction.atomic():
        update_customer(actor=SYSTEM, customer=anna, changes={"name": "Anna de Lagen"})
        # Before commit: the push row and the new version are part of the same transaction.
        assert PendingPush.objects.filter(customer=anna).count() == 1
        assert versions(anna)[0] > before[0]
        raise Rollback
    # Rolled back together: no name change, no push, no version.
    assert Customer.objects.get(pk=anna.pk).name == "Anna Lagen"
    assert not PendingPush.objects.filter(customer=anna).exists()
    assert versions(anna) == before

    anna.refresh_from_db()
    update_customer(actor=SYSTEM, customer=anna, changes={"name": "Anna de Lagen"})
    assert PendingPush.objects.filter(customer=anna).count() == 1
    assert versions(anna)[0] > before[0]


def test_a_change_the_login_service_does_not_hold_queues_nothing(family):
    anna, _ben, _type = family
    update_customer(
        actor=SYSTEM, customer=anna, changes={"phone": "010-1234567", "email": "anna@example.org"}
    )
    assert not PendingPush.objects.filter(customer=anna).exists()


def test_selling_and_changing_a_subscription_queues_a_push_for_every_member(family):
    anna, ben, gezin = family
    subscription = create_subscription(
        actor=SYSTEM, type_=gezin, main=anna, members=[(ben, Membership.Role.PARTNER)]
    )
    rows = {row.customer_id: row.version for row in PendingPush.objects.all()}
    assert rows == {anna.pk: 1, ben.pk: 1}
    after_sale = versions(anna, ben)

    update_subscription(
        actor=SYSTEM, subscription=subscription, end=clock.today() + timedelta(days=30)
    )
    # One row per customer, coalesced: the waiting push now carries the newer state.
    rows = {row.customer_id: row.version for row in PendingPush.objects.all()}
    assert rows == {anna.pk: 2, ben.pk: 2}
    assert all(now > then for now, then in zip(versions(anna, ben), after_sale, strict=True))


def test_a_receiver_that_fails_rolls_the_change_back(family):
    """send(), not send_robust(): a change is never committed without its push."""
    anna, _ben, _type = family

    def broken(sender, **kwargs):
        raise RuntimeError("the push could not be queued")

    authorization_changed.connect(broken, dispatch_uid="test.broken")
    try:
        with pytest.raises(RuntimeError):
            update_customer(actor=SYSTEM, customer=anna, changes={"birth_date": date(1981, 5, 1)})
    finally:
        authorization_changed.disconnect(dispatch_uid="test.broken")
    assert Customer.objects.get(pk=anna.pk).birth_date == date(1980, 5, 1)
    assert not PendingPush.objects.filter(customer=anna).exists()
