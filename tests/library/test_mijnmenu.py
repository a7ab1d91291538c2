"""Mijn Menu: a signed-in patron sees their own membership at one library, and nothing else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bibid.common import clock
from bibid.common import demo as spec
from bibid.common.rp import patron as rp_patron
from bibid.common.rp import services as rp_services
from bibid.common.rp.patron import Patron, PatronRight
from bibid.library.customers.models import Customer
from bibid.library.mijnmenu import texts
from bibid.library.staff.models import AuditEvent
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.tenants.models import Library

pytestmark = pytest.mark.django_db

MAAS, DUIN = "maas", "duin"


# -- personas --------------------------------------------------------------------------------


@dataclass
class Personas:
    maas: Library
    duin: Library
    marieke: Customer  # main member of a family subscription (Gezin Compleet)
    peter: Customer  # her partner
    sanne: Customer  # their child
    hanna: Customer  # her subscription ended
    ingrid: Customer  # a subscription without online lending
    fatima: Customer  # a customer without any subscription
    kees: Customer  # a customer of Duinstreek
    family_subscription: Subscription


def _library(code: str, name: str, prefix: str) -> Library:
    library = Library(
        code=code,
        name=name,
        card_prefix=prefix,
        identity_client_id=f"c-{code}",
        self_service_flows=[Library.Flow.SIGNUP.value],
    )
    library.identity_client_secret = "secret-" + code
    library.save()
    for t in spec.SUBSCRIPTION_TYPES:
        SubscriptionType.objects.create(
            library=library,
            code=t.code,
            name=t.name,
            price=Decimal(t.price),
            min_age=t.min_age,
            max_age=t.max_age,
            family=t.family,
            rights=t.rights,
        )
    return library


_cards = iter(range(1, 10_000))


def _customer(
    library: Library, name: str, born: str, *, linked: bool = True, phone: str = ""
) -> Customer:
    slug = name.lower().replace(" ", ".")
    return Customer.objects.create(
        library=library,
        card_number=f"{library.card_prefix}{next(_cards):06d}",
        name=name,
        birth_date=date.fromisoformat(born),
        email=f"{slug}@example.org",
        phone=phone,
        account_id=uuid.uuid4() if linked else None,
        account_username=slug if linked else "",
    )


def _subscribe(
    main: Customer,
    type_code: str,
    *,
    start: date,
    end: date,
    family: tuple[tuple[Customer, str], ...] = (),
) -> Subscription:
    subscription = Subscription.objects.create(
        library=main.library,
        start=start,
        end=end,
        type=SubscriptionType.objects.get(library=main.library, code=type_code),
    )
    Membership.objects.create(subscription=subscription, customer=main, role="main")
    for member, role in family:
        Membership.objects.create(subscription=subscription, customer=member, role=role)
    return subscription


@pytest.fixture
def people() -> Personas:
    today = clock.today()
    start, end = today - timedelta(days=100), today + timedelta(days=265)
    maas = _library(MAAS, "Bibliotheek aan de Maas", "2010")
    duin = _library(DUIN, "Bibliotheek Duinstreek", "3020")
    marieke = _customer(maas, "Marieke Smit", "1980-04-02", phone="06-12345678")
    peter = _customer(maas, "Peter Smit", "1979-11-30", phone="06-87654321")
    sanne = _customer(maas, "Sanne Smit", "2014-06-15")
    family = _subscribe(
        marieke, "gezin", start=start, end=end, family=((peter, "partner"), (sanne, "child"))
    )
    hanna = _customer(maas, "Hanna Koster", "1988-04-09")
    _subscribe(hanna, "compleet", start=today - timedelta(days=400), end=today - timedelta(days=35))
    ingrid = _customer(maas, "Ingrid Peters", "1973-06-15")
    _subscribe(ingrid, "basis", start=start, end=end)
    fatima = _customer(maas, "Fatima el Amrani", "1995-03-03")
    kees = _customer(duin, "Kees Duin", "1960-01-01")
    _subscribe(kees, "compact", start=start, end=end)
    return Personas(maas, duin, marieke, peter, sanne, hanna, ingrid, fatima, kees, family)


# -- signing in: the patron in the session, as the relying party keeps them ------------------


def patron_of(customer: Customer, **extra) -> Patron:
    return Patron(sub=str(customer.account_id), username=customer.account_username, **extra)


def sign_in(client, library: str, patron: Patron) -> None:
    """Write the patron under this library's session key (rp.patron.session_key)."""
    session = client.session
    session[f"{rp_patron.SESSION_KEY}:{library}"] = patron.as_session()
    session.save()


