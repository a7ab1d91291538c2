"""How the patron signed in, as the relying party keeps it from the ID token (`amr`, `acr`),
and as Mijn Menu shows it on the account card."""

from __future__ import annotations

import pytest

from bibid.common.rp import patron as rp_patron
from bibid.common.rp import services as rp_services

from .test_mijnmenu import MAAS, identity_calls, people, sign_in, url  # noqa: F401

pytestmark = pytest.mark.django_db
SUB = "7a0c4d1e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("claims", "passkey"),
    [
        ({"amr": ["hwk", "user"], "acr": "urn:bibid:acr:passkey"}, True),
        ({"amr": ["hwk", "user"]}, True),
        ({"acr": "urn:bibid:acr:passkey"}, True),
        ({"amr": ["pwd"], "acr": "urn:bibid:acr:password"}, False),
        ({}, False),  # identity before the amr change: the password
        ({"amr": "hwk"}, False),  # not an array (RFC 8176): ignored
    ],
)
def test_amr_and_acr_from_the_id_token(claims, passkey):
    patron = rp_services.patron_from_claims({"sub": SUB, **claims})
    assert patron.signed_in_with_passkey is passkey
    # Kept in the session as it came.
    assert rp_patron.Patron.from_session(patron.as_session()) == patron


def test_userinfo_later_does_not_forget_how_the_patron_signed_in(rf):
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    request = rf.get("/")
    request.session = SessionStore()
    first = rp_services.patron_from_claims({"sub": SUB, "amr": ["hwk", "user"]})
    fresh = rp_services._keep(request, first, {"sub": SUB, "preferred_username": "anna"})
    assert fresh.signed_in_with_passkey and fresh.username == "anna"


def test_mijn_menu_says_how_the_patron_signed_in(client, people):  # noqa: F811
    marieke = people.marieke
    base = {"sub": str(marieke.account_id), "preferred_username": marieke.account_username}
    sign_in(client, MAAS, rp_services.patron_from_claims({**base, "amr": ["hwk", "user"]}))
    assert "ingelogd met een passkey" in client.get(url(MAAS)).text
    sign_in(client, MAAS, rp_services.patron_from_claims(base))
    assert "ingelogd met je wachtwoord" in client.get(url(MAAS)).text
