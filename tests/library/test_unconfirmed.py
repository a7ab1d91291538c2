"""After a timeout the library does not guess (issue 13, fault 2): a change the login service
did not confirm is recorded, staff are told it is being checked, and sending the same request
again settles it; the feed repairs a link whose answer was lost."""

from __future__ import annotations

import uuid

import pytest

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.loginaccounts import feed, unconfirmed
from bibid.library.loginaccounts import identity as client_module
from bibid.library.loginaccounts import services as login
from bibid.library.loginaccounts.identity import IdentityClient
from bibid.library.loginaccounts.models import UnconfirmedCall
from bibid.library.staff.models import AuditEvent
from bibid.library.tenants.models import Library

from .lossy_proxy import LossyProxy
from .test_loginaccounts import new_customer


@pytest.fixture
def proxy(live_identity, settings):
    """The library reaches identity through a proxy that can lose answers; a short timeout."""
    lossy = LossyProxy(live_identity.port)
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": lossy.url}
    settings.BIBID_IDENTITY_TIMEOUT = 1.0
    client_module._tokens.clear()
    yield lossy
    lossy.close()
    client_module._tokens.clear()


def _direct(customer: Customer, live_identity) -> IdentityClient:
    """The library's own client, straight to identity (what identity really holds)."""
    return IdentityClient(
        base_url=live_identity.url,
        client_id=customer.library.identity_client_id,
        client_secret=customer.library.identity_client_secret,
    )


def _due() -> None:
    """The short pause before the first check has passed."""
    UnconfirmedCall.objects.update(next_attempt_at=clock.now())


def _warm(proxy: LossyProxy, desk, customer: Customer) -> None:
    """Fetch the client's token while the network works (a read goes through)."""
    proxy.mode = "pass"
    with pytest.raises(Problem):  # not linked yet: a 404, but the token is cached
        login.show(actor=desk, customer=customer)


def test_a_lost_answer_is_not_called_nothing_and_settles_as_done(staff, proxy, live_identity):
    desk = staff("balie.maas")
    found = new_customer(desk)
    _warm(proxy, desk, found)
    proxy.mode = "swallow"  # identity generates the account; the answer is lost
    with pytest.raises(Problem) as failed:
        login.generate(actor=desk, customer=found)
    assert failed.value.status == 504 and failed.value.code == "identity_unconfirmed"
    assert "nog niet bevestigd" in failed.value.text("nl").lower()
    assert "niets gewijzigd" not in failed.value.text("nl")
    call = UnconfirmedCall.objects.get(customer=found)
    assert call.settled_at is None and call.action == "login_generate"
    assert (
        AuditEvent.objects.filter(
            customer=found, action="login_generate", result="unconfirmed"
        ).count()
        == 1
    )
    # identity did make it: the truth is there, the library does not know it yet.
    held = _direct(found, live_identity).account_show(found.card_number)
    found.refresh_from_db()
    assert found.account_id is None

    # Another change waits while the outcome is unknown (identity still unreachable).
    with pytest.raises(Problem) as waiting:
        login.activate(actor=desk, customer=found)
    assert waiting.value.status == 409 and waiting.value.code == "identity_unconfirmed_pending"

    proxy.mode = "pass"
    _due()
    assert unconfirmed.settle_due() == {"done": 1, "not_done": 0, "gave_up": 0, "waiting": 0}
    found.refresh_from_db()
    assert str(found.account_id) == held["account_id"]  # the same account, not a second one
    assert found.account_username == held["username"]
    call.refresh_from_db()
    assert call.outcome == "done" and call.settled_at is not None
    settled = AuditEvent.objects.get(customer=found, action="login_generate", result="ok")
    assert settled.detail["settled"] == "done"
    assert unconfirmed.settle_due()["done"] == 0  # settled once
    # And now the desk goes on as normal.
    assert login.activate(actor=desk, customer=found).data["result"] == "activated"


def test_a_request_that_never_arrived_is_carried_out_by_the_replay(staff, proxy):
    desk = staff("balie.maas")
    found = new_customer(desk)
    _warm(proxy, desk, found)
    proxy.mode = "hang"  # identity never sees it
    with pytest.raises(Problem) as failed:
        login.generate(actor=desk, customer=found)
    assert failed.value.code == "identity_unconfirmed"
    proxy.mode = "pass"
    # The next change on this customer settles first, then goes ahead.
    outcome = login.activate(actor=desk, customer=found)
    assert outcome.data["result"] == "activated"
    found.refresh_from_db()
    assert found.account_id is not None
    assert UnconfirmedCall.objects.get(customer=found).outcome == "done"


