"""Care for the staff second step (issue 17): a reset is told to the staff member (a mail
task queued on commit, and the setup page at the next sign-in); a colleague locked out of
the second step is visible on the manager's page and the wait can be lifted a few times an
hour, audited, for the manager's own library only; and the console refuses a session that
did not pass the second step."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django_tasks_db.models import DBTaskResult

from bibid.common.mfa import services as mfa
from bibid.common.mfa.models import Authenticator, MfaEvent
from bibid.library.staff import second_factor
from bibid.library.staff.models import AuditEvent, Staff
from bibid.library.staff.permissions import Actor
from bibid.library.staff.tasks import tell_second_factor_reset
from tests.mfa_support import force_login_verified

from .test_staff_mfa import SETUP, STEP, password_only, signed_in

pytestmark = pytest.mark.django_db
STAFF_PAGE = "/console/medewerkers/"
TASK = "bibid.library.staff.tasks.tell_second_factor_reset"


def _reset(actor: Staff, staff: Staff, capture) -> None:
    with capture(execute=True) as callbacks:
        second_factor.reset_second_factor(actor=Actor(actor), staff=staff)
    assert len(callbacks) == 1


def test_a_reset_queues_one_mail_on_commit_to_the_staff_member(
    demo, django_capture_on_commit_callbacks
):
    desk = Staff.objects.get(username="balie.maas")
    desk.email = "bas@aan-de-maas.example"
    desk.save(update_fields=["email"])
    manager = Staff.objects.get(username="manager.maas")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second_factor.reset_second_factor(actor=Actor(manager), staff=desk)
        # Nothing is queued before the commit: a reset that rolls back tells nobody.
        assert not DBTaskResult.objects.filter(task_path=TASK).exists()
    assert len(callbacks) == 1
    callbacks[0]()
    queued = DBTaskResult.objects.get(task_path=TASK)
    assert queued.args_kwargs["args"][:2] == [desk.pk, "Mark Manager"]
    assert mail.outbox == []  # the request sends nothing itself
    assert tell_second_factor_reset.call(*queued.args_kwargs["args"]) == "sent"
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["bas@aan-de-maas.example"]
    assert "Mark Manager" in sent.body and "balie.maas" in sent.body
    assert "nieuwe tweede stap" in sent.body
    assert "Meld het je leidinggevende en verander je wachtwoord" in sent.body


def test_no_mail_for_a_staff_member_without_an_address(demo, django_capture_on_commit_callbacks):
    desk = Staff.objects.get(username="balie.maas")
    assert desk.email == ""
    manager = Staff.objects.get(username="manager.maas")
    _reset(manager, desk, django_capture_on_commit_callbacks)
    queued = DBTaskResult.objects.get(task_path=TASK)
    assert tell_second_factor_reset.call(*queued.args_kwargs["args"]) == "no_address"
    assert mail.outbox == []
    # The manager's page says to tell the colleague in person.
    page = signed_in("manager.maas")
    page.post(f"/console/medewerkers/{desk.pk}/tweede-stap-herstellen/")
    assert "heeft geen e-mailadres" in page.get(STAFF_PAGE).text


def test_the_setup_page_at_the_next_sign_in_says_who_reset_it(
    demo, django_capture_on_commit_callbacks
):
    desk = Staff.objects.get(username="balie.maas")
    manager = Staff.objects.get(username="manager.maas")
    _reset(manager, desk, django_capture_on_commit_callbacks)
    client = password_only("balie.maas")
    assert client.get(STEP)["Location"] == SETUP
    page = client.get(SETUP).text
    assert 'data-testid="mfa-reset-notice"' in page
    assert "hersteld door Mark Manager op" in page
    assert "Meld het je leidinggevende en verander je wachtwoord" in page
    # Someone who never had a reset sees no such notice.
    Authenticator.objects.filter(user__username="helpdesk.maas").delete()
    fresh = password_only("helpdesk.maas").get(SETUP).text
    assert 'data-testid="mfa-reset-notice"' not in fresh


def _lock_out(username: str, tries: int = 5) -> Client:
    client = password_only(username)
    for _ in range(tries):
        client.post(STEP, {"code": "000001"})
    return client


def test_a_colleague_locked_out_is_shown_and_the_wait_lifted_three_times_an_hour(demo):
    desk = Staff.objects.get(username="balie.maas")
    mfa.new_recovery_codes(user=desk)
    locked = _lock_out("balie.maas")
    assert mfa.block(desk, "staff").blocked_until is not None
    manager = signed_in("manager.maas")
    page = manager.get(STAFF_PAGE).text
    row = page[page.index('data-testid="colleague-balie.maas"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="blocked"' in row and "geblokkeerd tot" in row
    assert "Hef de blokkade van de tweede stap op" in row
    assert '<td data-testid="recovery-left">10</td>' in row
    refused = MfaEvent.objects.filter(user=desk, action="second_factor_refused").count()
    assert f'<td data-testid="refusals-today">{refused}</td>' in row and refused == 5

    lift = f"/console/medewerkers/{desk.pk}/tweede-stap-deblokkeren/"
    assert manager.post(lift).status_code == 302
    assert "is opgeheven" in manager.get(STAFF_PAGE).text
    info = mfa.block(desk, "staff")
    assert info.blocked_until is None and info.failures >= 3  # the count stays
    # The next wrong code blocks again at once (the failures were not forgotten).
    assert locked.post(STEP, {"code": "000001"}).status_code == 200
    assert mfa.block(desk, "staff").blocked_until is not None
    # Twice more, then the hour's limit: a guesser gets no unblock loop.
    for _ in range(2):
        manager.post(lift)
        locked.post(STEP, {"code": "000001"})
    assert manager.post(lift).status_code == 302
    assert "al drie keer opgeheven" in manager.get(STAFF_PAGE).text
    assert mfa.block(desk, "staff").blocked_until is not None
    outcomes = list(
        AuditEvent.objects.filter(staff=desk, action="block_lifted")
        .order_by("pk")
        .values_list("who", "detail__outcome")
    )
    assert outcomes == [("manager.maas", "lifted")] * 3 + [("manager.maas", "limit")]


def test_a_manager_of_another_library_gets_404_for_a_lift(demo):
    desk = Staff.objects.get(username="balie.maas")
    _lock_out("balie.maas")
    rogue = signed_in("manager.duin")
    page = rogue.get(STAFF_PAGE).text
    assert desk.username not in page
    response = rogue.post(f"/console/medewerkers/{desk.pk}/tweede-stap-deblokkeren/")
    assert response.status_code == 404
    assert mfa.block(desk, "staff").blocked_until is not None
    assert not MfaEvent.objects.filter(user=desk, action="block_lifted").exists()
    # A desk colleague of the same library may not either.
    helper = signed_in("helpdesk.maas")
    assert (
        helper.post(f"/console/medewerkers/{desk.pk}/tweede-stap-deblokkeren/").status_code == 403
    )


@pytest.mark.parametrize("path", ["/console/", STAFF_PAGE])
def test_a_session_without_the_second_step_is_sent_to_sign_in(demo, path):
    manager = Staff.objects.get(username="manager.maas")
    client = Client()
    client.force_login(manager)  # signed in, but the second step never passed
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/inloggen/")
    assert "_auth_user_id" not in client.session  # the half session was ended
    verified = Client()
    force_login_verified(verified, manager)
    assert verified.get(path).status_code == 200