@pytest.fixture(autouse=True)
def identity_calls(monkeypatch):
    """The relying party's calls to identity: the session is alive, events are recorded."""
    calls = {"refresh": 0, "events": []}

    def refresh_rights(request):
        calls["refresh"] += 1
        return rp_patron.get_patron(request)

    def report_event(request, kind, details):
        calls["events"].append((kind, details))

    monkeypatch.setattr(rp_services, "refresh_rights", refresh_rights)
    monkeypatch.setattr(rp_services, "report_event", report_event)
    # The sign-in's own session check (tokens, back channel) is tested over real HTTP in
    # tests/e2e/test_oidc_http.py and test_browser_oidc.py; here the session is alive.
    monkeypatch.setattr(rp_services, "session_alive", lambda request: True)
    return calls


def url(library: str) -> str:
    return f"/mijn/{library}/"


# -- who may see the page ---------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in_for_that_library(client, people):
    page = client.get(url(MAAS))
    assert page.status_code == 302
    assert page["Location"] == f"/mijn/{MAAS}/inloggen/?next=%2Fmijn%2F{MAAS}%2F"


def test_an_unknown_library_is_404_signed_in_or_not(client, people):
    assert client.get(url("nergens")).status_code == 404
    sign_in(client, "nergens", patron_of(people.marieke))
    page = client.get(url("nergens"))
    assert page.status_code == 404 and "Marieke" not in page.text


def test_only_reading_is_allowed(client, people):
    sign_in(client, MAAS, patron_of(people.marieke))
    assert client.post(url(MAAS)).status_code == 405


# -- what the patron sees ---------------------------------------------------------------------


def test_the_patron_sees_own_data_subscription_family_and_rights(client, people):
    sign_in(client, MAAS, patron_of(people.marieke))
    page = client.get(url(MAAS))
    assert page.status_code == 200
    text = page.text
    m = people.marieke
    for shown in (
        m.name,
        m.card_number,
        "02-04-1980",
        m.email,
        m.phone,
        "Gezin Compleet",
        "Lopend",
        "Bibliotheek aan de Maas",
    ):
        assert shown in text
    s = people.family_subscription
    assert f"{s.start:%d-%m-%Y} t/m {s.end:%d-%m-%Y}" in text
    assert "Peter Smit · partner" in text and "Sanne Smit · kind" in text
    until = f"{s.end:%d-%m-%Y}"
    assert f"E-books: 10 tegelijk, geldig tot {until}" in text
    assert f"Luisterboeken: 10 tegelijk, geldig tot {until}" in text
    assert "no-subscription" not in text
    assert page["Cache-Control"].count("no-store") == 1  # personal data: never cached


def test_family_members_show_as_names_and_roles_only(client, people):
    sign_in(client, MAAS, patron_of(people.marieke))
    text = client.get(url(MAAS)).text
    for member in (people.peter, people.sanne):
        assert member.name in text
        assert member.card_number not in text
        assert member.email not in text
        assert f"{member.birth_date:%d-%m-%Y}" not in text
    assert people.peter.phone not in text


def test_a_child_sees_own_youth_rights_and_only_the_names_of_the_parents(client, people):
    sign_in(client, MAAS, patron_of(people.sanne))
    text = client.get(url(MAAS)).text
    assert people.sanne.card_number in text and "15-06-2014" in text
    assert "Marieke Smit · hoofdlid" in text and "Peter Smit · partner" in text
    assert people.marieke.card_number not in text and people.marieke.email not in text
    assert "Jouw rol" in text and "kind" in text
    assert "E-books: 10 tegelijk, alleen jeugdtitels, geldig tot" in text


def test_the_links_sign_out_manage_account_and_online_library(client, people, settings):
    settings.BIBID_PUBLIC_URLS = {
        **settings.BIBID_PUBLIC_URLS,
        "identity": "https://login.example",
        "reading": "https://online.example",
    }
    sign_in(client, MAAS, patron_of(people.marieke))
    text = client.get(url(MAAS)).text
    assert 'href="https://login.example/" data-testid="manage-account">Inlogaccount beheren' in text
    assert 'href="https://online.example/inloggen/?next=/"' in text  # arrives signed in
    assert f'<form method="post" action="/mijn/{MAAS}/uitloggen/">' in text
    assert 'name="csrfmiddlewaretoken"' in text


