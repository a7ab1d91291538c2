"""No self-service oracles for usernames: the name is chosen on the activation page (after the
link proved the address) and every try, there and in Mijn inlogaccount, is counted before
the name is looked up."""

import re

import pytest
from django.test import Client

from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.mail.messages import compose
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue
from bibid.identity.signin import flow

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW = "Een-nieuw-wachtwoord-voor-mij"


@pytest.fixture(autouse=True)
def _memory_mail(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def path_of(message: OutboxMessage) -> str:
    account = Account.objects.filter(pk=message.account_id).first()
    text = compose(message, account).text
    link = re.search(r"http://[^\s]+", text).group(0)
    return "/" + link.split("127.0.0.1:", 1)[1].split("/", 1)[1]


def sign_in_ok(username: str, password: str) -> bool:
    return flow.sign_in(flow.Attempt(username=username, password=password, ip="192.0.2.80")).ok


@pytest.fixture
def new_member(make_account):
    """An account as the online sign-up makes it: the card number as username, inactive."""
    account = make_account(
        "2123456789012", password=None, active=False, recovery_email="nieuw@example.org"
    )
    enqueue(kind="activation", to=account.recovery_email, account_id=account.pk)
    return account


def activation_path() -> str:
    return path_of(OutboxMessage.objects.get(kind="activation"))


def test_the_activation_mail_names_no_chosen_name_and_offers_the_choice(new_member):
    message = OutboxMessage.objects.get(kind="activation")
    text = compose(message, new_member).text
    assert "2123456789012" in text
    assert "andere gebruikersnaam kiezen" in text
    assert "in gebruik" not in text


def test_activation_with_a_chosen_username(new_member, client):
    path = activation_path()
    page = client.get(path)
    assert page.status_code == 200 and 'value="2123456789012"' in page.text
    done = client.post(path, {"username": "Nieuw.Lid", "password": NEW, "password_again": NEW})
    assert done.status_code == 200 and "Nieuw.Lid" in done.text
    account = Account.objects.get(pk=new_member.pk)
    assert (account.username, account.state) == ("Nieuw.Lid", "active")
    assert sign_in_ok("nieuw.lid", NEW)
    assert AccountEvent.objects.filter(account_id=account.pk, kind="updated").exists()
    # No "username changed" notice: the patron chose it right now, on the mailed link.
    assert not OutboxMessage.objects.filter(data__notice="username_changed").exists()


def test_activation_keeping_the_card_number(new_member, client):
    path = activation_path()
    done = client.post(path, {"username": "2123456789012", "password": NEW, "password_again": NEW})
    assert done.status_code == 200
    assert sign_in_ok("2123456789012", NEW)


def test_activation_with_a_taken_name_is_a_form_error_and_changes_nothing(new_member, anna, client):
    path = activation_path()
    taken = client.post(path, {"username": "ANNA.JANSEN", "password": NEW, "password_again": NEW})
    assert taken.status_code == 400 and "al in gebruik" in taken.text
    account = Account.objects.get(pk=new_member.pk)
    assert (account.username, account.state, account.has_usable_password()) == (
        "2123456789012",
        "inactive",
        False,
    )
    assert account.recovery_email_confirmed_at is None
    assert client.get(path).status_code == 200  # the link still works


def test_the_eleventh_username_try_on_the_activation_page_is_refused(new_member, anna, client):
    path = activation_path()
    for _ in range(10):
        answer = client.post(
            path, {"username": "anna.jansen", "password": NEW, "password_again": NEW}
        )
        assert answer.status_code == 400
    limited = client.post(path, {"username": "vrije.naam", "password": NEW, "password_again": NEW})
    assert limited.status_code == 429 and "te vaak" in limited.text
    account = Account.objects.get(pk=new_member.pk)
    assert (account.username, account.state) == ("2123456789012", "inactive")
    # Keeping the card number needs no try: the patron can still activate.
    done = client.post(path, {"username": "", "password": NEW, "password_again": NEW})
    assert done.status_code == 200
    assert sign_in_ok("2123456789012", NEW)


def test_the_username_change_form_is_limited(anna, make_account):
    make_account("bezet.naam")
    client = Client()
    assert (
        client.post("/inloggen/", {"username": "anna.jansen", "password": PASSWORD}).status_code
        == 302
    )
    for _ in range(10):
        answer = client.post("/gebruikersnaam-wijzigen/", {"username": "bezet.naam"})
        assert answer.status_code == 400 and "al in gebruik" in answer.text
    limited = client.post("/gebruikersnaam-wijzigen/", {"username": "een.vrije.naam"})
    assert limited.status_code == 429 and "te vaak" in limited.text
    assert Account.objects.get(pk=anna.pk).username == "anna.jansen"


def test_the_username_change_limit_counts_per_network_too(make_account):
    """Thirty tries an hour from one network, over any number of accounts."""
    from bibid.common.guard import lanes as guard
    from bibid.identity.selfservice import services

    make_account("bezet.naam")
    for _ in range(30):
        guard.reserve([guard.network_lane(services.USERNAME_PER_NETWORK, "127.0.0.1")])
    make_account("bram.bakker")
    client = Client()
    client.post("/inloggen/", {"username": "bram.bakker", "password": PASSWORD})
    limited = client.post("/gebruikersnaam-wijzigen/", {"username": "bram.leest"})
    assert limited.status_code == 429
    assert Account.objects.filter(username="bram.bakker").exists()


def test_no_username_choice_when_the_library_switched_username_changes_off(new_member, client):
    from bibid.identity.libraries.models import Link
    from bibid.identity.libraries.services import register_library, update_settings

    library = register_library(code="maas", name="Maas").library
    update_settings(library=library, flows=["password_reset"])
    Link.objects.create(library=library, account=new_member, customer_ref="2123456789012")
    path = activation_path()
    assert 'name="username"' not in client.get(path).text
    sneaked = client.post(path, {"username": "eigen.naam", "password": NEW, "password_again": NEW})
    assert sneaked.status_code == 200  # the field is not on the form: ignored
    assert Account.objects.get(pk=new_member.pk).username == "2123456789012"
