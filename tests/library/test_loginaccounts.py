"""The Inlogaccount menu against a real identity service: results, rules, audit, faults."""

import uuid
from datetime import date

import pytest

from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.customers.services import CustomerData, create_customer
from bibid.library.loginaccounts import pushes
from bibid.library.loginaccounts import services as login
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.staff.models import AuditEvent
from bibid.library.subscriptions.models import SubscriptionType
from bibid.library.subscriptions.services import create_subscription

from .identity_server import patron_confirms

pytestmark = pytest.mark.django_db


def customer(card: str) -> Customer:
    return Customer.objects.select_related("library").get(card_number=card)


def new_customer(actor, *, email: str = "", type_code: str = "compleet") -> Customer:
    """A fresh customer with a subscription (a unique name: the identity server is shared)."""
    tag = uuid.uuid4().hex[:8]
    created = create_customer(
        actor=actor,
        data=CustomerData(
            name=f"Test Klant {tag}",
            birth_date=date(1990, 1, 1),
            email=email or f"klant.{tag}@example.org",
        ),
    )  # the library's next card (rule L6)
    create_subscription(
        actor=actor,
        main=created,
        type_=SubscriptionType.objects.get(library=created.library, code=type_code),
    )
    return customer(created.card_number)


def test_show_login_account_data(staff):
    outcome = login.show(actor=staff("balie.maas"), customer=customer("2010000001"))
    assert outcome.data["username"] == "anna.jansen"
    assert outcome.data["state"] == "active"
    assert sorted(outcome.data["linked_libraries"]) == [
        "Bibliotheek Duinstreek",
        "Bibliotheek aan de Maas",
    ]
    assert "anna.jansen" in outcome.summary
    event = AuditEvent.objects.get(action="login_show")
    assert (event.who, event.result, event.card_number) == ("balie.maas", "ok", "2010000001")


def test_generate_activate_authorize_rights(staff):
    desk = staff("balie.maas")
    found = new_customer(desk)
    generated = login.generate(actor=desk, customer=found)
    assert "aangemaakt" in generated.summary and found.card_number in generated.summary
    found.refresh_from_db()
    assert found.account_username == found.card_number and found.account_id is not None
    assert PendingPush.objects.filter(customer=found).exists()  # rights follow at once
    activated = login.activate(actor=desk, customer=found)
    assert activated.data["result"] == "activated"
    assert login.activate(actor=desk, customer=found).data["result"] == "already_active"
    authorized = login.authorize(actor=desk, customer=found)
    assert authorized.data["result"] == "updated"
    assert {r["code"] for r in authorized.data["pushed"]["rights"]} == {"ebooks", "audiobooks"}
    assert login.authorize(actor=desk, customer=found).data["result"] == "unchanged"
    rights = login.rights(actor=desk, customer=found)
    assert {r["code"] for r in rights.data["rights"]} == {"ebooks", "audiobooks"}


def test_link_refuses_the_family_mix_up(staff, restores_identity):
    desk = staff("balie.maas")
    lotte = customer("2010000012")
    # Rule L2: a link is a request first, answered the same whatever the name.
    opened = login.link(actor=desk, customer=lotte, username="lotte.bos")
    assert set(opened.data) == {"request_id", "handover_url", "expires_at"}
    assert opened.data["handover_url"].startswith(restores_identity.url + "/")
    assert "Vraag de klant om de code" in opened.summary
    assert customer("2010000012").account_id is None
    with pytest.raises(Problem) as waiting:
        login.confirm_link(actor=desk, customer=lotte, request_id=opened.data["request_id"])
    assert waiting.value.code == "waiting_for_patron"
    # Lotte's account is linked to her father; even with her proof, linking it to Lotte
    # herself is refused until it is unlinked from him, with the other customer named
    # (he is no colleague).
    patron_confirms(restores_identity, opened.data["request_id"])
    with pytest.raises(Problem) as refused:
        login.confirm_link(actor=desk, customer=lotte, request_id=opened.data["request_id"])
    assert refused.value.code == "account_linked_to_other_customer"
    assert "2010000010" in refused.value.text("nl") or "andere klant" in refused.value.text("nl")
    helpdesk = staff("helpdesk.maas")
    login.unlink(actor=helpdesk, customer=customer("2010000010"))
    assert customer("2010000010").account_id is None
    linked = login.confirm_link(actor=desk, customer=lotte, request_id=opened.data["request_id"])
    assert customer("2010000012").account_username == "lotte.bos"
    assert "lotte.bos" in linked.summary
    assert AuditEvent.objects.filter(action="login_link_confirm", result="ok").count() == 1


def test_the_colleague_rule_is_enforced_in_the_operation(staff):
    nina = customer("2010000014")
    for name in ("balie.maas", "helpdesk.maas", "manager.maas"):
        with pytest.raises(Problem) as refused:
            login.show(actor=staff(name), customer=nina)
        assert refused.value.code == "private_customer"
    assert AuditEvent.objects.filter(action="login_show", result="refused").count() == 3
    # Nina herself may look up her own login account.
    assert login.show(actor=staff("nina"), customer=nina).data["username"] == "nina.degroot"
    with pytest.raises(Problem):
        login.send_password_reset(actor=staff("nina"), customer=customer("2010000015"))