def test_an_ended_subscription_is_said_plainly(client, people):
    sign_in(client, MAAS, patron_of(people.hanna))
    page = client.get(url(MAAS))
    assert page.status_code == 200
    ended = clock.today() - timedelta(days=35)
    assert f"Je abonnement is afgelopen op {ended:%d-%m-%Y}." in page.text
    assert "Afgelopen" in page.text
    assert "Je kunt nu niet lenen in de Online Bibliotheek" in page.text
    assert "geldig tot" not in page.text


def test_no_subscription_at_all(client, people):
    sign_in(client, MAAS, patron_of(people.fatima))
    text = client.get(url(MAAS)).text
    assert "Je hebt geen abonnement bij Bibliotheek aan de Maas." in text
    assert people.fatima.card_number in text


def test_a_subscription_without_online_lending(client, people):
    sign_in(client, MAAS, patron_of(people.ingrid))
    text = client.get(url(MAAS)).text
    assert "Lopend" in text
    assert "Je abonnement geeft geen recht op lenen in de Online Bibliotheek" in text


def test_older_subscriptions_are_listed_too(client, people):
    today = clock.today()
    _subscribe(
        people.marieke,
        "compact",
        start=today - timedelta(days=800),
        end=today - timedelta(days=436),
    )
    sign_in(client, MAAS, patron_of(people.marieke))
    text = client.get(url(MAAS)).text
    assert "Alle abonnementen" in text and "Volwassen Compact" in text
    assert "E-books: 10 tegelijk" in text  # the current one counts, not the old one


# -- one library's patron sees nothing of another ---------------------------------------------


def test_a_patron_of_one_library_sees_nothing_at_another(client, people, identity_calls):
    marieke = patron_of(
        people.marieke,
        libraries=({"code": MAAS, "name": "Bibliotheek aan de Maas", "customer_ref": "x"},),
    )
    sign_in(client, DUIN, marieke)  # signed in at Duinstreek's Mijn Menu with her account
    page = client.get(url(DUIN))
    assert page.status_code == 200
    text = page.text
    assert "niet gekoppeld aan een lidmaatschap van Bibliotheek Duinstreek" in text
    assert people.marieke.card_number not in text and people.kees.name not in text
    assert "Bibliotheek aan de Maas" in text  # where her account does belong
    assert identity_calls["events"] == [
        ("not_linked", {"library": DUIN, "linked_at_identity": False})
    ]


def test_the_sign_in_at_one_library_does_not_count_at_another(client, people):
    sign_in(client, MAAS, patron_of(people.marieke))
    assert client.get(url(MAAS)).status_code == 200
    page = client.get(url(DUIN))
    assert page.status_code == 302
    assert page["Location"].startswith(f"/mijn/{DUIN}/inloggen/")


def test_the_same_account_linked_at_two_libraries_sees_each_library_s_customer(client, people):
    people.kees.account_id = people.marieke.account_id  # one login for all libraries
    people.kees.save()
    patron = patron_of(people.marieke)
    sign_in(client, MAAS, patron)
    sign_in(client, DUIN, patron)
    assert people.marieke.card_number in client.get(url(MAAS)).text
    duin = client.get(url(DUIN)).text
    assert people.kees.card_number in duin and people.marieke.card_number not in duin
    assert "6 per jaar" in duin


# -- not linked ----------------------------------------------------------------------------------


def test_an_unlinked_account_gets_a_clear_page_and_a_way_out(client, people, identity_calls):
    patron = patron_of(people.fatima)
    people.fatima.account_id = None  # the link was removed at the desk
    people.fatima.save()
    sign_in(client, MAAS, patron)
    page = client.get(url(MAAS))
    assert page.status_code == 200
    assert "Geen lidmaatschap gevonden" in page.text
    assert f"<strong>{patron.username}</strong>" in page.text
    assert "Vraag aan de balie om dit inlogaccount aan je lidmaatschap te koppelen" in page.text
    assert f'action="/mijn/{MAAS}/uitloggen/"' in page.text
    assert f'href="/aanmelden/{MAAS}/"' in page.text  # this library signs up online
    assert people.fatima.card_number not in page.text
    client.get(url(MAAS))
    assert len(identity_calls["events"]) == 1  # reported once per session, not per visit


