"""The colleague and volunteer rule through every path: changing the kind needs a manager,
is audited and reveals nothing the same day; search, diagnosis, feed and the audit list
never name a colleague's account."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.customers import selectors
from bibid.library.customers.models import Customer
from bibid.library.customers.services import CustomerData, create_customer, update_customer
from bibid.library.demo import demo_token
from bibid.library.loginaccounts import feed
from bibid.library.loginaccounts import services as login
from bibid.library.staff.models import AuditEvent

from .test_linking import actor, customer, signed_in

pytestmark = pytest.mark.django_db
NINA, ANNA = "2010000014", "2010000001"


@pytest.fixture
def offline(db):
    from bibid.library import demo as library_demo

    library_demo.load()


@pytest.fixture
def frozen():
    """The clock at noon today (Europe/Amsterdam), movable a day on."""
    moment = [timezone.make_aware(datetime.combine(clock.today(), time(12)))]
    clock.set_clock(lambda: moment[0])
    yield moment
    clock.set_clock(None)


def api(username: str, method: str, path: str, body=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {demo_token(username)}"}
    if method == "get":
        return Client().get(f"/api/v1{path}", **headers)
    return getattr(Client(), method)(
        f"/api/v1{path}", data=json.dumps(body or {}), content_type="application/json", **headers
    )


def without_username_in_email() -> None:
    """Nina's e-mail address holds her username; the search by e-mail (the library's own
    data) is not what these tests are about."""
    Customer.objects.filter(card_number=NINA).update(email="n.groot@example.org")
    Customer.objects.filter(card_number="2010000015").update(email="o.v@example.org")


def test_a_desk_member_cannot_change_a_colleague_s_kind(offline):
    for who in ("balie.maas", "helpdesk.maas"):
        refused = api(who, "patch", f"/customers/{NINA}", {"kind": "regular"})
        assert refused.status_code == 403 and refused.json()["code"] == "not_allowed_kind"
    assert customer(NINA).kind == "colleague"
    shown = api("balie.maas", "get", f"/customers/{NINA}").json()["login_account"]
    assert shown == {"linked": False, "username": None, "visible": False, "unconfirmed": 0}
    # Every attempt is in the audit trail (the refusal is not rolled back with it).
    assert (
        AuditEvent.objects.filter(
            action="customer_kind", result="refused", card_number=NINA
        ).count()
        == 2
    )
    # Making a regular customer a colleague is the manager's too.
    with pytest.raises(Problem) as other_way:
        update_customer(
            actor=actor("balie.maas"), customer=customer(ANNA), changes={"kind": "volunteer"}
        )
    assert other_way.value.code == "not_allowed_kind"
    # Other changes stay the desk's.
    update_customer(actor=actor("balie.maas"), customer=customer(NINA), changes={"phone": "010-1"})
    assert customer(NINA).phone == "010-1"


def test_inscribing_a_colleague_needs_a_manager(offline):
    data = CustomerData(name="Nieuwe Collega", birth_date=date(1990, 1, 1), kind="colleague")
    with pytest.raises(Problem) as refused:
        create_customer(actor=actor("balie.maas"), data=data)
    assert refused.value.code == "not_allowed_kind"
    assert not Customer.objects.filter(name="Nieuwe Collega").exists()
    assert AuditEvent.objects.filter(action="customer_kind", result="refused").exists()
    made = create_customer(actor=actor("manager.maas"), data=data)
    assert made.kind == "colleague" and made.is_private


def test_a_manager_changes_the_kind_audited_and_private_until_the_next_day(offline, frozen):
    without_username_in_email()
    changed = api("manager.maas", "patch", f"/customers/{NINA}", {"kind": "regular"})
    assert changed.status_code == 200, changed.content
    nina = customer(NINA)
    assert nina.kind == "regular" and nina.private_until == clock.today() + timedelta(days=1)
    event = AuditEvent.objects.get(action="customer_kind", result="ok")
    assert (event.who, event.detail["before"], event.detail["after"]) == (
        "manager.maas",
        "colleague",
        "regular",
    )
    # The same day nothing is revealed: not by the API, the menu, the console or search.
    assert nina.is_private
    assert (
        api("balie.maas", "get", f"/customers/{NINA}").json()["login_account"]["visible"] is False
    )
    with pytest.raises(Problem) as refused:
        login.show(actor=actor("balie.maas"), customer=nina)
    assert refused.value.code == "private_customer"
    page = signed_in("balie.maas").get(f"/console/klanten/{NINA}/").text
    assert 'data-testid="private-notice"' in page and "nina.degroot" not in page
    assert selectors.search(nina.library, "nina.degroot") == []
    # The audit list stays: what was seen before is not hidden afterwards.
    assert "Laatste handelingen" in page and "soort klant gewijzigd" in page
    # The next library day the customer is an ordinary customer.
    frozen[0] += timedelta(days=1)
    nina = customer(NINA)
    assert not nina.is_private
    assert [c.card_number for c in selectors.search(nina.library, "nina.degroot")] == [NINA]


def test_search_by_a_colleague_s_username_finds_nothing(offline):
    without_username_in_email()
    library = customer(NINA).library
    assert selectors.search(library, "nina.degroot") == []
    assert selectors.search(library, "otto.vermeer") == []  # a volunteer
    page = signed_in("balie.maas").get("/console/", {"q": "nina.degroot"}).text
    assert NINA not in page and "Nina de Groot" not in page
    # By name or card a colleague is found (the library's own data), without the account.
    by_name = signed_in("balie.maas").get("/console/", {"q": "Nina de"}).text
    assert "Nina de Groot" in by_name and "nina.degroot" not in by_name
    assert [c.card_number for c in selectors.search(library, "anna.jansen")] == [ANNA]


def test_the_audit_list_shows_for_colleagues_too(offline):
    without_username_in_email()
    AuditEvent.objects.create(
        library=customer(NINA).library,
        who="balie.maas",
        via="console",
        action="login_show",
        customer=customer(NINA),
        card_number=NINA,
        result="refused",
        detail={},
    )
    page = signed_in("balie.maas").get(f"/console/klanten/{NINA}/").text
    assert "Laatste handelingen" in page and "inlogaccount bekeken" in page
    assert "nina.degroot" not in page


def test_the_feed_does_not_write_a_colleague_s_username_into_the_audit(offline):
    nina = customer(NINA)
    feed.apply_change(
        nina.library,
        {
            "id": 7,
            "kind": "username_changed",
            "customer_ref": NINA,
            "account_id": str(nina.account_id),
            "data": {"username": "nina.nieuw"},
        },
    )
    event = AuditEvent.objects.get(action="feed_username_changed")
    assert "nina.nieuw" not in json.dumps(event.detail)
    assert customer(NINA).account_username == "nina.nieuw"  # the link itself follows


def test_diagnosis_does_not_name_a_colleague_s_account(staff, live_identity):
    """Against the real identity: Anna types Nina's username, which identity says is linked
    to customer 2010000014 here; the library says only that it is not Anna's account."""
    from bibid.library.helpdesk import diagnosis

    found = diagnosis.run(
        actor=staff("helpdesk.maas"),
        customer=customer(ANNA),
        problem="cannot-login",
        username="nina.degroot",
    )
    text = json.dumps(found.as_json(), ensure_ascii=False)
    assert NINA not in text and "Nina" not in text
    assert found.findings[0].code == "wrong-username"
    assert (
        "niet het inlogaccount dat aan deze klant gekoppeld is (anna.jansen)"
        in found.findings[0].summary
    )
    # A customer without an account typing it: offered as a link request, nothing named.
    fatima = diagnosis.run(
        actor=staff("helpdesk.maas"),
        customer=customer("2010000006"),
        problem="cannot-login",
        username="nina.degroot",
    )
    assert NINA not in json.dumps(fatima.as_json(), ensure_ascii=False)
    assert fatima.findings[0].code == "account-not-linked"
    assert fatima.findings[0].fix.operation == "account_link"