def test_a_refused_replay_settles_as_not_done_and_the_feed_repairs_the_link(
    staff, proxy, live_identity
):
    desk = staff("balie.maas")
    found = new_customer(desk)
    library = Library.objects.get(pk=found.library_id)
    feed.follow(library)  # the cursor at the end of the feed
    _warm(proxy, desk, found)
    proxy.mode = "hang"
    with pytest.raises(Problem):
        login.generate(actor=desk, customer=found)
    # Meanwhile the same library (another of its systems) linked another account to the
    # customer: the replay of the first generate is refused (the customer is linked now).
    other = _direct(found, live_identity).account_generate(
        found.card_number, username=f"ander.{found.card_number}", recovery_email=None
    )
    proxy.mode = "pass"
    _due()
    assert unconfirmed.settle_due()["not_done"] == 1
    call = UnconfirmedCall.objects.get(customer=found)
    assert call.outcome == "not_done"
    assert (
        AuditEvent.objects.get(customer=found, action="login_generate", result="refused").detail[
            "identity"
        ]
        == "customer_already_linked"
    )
    found.refresh_from_db()
    assert found.account_id is None  # the library did not guess
    # The feed tells the library what identity holds, and that repairs the link.
    feed.follow(library)
    found.refresh_from_db()
    assert str(found.account_id) == other["account"]["account_id"]
    assert AuditEvent.objects.filter(customer=found, action="feed_link_created").exists()


def test_reads_go_ahead_and_a_down_service_is_not_unconfirmed(staff, proxy, settings):
    desk = staff("balie.maas")
    found = new_customer(desk)
    _warm(proxy, desk, found)
    # Down: nothing reached identity, so "er is niets gewijzigd" is true and nothing is kept.
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": "http://127.0.0.1:9"}
    with pytest.raises(Problem) as down:
        login.generate(actor=desk, customer=found)
    assert down.value.status == 503 and down.value.code == "identity_unavailable"
    assert "niets gewijzigd" in down.value.text("nl")
    assert not UnconfirmedCall.objects.filter(customer=found).exists()


def test_the_console_says_not_yet_confirmed_and_shows_the_check(staff, proxy):
    import re

    from .test_console import signed_in

    desk = staff("balie.maas")
    found = new_customer(desk)
    client = signed_in("balie.maas")
    page = client.get(f"/console/klanten/{found.card_number}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    _warm(proxy, desk, found)
    proxy.mode = "swallow"
    done = client.post(
        f"/console/klanten/{found.card_number}/inlogaccount/genereren/",
        {"csrfmiddlewaretoken": token},
    )
    assert done.status_code == 302
    shown = client.get(done["Location"]).text
    assert "Nog niet bevestigd</h2>" in shown and "Niet gelukt" not in shown
    assert "wordt gecontroleerd" in shown
    assert 'data-testid="unconfirmed"' in shown  # the open check, on the page itself
    proxy.mode = "pass"
    _due()
    unconfirmed.settle_due()
    again = client.get(f"/console/klanten/{found.card_number}/").text
    assert 'data-testid="unconfirmed"' not in again
    assert "Gekoppeld inlogaccount" in again


def _application(library):
    from datetime import date

    from bibid.library.signup.services import Application, types_for_signup

    return Application(
        name="Nieuw Lid",
        birth_date=date(1990, 5, 1),
        email=f"lid.{uuid.uuid4().hex[:8]}@example.org",
        type=next(t for t in types_for_signup(library) if t.code == "compleet"),
    )


def test_a_sign_up_without_an_answer_is_kept_and_settled_either_way(demo, proxy, live_identity):
    from bibid.library.signup.services import sign_up

    library = Library.objects.get(code="aan-de-maas")
    proxy.mode = "pass"
    sign_up(library=library, application=_application(library), ip="10.9.8.1")  # token
    # 1. The answer is lost: the visitor hears it is still being processed, the customer
    #    stays, and settling links the account identity made.
    proxy.mode = "swallow"
    with pytest.raises(Problem) as first:
        sign_up(library=library, application=_application(library), ip="10.9.8.2")
    assert first.value.status == 504 and first.value.code == "signup_unconfirmed"
    kept = Customer.objects.get(pk=UnconfirmedCall.objects.get().customer_id)
    assert kept.account_id is None
    proxy.mode = "pass"
    _due()
    assert unconfirmed.settle_due()["done"] == 1
    kept.refresh_from_db()
    assert kept.account_id is not None
    # 2. identity refuses the replay (the card got an account meanwhile): the sign-up is
    #    taken back, as when identity says no at once; the audit keeps the card number.
    proxy.mode = "hang"
    with pytest.raises(Problem):
        sign_up(library=library, application=_application(library), ip="10.9.8.3")
    call = UnconfirmedCall.objects.get(settled_at__isnull=True)
    card = call.customer.card_number
    _direct(call.customer, live_identity).account_generate(
        card, username=f"ander.{card}", recovery_email=None
    )
    proxy.mode = "pass"
    _due()
    assert unconfirmed.settle_due()["not_done"] == 1
    assert not Customer.objects.filter(card_number=card, library=library).exists()
    taken_back = AuditEvent.objects.get(card_number=card, action="signup_generate")
    assert taken_back.result == "refused" and taken_back.customer_id is None
