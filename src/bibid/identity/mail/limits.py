"""How many mails the login service sends on anyone's request: one policy for every path.

A mail is sent because someone asked: a visitor on a form, a patron in Mijn inlogaccount, a
library through its API. None of them may use us to flood a mailbox. Each path counts its
mail on the guessing protection's lanes (bibid.common.guard.lanes: counted before anything
is sent, in one SQL statement, keys are HMACs) with these policies, all "at most N an hour":

- per name typed in "Wachtwoord vergeten" / "Gebruikersnaam vergeten": 3; per network: 20
  (those forms answer the same either way, so over the limit they say nothing: no mail);
- per account and kind of mail asked for by a library (a reset, a confirmation of an address
  it set): 3, the same number as the forms, on lanes of their own so that a stranger at the
  forms cannot stop the desk from helping the patron; per library: 200 (a busy library
  helps a few dozen patrons an hour; a careless or hostile integration stops there);
- per account for a patron's own e-mail change: 3; per address a confirmation link goes
  to, whoever asks (patron or library): 3, so that nobody can make us mail one address
  that never asked for it more than that (400 in 30 s were measured before).

Over the limit a path that answers a person says so: a 429 problem `mail_limit` with
Retry-After (APIs) or the same words in the form. Mails that cannot flood are listed where
they are queued, each with the reason (one per account's lifetime, behind a limit of its
own, or only to the patron's own confirmed address after a checked password).
"""

from __future__ import annotations

from django.utils.translation import ngettext_lazy

from bibid.common.guard import lanes as guard
from bibid.common.problems import Problem

PER_NAME = guard.Policy("mail", free=1000, max_delay=60, cap=3)
PER_NETWORK = guard.Policy("mailnet", free=1000, max_delay=60, cap=20)
PER_ACCOUNT = guard.Policy("mailacct", free=1000, max_delay=60, cap=3)
PER_LIBRARY = guard.Policy("maillib", free=1000, max_delay=60, cap=200)
PER_ADDRESS = guard.Policy("mailto", free=1000, max_delay=60, cap=3)

Denied = guard.Denied


def name_lane(name: str) -> guard.Lane:
    return guard.lane(PER_NAME, name)


def network_lane(ip: str) -> guard.Lane:
    return guard.network_lane(PER_NETWORK, ip)


def account_lane(kind: str, account) -> guard.Lane:
    """Mails of one kind about one account (its public id: a rename does not reset it)."""
    return guard.lane(PER_ACCOUNT, f"{kind}:{account.public_id}")


def library_lane(library) -> guard.Lane:
    return guard.lane(PER_LIBRARY, library.code)


def address_lane(address: str) -> guard.Lane:
    return guard.lane(PER_ADDRESS, address.strip().lower())


def reserve(lanes: list[guard.Lane]) -> Denied | None:
    """Count one mail on every lane; None when it may be sent, else how long to wait.

    Counted before the mail is queued, inside the caller's transaction: a mail refused for
    another reason afterwards rolls its count back with it."""
    return guard.reserve(lanes)


def problem(denied: Denied, *, field: str | None = None) -> Problem:
    """The answer over the limit: 429 `mail_limit` with Retry-After, in Dutch and English."""
    minutes = max(1, -(-denied.retry_after // 60))
    return Problem(
        429,
        "mail_limit",
        ngettext_lazy(
            "Er zijn het afgelopen uur al genoeg e-mails van deze soort verstuurd. Er gaat "
            "nu geen e-mail weg; probeer het over %(minutes)d minuut opnieuw.",
            "Er zijn het afgelopen uur al genoeg e-mails van deze soort verstuurd. Er gaat "
            "nu geen e-mail weg; probeer het over %(minutes)d minuten opnieuw.",
            "minutes",
        ),
        field=field,
        extra={"minutes": minutes, "retry_after": denied.retry_after},
        headers={"Retry-After": str(denied.retry_after)},
    )
