"""Rule L7 and L3 from the patron's side: Mijn inlogaccount lists the linked libraries and
what they did, the patron withdraws a link and lifts a freeze; "Dit was ik niet" puts the
previous recovery address back (docs/security/library-api-rules.md)."""

import pytest
from django.test import Client

from bibid.identity.accounts import tokens
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import record_event
from bibid.identity.libraries.models import Change, Link
from bibid.identity.libraries.services import actor_for, register_library
from bibid.identity.mail.models import OutboxMessage

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _memory_mail(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def signed_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert (
        client.post("/inloggen/", {"username": username, "password": password}).status_code == 302
    )
    return client


@pytest.fixture
def maas(db):
    return register_library(code="maas", name="Bibliotheek aan de Maas").library


@pytest.fixture
def duin(db):
    return register_library(code="duin", name="Bibliotheek Duinrand").library


def link(library, account, ref: str, rights=()) -> Link:
    return Link.objects.create(
        library=library, account=account, customer_ref=ref, card_number=ref, rights=list(rights)
    )


# -- the home page --------------------------------------------------------------------------


def test_home_lists_the_libraries_and_what_they_did_with_the_role(anna, maas, duin):
    link(
        maas,
        anna,
        "1001",
        rights=[{"code": "ebooks", "valid_from": None, "valid_until": None, "limits": {}}],
    )
    link(duin, anna, "2002")
    record_event(
        account=anna,
        kind=AccountEvent.Kind.PASSWORD_RESET_SENT,
        actor=actor_for(maas, role="desk", staff="staff:7"),
    )
    record_event(
        account=anna,
        kind=AccountEvent.Kind.VIEWED,
        actor=actor_for(duin, role="helpdesk", staff="staff:9"),
    )
    record_event(
        account=anna, kind=AccountEvent.Kind.AUTHORIZED, actor=actor_for(maas, role="system")
    )
    page = signed_in("anna.jansen").get("/")
    assert page.status_code == 200
    text = page.text
    assert "Bibliotheken" in text and "Wat bibliotheken deden" in text
    assert "Bibliotheek aan de Maas" in text and "Bibliotheek Duinrand" in text
    assert "e-books lenen" in text  # the rights of today, in words
    assert text.count("Koppeling intrekken") == 2
    actions = text.split('data-testid="library-actions"', 1)[1].split("</table>", 1)[0]
    for words in (
        "balie",
        "helpdesk",
        "systeem",
        "Je inlogaccount bekeken",
        "Een link gestuurd om een nieuw wachtwoord te kiezen",
        "Je rechten bijgewerkt",
    ):
        assert words in actions, words
    # What the patron did is not a library's action.
    assert "staff:7" not in text  # the staff reference is the library's, not shown


def test_home_without_libraries_says_so(anna):
    page = signed_in("anna.jansen").get("/")
    assert "Er is geen bibliotheek gekoppeld" in page.text
    assert "Bibliotheken kunnen je account nu niet wijzigen" not in page.text


# -- withdrawing a link ----------------------------------------------------------------------


def test_withdraw_needs_a_post_and_the_password_and_tells_the_library(anna, maas, duin, clock):
    mine, other = link(maas, anna, "1001"), link(duin, anna, "2002")
    client = signed_in("anna.jansen")
    clock.advance(minutes=20)  # no longer a recent sign-in: the password is asked
    path = f"/bibliotheken/{mine.pk}/intrekken/"
    page = client.get(path)
    assert page.status_code == 200
    for words in (
        "kan je inlogaccount niet meer zien of wijzigen",
        "stoppen meteen",
        "Je lidmaatschap bij de bibliotheek blijft bestaan",
        "Vraag het aan de bibliotheek",
    ):
        assert words in page.text, words
    assert Link.objects.filter(pk=mine.pk).exists()  # a GET changes nothing
    assert client.post(path).status_code == 400  # no password
    assert client.post(path, {"current_password": "fout"}).status_code == 400
    assert Link.objects.filter(pk=mine.pk).exists()
    done = client.post(path, {"current_password": PASSWORD})
    assert done.status_code == 302
    assert not Link.objects.filter(pk=mine.pk).exists()
    assert Link.objects.filter(pk=other.pk).exists()
    change = Change.objects.get(kind="link_removed")
    assert (change.library_id, change.customer_ref) == (maas.pk, "1001")
    assert not Change.objects.filter(library=duin).exists()
    assert AccountEvent.objects.filter(account_id=anna.pk, kind="unlinked").exists()
    assert client.post(path, {"current_password": PASSWORD}).status_code == 404


def test_withdraw_of_another_account_s_link_is_a_404_and_changes_nothing(anna, make_account, maas):
    bram = make_account("bram.bakker", recovery_email="bram@example.org")
    theirs = link(maas, bram, "3003")
    client = signed_in("anna.jansen")
    path = f"/bibliotheken/{theirs.pk}/intrekken/"
    assert client.get(path).status_code == 404
    assert client.post(path, {"current_password": PASSWORD}).status_code == 404
    assert client.post("/bibliotheken/999999/intrekken/").status_code == 404
    assert Link.objects.filter(pk=theirs.pk).exists()
    assert not Change.objects.exists()


def test_withdraw_without_the_csrf_token_is_refused(anna, maas):
    mine = link(maas, anna, "1001")
    client = Client(enforce_csrf_checks=True)
    client.post("/inloggen/", {"username": "anna.jansen", "password": PASSWORD})
    client.force_login(Account.objects.get(pk=anna.pk))
    response = client.post(f"/bibliotheken/{mine.pk}/intrekken/")
    assert response.status_code == 403
    assert Link.objects.filter(pk=mine.pk).exists()


def test_withdraw_needs_to_be_signed_in(anna, maas):
    mine = link(maas, anna, "1001")
    response = Client().post(f"/bibliotheken/{mine.pk}/intrekken/")
    assert response.status_code == 302 and "/inloggen/" in response["Location"]
    assert Link.objects.filter(pk=mine.pk).exists()


# -- "Dit was ik niet" and the freeze ------------------------------------------------------


def _library_changed_the_address(anna, maas, clock):
    from bibid.identity.libraries.services import reset_recovery_email

    Account.objects.filter(pk=anna.pk).update(recovery_email_confirmed_at=clock())
    link(maas, anna, "1001")
    reset_recovery_email(
        library=maas,
        customer_ref="1001",
        email="kaper@example.org",
        actor=actor_for(maas, role="desk", staff="staff:3"),
    )
    notice = OutboxMessage.objects.get(to="anna@example.org", kind="notice")
    return tokens.undo_token(Account.objects.get(pk=anna.pk), notice.data["event"])


def test_not_me_get_changes_nothing_post_restores_and_freezes(anna, maas, clock):
    token = _library_changed_the_address(anna, maas, clock)
    path = f"/niet-ik/{token}/"
    page = Client().get(path)
    assert page.status_code == 200
    assert "Bibliotheek aan de Maas" in page.text and "anna@example.org" in page.text
    assert "kaper@example.org" not in page.text  # masked: k•••@example.org
    assert page.text.count("Zet mijn vorige adres terug") == 1  # one button, a POST
    assert Account.objects.get(pk=anna.pk).recovery_email == "kaper@example.org"
    done = Client().post(path)
    assert done.status_code == 200
    for words in ("Je vorige adres is terug", "niet meer wijzigen", "nieuw wachtwoord"):
        assert words in done.text, words
    anna.refresh_from_db()
    assert anna.recovery_email == "anna@example.org"
    assert anna.library_changes_frozen_at is not None
    assert Client().post(path).status_code == 410  # once
    assert Client().get("/niet-ik/niets/").status_code == 400


def test_frozen_account_shows_the_notice_and_the_patron_lifts_it(anna, maas, clock):
    token = _library_changed_the_address(anna, maas, clock)
    Client().post(f"/niet-ik/{token}/")
    client = signed_in("anna.jansen")
    home = client.get("/")
    assert "Bibliotheken kunnen je account nu niet wijzigen" in home.text
    clock.advance(minutes=20)  # the password is asked again
    assert client.get("/bibliotheken/wijzigingen-toestaan/").status_code == 200
    refused = client.post("/bibliotheken/wijzigingen-toestaan/", {"current_password": "fout"})
    assert refused.status_code == 400
    assert Account.objects.get(pk=anna.pk).library_changes_frozen_at is not None
    done = client.post("/bibliotheken/wijzigingen-toestaan/", {"current_password": PASSWORD})
    assert done.status_code == 302
    assert Account.objects.get(pk=anna.pk).library_changes_frozen_at is None
    assert "Bibliotheken kunnen je account nu niet wijzigen" not in client.get("/").text


def test_the_notice_to_the_previous_address_links_to_the_not_me_page(anna, maas, clock):
    import re

    from bibid.identity.mail.messages import compose

    _library_changed_the_address(anna, maas, clock)
    notice = OutboxMessage.objects.get(to="anna@example.org", kind="notice")
    text = compose(notice, Account.objects.get(pk=anna.pk)).text
    link = re.search(r"http://\S+/niet-ik/\S+/", text).group(0)
    path = "/" + link.split("//", 1)[1].split("/", 1)[1]
    assert Client().get(path).status_code == 200
    assert Client().post(path).status_code == 200
    assert Account.objects.get(pk=anna.pk).recovery_email == "anna@example.org"
