"""Login history in the console: a service's report is not a failed sign-in attempt (issue 14).

Against the real identity service: the events are written there by identity's own code (the
recorder behind the services' reports and the sign-in flow), and read back over HTTP.
"""

import pytest

from bibid.library.loginaccounts import services as login

from .test_loginaccounts import customer, new_customer

pytestmark = pytest.mark.django_db


def record_at_identity(identity, username: str) -> None:
    """One report of each kind a service sends, and one wrong password, for `username`."""
    identity.shell(f"""
from types import SimpleNamespace
from bibid.identity.accounts.models import Account
from bibid.identity.oidc import events
from bibid.identity.signin.models import LoginEvent
account = Account.objects.get(username={username!r})
service = SimpleNamespace(name="Online Bibliotheek")
for kind in ("logout_detected", "rights_missing", "not_linked"):
    events.record(account=account, application=service, report=events.Report.parse(
        {{"sub": str(account.public_id), "kind": kind, "details": {{}}}}))
LoginEvent.objects.create(account_id=account.pk, username=account.username, kind="login",
                          outcome="failure", reason="wrong_password")
""")


def test_reported_events_are_not_counted_as_failed_attempts(staff, live_identity):
    desk = staff("balie.maas")
    found = new_customer(desk)
    login.generate(actor=desk, customer=found)
    username = customer(found.card_number).account_username
    record_at_identity(live_identity, username)

    outcome = login.history(actor=staff("helpdesk.maas"), customer=customer(found.card_number))

    kinds = sorted(e["kind"] for e in outcome.data["events"])
    assert kinds == ["login", "logout_detected", "not_linked", "rights_missing"]
    assert all(e["outcome"] == "failure" for e in outcome.data["events"])
    assert outcome.summary == "4 recente gebeurtenissen, waarvan 1 mislukte poging."