def test_a_malformed_account_id_is_simply_not_linked(client, people):
    sign_in(client, MAAS, Patron(sub="not-a-uuid", username="iemand"))
    assert "Geen lidmaatschap gevonden" in client.get(url(MAAS)).text


# -- the login service ---------------------------------------------------------------------------


def test_an_ended_identity_session_goes_to_the_logout_detected_page(client, people, monkeypatch):
    monkeypatch.setattr(rp_services, "refresh_rights", lambda request: None)
    sign_in(client, MAAS, patron_of(people.marieke))
    page = client.get(url(MAAS))
    assert page.status_code == 302
    assert page["Location"] == f"/mijn/{MAAS}/sessie-beeindigd/"


def test_the_library_data_shows_when_identity_cannot_be_asked(client, people, monkeypatch):
    def down(request):
        raise ConnectionError("identity is down")

    monkeypatch.setattr(rp_services, "refresh_rights", down)
    sign_in(client, MAAS, patron_of(people.marieke))
    page = client.get(url(MAAS))
    assert page.status_code == 200 and people.marieke.card_number in page.text


def test_rights_identity_does_not_know_yet_are_pointed_out(client, people, identity_calls):
    sign_in(client, MAAS, patron_of(people.marieke))
    page = client.get(url(MAAS))
    assert 'data-testid="rights-missing"' in page.text
    assert identity_calls["events"] == [
        ("rights_missing", {"library": MAAS, "rights": ["audiobooks", "ebooks"]})
    ]
    client.get(url(MAAS))
    assert len(identity_calls["events"]) == 1


def test_rights_identity_knows_are_not_pointed_out(client, people, identity_calls):
    end = people.family_subscription.end
    rights = tuple(
        PatronRight(code=code, limits={"loans": 10}, valid_until=end)
        for code in ("ebooks", "audiobooks")
    )
    sign_in(client, MAAS, patron_of(people.marieke, rights=rights))
    page = client.get(url(MAAS))
    assert 'data-testid="rights-missing"' not in page.text
    assert identity_calls["refresh"] == 1 and identity_calls["events"] == []


# -- cost and audit ------------------------------------------------------------------------------


def test_queries_are_bounded_however_large_the_family(
    client, people, django_assert_max_num_queries
):
    sign_in(client, MAAS, patron_of(people.marieke))
    client.get(url(MAAS))  # the first visit also notes what it reported, in the session
    with CaptureQueriesContext(connection) as small:
        client.get(url(MAAS))
    for n in range(5):
        Membership.objects.create(
            subscription=people.family_subscription,
            role="child",
            customer=_customer(people.maas, f"Kind {n} Smit", "2015-01-01"),
        )
    _subscribe(people.marieke, "compact", start=date(2020, 1, 1), end=date(2020, 12, 31))
    # The session, the library, the customer, their subscriptions, the people on them.
    with django_assert_max_num_queries(5):
        page = client.get(url(MAAS))
    assert "Kind 4 Smit · kind" in page.text
    with CaptureQueriesContext(connection) as large:
        client.get(url(MAAS))
    assert len(large) == len(small)


def test_reading_one_s_own_data_records_no_staff_event(client, people):
    sign_in(client, MAAS, patron_of(people.marieke))
    client.get(url(MAAS))
    sign_in(client, DUIN, patron_of(people.marieke))
    client.get(url(DUIN))
    assert not AuditEvent.objects.exists()


# -- words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("right", "expected"),
    [
        (
            {
                "code": "ebooks",
                "limits": {"loans": 6, "period": "year"},
                "valid_until": "2026-12-31",
            },
            "E-books: 6 per jaar, geldig tot 31-12-2026",
        ),
        (
            {"code": "audiobooks", "limits": {"loans": 10, "period": "concurrent", "youth": True}},
            "Luisterboeken: 10 tegelijk, alleen jeugdtitels",
        ),
        ({"code": "ebooks", "limits": {"loans": 3}}, "E-books: 3 titels"),
        # A library's own right: a neutral word, never its code (bibid.common.words).
        ({"code": "magazines", "limits": {}}, "Ander recht"),
    ],
)
def test_rights_in_plain_dutch(right, expected):
    assert texts.describe_right(right) == expected
