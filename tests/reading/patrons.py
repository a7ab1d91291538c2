"""Named patrons of the Online Bibliotheek (the demo personas' plans) and how a test signs
one in: the patron goes into the session with set_patron, as the real sign-in does."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from types import SimpleNamespace

from django.test import Client

from bibid.common import demo as spec
from bibid.common.rp.patron import Patron, PatronRight, set_patron

MAAS, DUIN = "Bibliotheek aan de Maas", "Bibliotheek Duinstreek"


def right(claim: dict, library: str = MAAS, **changes) -> PatronRight:
    """A right as identity reports it, from one of the demo plans' claims."""
    return replace(PatronRight.from_claim({**claim, "library": library}), **changes)


COMPLEET = (right(spec.EBOOKS_COMPLEET), right(spec.AUDIO_COMPLEET))
COMPACT = (right(spec.EBOOKS_COMPACT, DUIN), right(spec.AUDIO_COMPACT, DUIN))
JEUGD = (right(spec.EBOOKS_JEUGD), right(spec.AUDIO_JEUGD))


def patron(username: str, rights=()) -> Patron:
    return Patron(sub=spec.account_public_id(username), username=username, rights=tuple(rights))


# Anna has Compleet at one library and Compact at the other: one login, two sets of rights.
ANNA = patron("anna.jansen", COMPLEET + COMPACT)
PIET = patron("piet.hendriks", COMPLEET)
OTTO = patron("otto.vermeer", COMPACT)  # Compact: 6 + 6 per year
LOTTE = patron("lotte.bos", JEUGD)  # Jeugd: youth titles only
INGRID = patron("ingrid.peters")  # a subscription without online lending
HANNA = patron(
    "hanna.koster", [right(spec.EBOOKS_COMPLEET, valid_until=date.today() - timedelta(days=40))]
)


def sign_in(client: Client, who: Patron) -> Client:
    """Put the patron in the client's session, as the relying party's callback does."""
    session = client.session
    set_patron(SimpleNamespace(session=session, resolver_match=None), who)
    session.save()
    return client


def signed_in(who: Patron) -> Client:
    return sign_in(Client(), who)
