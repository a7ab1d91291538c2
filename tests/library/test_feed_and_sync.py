"""What identity tells the library (changes feed), and the full push (bulk sync)."""

import pytest

from bibid.library.customers.models import Customer
from bibid.library.loginaccounts import feed, sync
from bibid.library.staff.models import AuditEvent
from bibid.library.tenants.models import Library

pytestmark = pytest.mark.django_db


def test_an_account_deleted_at_identity_clears_the_link(demo, restores_identity):
    maas = Library.objects.get(code="aan-de-maas")
    feed.follow(maas)  # catch up with whatever the feed already holds
    restores_identity.shell(
        "from bibid.identity.accounts.models import Account\n"
        "from bibid.identity.accounts.services import delete_account\n"
        "from bibid.identity.accounts.actors import Actor\n"
        "a = Account.objects.filter(username='ingrid.peters').first()\n"
        "a and delete_account(account=a, actor=Actor.system('test'), reason='patron')\n"
    )
    seen = feed.follow(Library.objects.get(code="aan-de-maas"))
    assert seen >= 1
    ingrid = Customer.objects.get(card_number="2010000009")
    assert ingrid.account_id is None and ingrid.account_username == ""
    assert AuditEvent.objects.filter(action="feed_account_deleted", customer=ingrid).exists()
    cursor = Library.objects.get(code="aan-de-maas").changes_cursor
    assert cursor > 0
    assert feed.follow(Library.objects.get(code="aan-de-maas")) == 0  # nothing twice


def test_sync_pushes_every_linked_customer(demo):
    duin = Library.objects.get(code="duinstreek")
    seen: list[int] = []
    counts = sync.sync(duin, progress=seen.append)
    linked = Customer.objects.filter(library=duin, account_id__isnull=False).count()
    outcomes = ("updated", "unchanged", "stale", "not_linked")
    assert sum(counts[k] for k in outcomes) == linked == sum(seen)
    assert counts["repaired"] == counts["updated"] + counts["not_linked"]
    again = sync.sync(duin)
    assert again["unchanged"] == linked and again["updated"] == 0
    assert again["repaired"] == 0  # nothing differed any more