def test_roles_limit_the_menu(staff, restores_identity):
    desk = staff("balie.maas")
    for operation in (login.unblock, login.history, login.unlink):
        with pytest.raises(Problem) as refused:
            operation(actor=desk, customer=customer("2010000004"))
        assert refused.value.code == "not_allowed"
    helpdesk = staff("helpdesk.maas")
    assert (
        login.unblock(actor=helpdesk, customer=customer("2010000004")).data["result"] == "unblocked"
    )
    history = login.history(actor=helpdesk, customer=customer("2010000004"))
    assert any(e["reason"] == "wrong_password" for e in history.data["events"])


def test_another_library_s_customer_is_not_found(staff):
    with pytest.raises(Problem) as refused:
        login.show(actor=staff("balie.duin"), customer=customer("2010000001"))
    assert refused.value.status == 404


def test_reset_recovery_email_to_the_library_address(staff, restores_identity):
    desk = staff("balie.maas")
    outcome = login.reset_recovery_email(actor=desk, customer=customer("2010000013"))
    assert "m.yilmaz@example.org" in outcome.summary
    shown = login.show(actor=desk, customer=customer("2010000013")).data
    assert shown["recovery_email"] == "m.yilmaz@example.org"
    assert shown["recovery_email_set_by"] == "library:aan-de-maas"


def test_no_email_address_is_a_clear_refusal(staff):
    lotte = customer("2010000012")  # a child without an e-mail address of her own
    with pytest.raises(Problem) as refused:
        login.reset_recovery_email(actor=staff("balie.maas"), customer=lotte)
    assert refused.value.code == "no_email_address"


def test_identity_down_gives_a_clear_message_and_changes_nothing(staff, live_identity):
    desk = staff("balie.maas")
    found = new_customer(desk)
    live_identity.stop()
    try:
        with pytest.raises(Problem) as failed:
            login.generate(actor=desk, customer=found)
        assert failed.value.code == "identity_unavailable"
        assert "niet bereikbaar" in failed.value.text("nl")
        found.refresh_from_db()
        assert found.account_id is None  # nothing changed locally
        assert AuditEvent.objects.filter(action="login_generate", result="failed").exists()
    finally:
        live_identity.start()
    login.generate(actor=desk, customer=found)
    found.refresh_from_db()
    assert found.account_id is not None


def test_a_stale_local_link_is_corrected(staff):
    desk = staff("balie.maas")
    stale = customer("2010000006")  # Fatima: no login account at identity
    Customer.objects.filter(pk=stale.pk).update(account_id=uuid.uuid4(), account_username="ghost")
    with pytest.raises(Problem) as refused:
        login.show(actor=desk, customer=customer("2010000006"))
    assert refused.value.code == "not_linked"
    assert customer("2010000006").account_id is None


def test_pushes_survive_identity_being_down(staff, live_identity):
    desk = staff("balie.maas")
    found = new_customer(desk)
    login.generate(actor=desk, customer=found)
    PendingPush.objects.all().delete()
    from bibid.library.subscriptions.services import update_subscription

    subscription = found.memberships.get().subscription
    live_identity.stop()
    try:
        update_subscription(
            actor=desk,
            subscription=subscription,
            type_=SubscriptionType.objects.get(library=found.library, code="compact"),
        )
        assert pushes.drain() == {"pushed": 0, "dropped": 0, "waiting": 1}
        row = PendingPush.objects.get(customer=found)
        assert row.attempts == 1 and "login service down" in row.last_error
    finally:
        live_identity.start()
    PendingPush.objects.update(next_attempt_at=row.requested_at)  # the pause has passed
    assert pushes.drain()["pushed"] == 1
    assert not PendingPush.objects.exists()
    rights = login.rights(actor=desk, customer=found).data["rights"]
    assert {r["limits"]["period"] for r in rights} == {"year"}  # Compact now


def test_a_slow_identity_times_out_with_a_clear_message(staff, settings):
    """A login service that accepts the connection and never answers: the timeout holds."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hang() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_hang, daemon=True)
    thread.start()
    settings.BIBID_IDENTITY_TIMEOUT = 0.5
    settings.BIBID_PUBLIC_URLS = {
        **settings.BIBID_PUBLIC_URLS,
        "identity": f"http://127.0.0.1:{listener.getsockname()[1]}",
    }
    from bibid.library.loginaccounts import identity as client_module

    client_module._tokens.clear()
    try:
        with pytest.raises(Problem) as failed:
            login.show(actor=staff("balie.maas"), customer=customer("2010000001"))
        assert failed.value.code == "identity_unavailable"
        assert "Timeout" in failed.value.text("en")
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
        client_module._tokens.clear()
