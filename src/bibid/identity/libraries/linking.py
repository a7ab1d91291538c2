"""Linking an existing account needs the patron: a library opens a link request, the patron
agrees (a code from their mailbox, or signing in on the handover page), then the library
completes the link.

States of a LinkRequest:

    pending ──(code read out at the desk: confirm with code)──────────► linked
       │    └─(patron signs in on the handover page)──► confirmed ──(confirm)──► linked
       └─(15 minutes, 5 wrong codes, or the patron says no)──► cancelled

Why: a library that could link any account by its username alone could then reset the
recovery address and take the account over (testers did, 2 of 2). The request answers the
same whether or not the name exists, so it is no username oracle either; it is limited per
library and every one is recorded.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from bibid.common import clock
from bibid.common.guard import lanes as guard
from bibid.common.problems import Problem
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import record_event
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue

from .models import Library, LibraryEvent, Link, LinkRequest
from .ranges import require_in_range
from .selectors import account_by_name
from .services import tell_library_linked

LIFETIME = timedelta(minutes=15)
MAX_WRONG_CODES = 5
# A busy library links perhaps a few dozen patrons an hour; 300 leaves room and still stops
# a library that would use requests to probe names or flood mailboxes.
REQUESTS_PER_LIBRARY = guard.Policy("linkreq", free=1000, max_delay=60, cap=300)
CODES_PER_ACCOUNT = guard.Policy("linkcode", free=1000, max_delay=60, cap=3)


def _digest(request_id, code: str) -> str:
    return salted_hmac("bibid.link.code", f"{request_id}:{code}", algorithm="sha256").hexdigest()


def _find(typed: str) -> Account | None:
    account = account_by_name(typed)
    if account is not None and account.is_staff:
        return None  # operators' accounts are never linked to a library customer
    return account


def _refuse_second_link(library: Library, customer_ref: str) -> None:
    if Link.objects.filter(library=library, customer_ref=customer_ref).exists():
        raise Problem(
            409,
            "customer_already_linked",
            _("Aan deze klant is al een inlogaccount gekoppeld. Ontkoppel het eerst."),
        )


def _too_many() -> Problem:
    return Problem(
        429,
        "too_many_requests",
        _(
            "Deze bibliotheek heeft dit het afgelopen uur te vaak gevraagd. Probeer het "
            "later opnieuw."
        ),
    )


def request_link(
    *, library: Library, customer_ref: str, username: str | None, actor: Actor, language: str = "nl"
) -> LinkRequest:
    """Open a link request; mail a code when the name has a confirmed recovery address.

    The answer (the request) looks the same whether or not the name exists.
    """
    require_in_range(library, customer_ref)
    _refuse_second_link(library, customer_ref)
    if guard.reserve([guard.lane(REQUESTS_PER_LIBRARY, library.code)]) is not None:
        raise _too_many()
    typed = (username or "").strip()
    now = clock.now()
    with transaction.atomic():
        account = _find(typed) if typed else None
        request = LinkRequest(
            library=library,
            customer_ref=customer_ref,
            typed=typed[:254],
            account=account,
            expires_at=now + LIFETIME,
            acting=actor.by,
        )
        # At most a few codes per account an hour, whichever libraries ask: five guesses at
        # each code must not add up (300 requests an hour would be 1,500 guesses). Beyond
        # that the request still opens, and answers the same, but no code is mailed: the
        # patron can still agree on the handover page.
        mailable = bool(
            account
            and account.recovery_email
            and account.recovery_email_confirmed_at
            and guard.reserve([guard.lane(CODES_PER_ACCOUNT, str(account.public_id))]) is None
        )
        code = f"{secrets.randbelow(10**6):06d}"
        if mailable:
            request.code_digest = _digest(request.id, code)
        request.save()
        LibraryEvent.objects.create(
            library=library,
            operation="link_requested",
            data={
                "customer": customer_ref,
                "typed": typed[:254],
                "request": str(request.id),
                **actor.by,
            },
        )
        if account is not None:
            # The patron sees every request in Mijn inlogaccount, granted or not.
            record_event(
                account=account,
                kind=AccountEvent.Kind.LINK_REQUESTED,
                actor=actor,
                data={"library": library.code, "customer": customer_ref},
            )
        if mailable:
            # The code is in the outbox row until it is sent; the request keeps only its hash.
            enqueue(
                kind=OutboxMessage.Kind.NOTICE,
                to=account.recovery_email,
                account_id=account.pk,
                language=language,
                data={
                    "notice": "link_code",
                    "code": code,
                    "library": library.name,
                    "minutes": int(LIFETIME.total_seconds() // 60),
                },
            )
    return request


def _open(request: LinkRequest) -> bool:
    return (
        request.state in (LinkRequest.State.PENDING, LinkRequest.State.CONFIRMED)
        and request.expires_at > clock.now()
    )


def _expired() -> Problem:
    return Problem(
        410,
        "link_request_expired",
        _("Dit koppelverzoek is verlopen of gebruikt. Vraag opnieuw een koppeling aan."),
    )


def confirm_link(
    *, library: Library, customer_ref: str, request_id: str, code: str | None, actor: Actor
) -> Link:
    """Complete a link the patron agreed to: with the code they read out, or after they
    signed in on the handover page. A wrong code counts (five void the request)."""
    require_in_range(library, customer_ref)
    request = LinkRequest.objects.filter(
        pk=request_id, library=library, customer_ref=customer_ref
    ).first()
    if request is None:
        raise Problem(
            404, "link_request_not_found", _("Dit koppelverzoek bestaat niet (voor deze klant).")
        )
    if request.state == LinkRequest.State.LINKED:
        found = Link.objects.filter(
            library=library, customer_ref=customer_ref, account_id=request.account_id
        ).select_related("account")
        if found.exists():
            return found.get()  # a retried confirm: the same answer
    if not _open(request):
        raise _expired()
    if request.state == LinkRequest.State.PENDING:
        if not code:
            raise Problem(
                409,
                "waiting_for_patron",
                _(
                    "De klant heeft de koppeling nog niet bevestigd. Vraag om de code uit "
                    "de e-mail of laat de klant inloggen op het scherm."
                ),
            )
        _check_code(request, code)
    return _link(request, actor)


def _check_code(request: LinkRequest, code: str) -> None:
    good = bool(request.code_digest) and hmac.compare_digest(
        _digest(request.id, code.strip()), request.code_digest
    )
    if good:
        return
    # Counted in its own committed transaction: the refusal must not roll the count back.
    with transaction.atomic():
        locked = LinkRequest.objects.select_for_update().get(pk=request.pk)
        locked.wrong_codes += 1
        if locked.wrong_codes >= MAX_WRONG_CODES:
            locked.state = LinkRequest.State.CANCELLED
        locked.save(update_fields=["wrong_codes", "state"])
    left = max(0, MAX_WRONG_CODES - locked.wrong_codes)
    if left == 0:
        raise _expired()
    raise Problem(
        400,
        "wrong_code",
        ngettext_lazy(
            "Deze code klopt niet. Nog %(attempts_left)d poging.",
            "Deze code klopt niet. Nog %(attempts_left)d pogingen.",
            "attempts_left",
        ),
        field="code",
        extra={"attempts_left": left},
    )


@transaction.atomic
def _link(request: LinkRequest, actor: Actor) -> Link:
    # Locked alone: PostgreSQL cannot lock the nullable side of the join to the account.
    request = LinkRequest.objects.select_for_update().get(pk=request.pk)
    if not _open(request) or request.account_id is None:
        raise _expired()
    library, account = request.library, request.account
    _refuse_second_link(library, request.customer_ref)
    other = Link.objects.filter(library=library, account=account).first()
    if other is not None:
        # The patron proved the account is theirs; the other customer is the library's own,
        # so it may hear which (a library withholds it for its colleagues).
        raise Problem(
            409,
            "account_linked_to_other_customer",
            _(
                "Dit inlogaccount is in deze bibliotheek al gekoppeld aan klant %(customer)s. "
                "Koppel bij een gezin ieder zijn eigen inlogaccount."
            ),
            extra={"customer": other.customer_ref},
        )
    try:
        with transaction.atomic():
            link = Link.objects.create(
                library=library,
                customer_ref=request.customer_ref,
                account=account,
                card_number=request.customer_ref,
            )
    except IntegrityError as error:
        raise Problem(409, "conflict", _("Tegelijk gewijzigd; probeer het opnieuw.")) from error
    tell_library_linked(link)
    via = request.confirmed_via or "code"
    request.state, request.confirmed_via = LinkRequest.State.LINKED, via
    request.save(update_fields=["state", "confirmed_via"])
    record_event(
        account=account,
        kind=AccountEvent.Kind.LINKED,
        actor=actor,
        data={
            "library": library.code,
            "customer": request.customer_ref,
            "confirmed_by_patron": via,
        },
    )
    # Once per link the patron agreed to (by a code whose mail is limited, or by signing
    # in on the handover page): a library cannot repeat it without the patron.
    if account.recovery_email:
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=account.recovery_email,
            account_id=account.pk,
            data={"notice": "linked", "library": library.name},
        )
    return Link.objects.select_related("account").get(pk=link.pk)


# -- the handover page (the patron's side) --------------------------------------------------


def pending_request(request_id) -> LinkRequest | None:
    """An open request by its id (the handover page's address), or None."""
    request = LinkRequest.objects.filter(pk=request_id).select_related("library", "account").first()
    return request if request is not None and _open(request) else None


@transaction.atomic
def approve(*, request_id, account: Account) -> LinkRequest:
    """The patron signed in on the handover page and agrees: the library may now link."""
    request = LinkRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is None or not _open(request):
        raise _expired()
    if account.is_staff:
        raise Problem(
            403, "not_linkable", _("Dit account kan niet aan een bibliotheek worden gekoppeld.")
        )
    if request.typed and request.account_id != account.pk:
        # The library asked for a name: only that account may agree. For a name without an
        # account no one may, and the answer is the same as for another account, so the page
        # tells no one whether a name exists (found by the e2e tests).
        raise Problem(
            409,
            "other_account",
            _(
                "Je bent ingelogd met een ander inlogaccount dan waarvoor de "
                "bibliotheek een koppeling vroeg. Vraag de medewerker de koppeling "
                "opnieuw te starten."
            ),
        )
    request.account = account
    request.state, request.confirmed_via = LinkRequest.State.CONFIRMED, "sign-in"
    request.save(update_fields=["account", "state", "confirmed_via"])
    record_event(
        account=account,
        kind=AccountEvent.Kind.LINK_CONFIRMED,
        actor=Actor.patron(account),
        data={"library": request.library.code, "customer": request.customer_ref},
    )
    return request


@transaction.atomic
def decline(*, request_id) -> None:
    """The patron (or whoever holds the screen) says no: the request ends."""
    LinkRequest.objects.filter(pk=request_id, state=LinkRequest.State.PENDING).update(
        state=LinkRequest.State.CANCELLED
    )
