"""What a library does to login accounts, each change in one shape: in a transaction,
validate, write, record an event with the library as actor, queue side effects."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock, fastsql
from bibid.common.guard import lanes as guard
from bibid.common.problems import Problem
from bibid.identity.accounts import usernames
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import create_account, record_event
from bibid.identity.mail import limits as mail_limits
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue

from .models import Change, Library, LibraryEvent, Link
from .patron import UNCONFIRMED_GRACE, pending_library_address, refuse_if_frozen
from .ranges import clean_prefixes, refuse_card_number_as_username, require_in_range
from .rights import Authorization


def actor_for(library: Library, *, role: str = "", staff: str = "") -> Actor:
    """The library as the actor of a change, with the staff member it says acted."""
    return Actor("library", library.code, role=role, staff=staff)


def not_linked() -> Problem:
    # The same answer for "no link here" and "a customer of another library": a library
    # cannot tell the two apart (tenant isolation).
    return Problem(404, "not_linked", _("Aan deze klant is geen inlogaccount gekoppeld."))


def get_link(library: Library, customer_ref: str, *, for_update: bool = False) -> Link:
    links = Link.objects.select_related("account")
    if for_update:
        links = links.select_for_update()
    link = links.filter(library=library, customer_ref=customer_ref).first()
    if link is None:
        raise not_linked()
    return link


def _refuse_second_link(library: Library, customer_ref: str) -> None:
    existing = Link.objects.filter(library=library, customer_ref=customer_ref).first()
    if existing is not None:
        raise Problem(
            409,
            "customer_already_linked",
            _("Aan deze klant is al een inlogaccount gekoppeld (%(username)s)."),
            extra={"username": existing.account.username},
        )


TAKEN_ANSWERS_PER_LIBRARY = guard.Policy("taken", free=100000, max_delay=60, cap=60)


@dataclass(frozen=True)
class Generated:
    link: Link
    activation_mail: str  # "queued" | "no_address"
    username_was_taken: bool = False


def _is_valid_username(name: str) -> bool:
    try:
        usernames.validate_username(name)
    except ValidationError:
        return False
    return True


def generate(
    *,
    library: Library,
    customer_ref: str,
    username: str | None,
    recovery_email: str,
    language: str = "nl",
    fall_back_to_reference: bool = False,
    actor: Actor | None = None,
) -> Generated:
    """Create an inactive account for the customer, linked to it; queue the activation mail.

    The library owns the new account until the patron activates it."""
    actor = actor or actor_for(library)
    require_in_range(library, customer_ref)
    _refuse_second_link(library, customer_ref)
    name = usernames.normalize(username or customer_ref)
    try:
        usernames.validate_username(name)
    except ValidationError as error:
        raise Problem(
            400,
            "invalid_username",
            getattr(error, "message", str(error)),
            field="username",
            extra=getattr(error, "params", None) or {},
        ) from error
    refuse_card_number_as_username(name, own=(library, usernames.normalize(customer_ref)))
    taken = Account.objects.filter(username_key=usernames.username_key(name)).exists()
    fell_back = False
    if taken:
        _count_taken_answer(library, customer_ref, name, actor)
    if taken and fall_back_to_reference and name != usernames.normalize(customer_ref):
        # The reference is used as the username only if it is a valid username itself;
        # otherwise the answer stays "taken" (the chosen name is what the caller asked for).
        fallback = usernames.normalize(customer_ref)
        if _is_valid_username(fallback):
            name, fell_back = fallback, True
            taken = Account.objects.filter(username_key=usernames.username_key(name)).exists()
    if taken:
        raise Problem(
            409, "username_taken", _("Deze gebruikersnaam is al in gebruik."), field="username"
        )
    with transaction.atomic():
        _refuse_second_link(library, customer_ref)
        try:
            with transaction.atomic():
                account = create_account(username=name, recovery_email=recovery_email, actor=actor)
                link = Link.objects.create(
                    library=library,
                    customer_ref=customer_ref,
                    account=account,
                    card_number=customer_ref,
                )
        except IntegrityError as error:  # a concurrent request took the name or customer
            raise Problem(409, "conflict", _("Tegelijk gewijzigd; probeer het opnieuw.")) from error
        record_event(
            account=account,
            kind=AccountEvent.Kind.LINKED,
            actor=actor,
            data={"library": library.code, "customer": customer_ref},
        )
        tell_library_linked(link)
        mail = "no_address"
        # No limit of its own: one activation mail per new account, and a customer has at
        # most one account (_refuse_second_link); online sign-ups are limited per network
        # by the library service (signup.SIGNUPS_PER_NETWORK). Refusing here would leave a
        # new account its library cannot activate by mail.
        if account.recovery_email:
            enqueue(
                kind=OutboxMessage.Kind.ACTIVATION,
                to=account.recovery_email,
                account_id=account.pk,
                language=language,
                data={"library": library.name},
            )
            mail = "queued"
    return Generated(link=link, activation_mail=mail, username_was_taken=fell_back)


def _count_taken_answer(library: Library, customer_ref: str, name: str, actor: Actor) -> None:
    """Staff must hear that a name they chose is taken, but "taken" says that an account
    exists: such answers are limited per library (a desk needs a handful a day) and recorded
    for the operators, so that generate is no username oracle. Counted outside any
    transaction, so that the refusal that follows does not roll the count back."""
    if guard.reserve([guard.lane(TAKEN_ANSWERS_PER_LIBRARY, library.code)]) is not None:
        raise Problem(
            429,
            "too_many_requests",
            _(
                "Deze bibliotheek heeft het afgelopen uur te vaak een bezette "
                "gebruikersnaam gekozen. Laat de gebruikersnaam leeg (het pasnummer "
                "wordt de gebruikersnaam) of probeer het later."
            ),
        )
    LibraryEvent.objects.create(
        library=library,
        operation="username_taken",
        data={"customer": customer_ref, "typed": name, **actor.by},
    )


@transaction.atomic
def unlink(*, library: Library, customer_ref: str, actor: Actor | None = None) -> Account:
    found = get_link(library, customer_ref, for_update=True)
    account = found.account
    # In the library's own feed too: a library whose unlink timed out learns that it was
    # carried out after all.
    Change.objects.create(
        library_id=library.pk,
        kind=Change.Kind.LINK_REMOVED,
        customer_ref=customer_ref,
        account_public_id=account.public_id,
        data={"reason": "unlinked_by_library"},
    )
    found.delete()
    record_event(
        account=account,
        kind=AccountEvent.Kind.UNLINKED,
        actor=actor or actor_for(library),
        data={"library": library.code, "customer": customer_ref},
    )
    return account


@dataclass(frozen=True)
class Activated:
    account: Account
    changed: bool  # False: it was already active
    choose_password_mail: str  # "queued" | "already_sent" | "not_needed" | "no_address"


@transaction.atomic
def activate(
    *, library: Library, customer_ref: str, language: str = "nl", actor: Actor | None = None
) -> Activated:
    """Activate at the desk; a patron without a password gets a link to choose one."""
    found = get_link(library, customer_ref)
    account = Account.objects.select_for_update().get(pk=found.account_id)
    changed = account.state != Account.State.ACTIVE
    if changed:
        account.state = Account.State.ACTIVE
        account.activated_at = clock.now()
        account.save(update_fields=["state", "activated_at"])
        record_event(
            account=account,
            kind=AccountEvent.Kind.ACTIVATED,
            actor=actor or actor_for(library),
            data={"library": library.code},
        )
    if account.has_usable_password():
        mail = "not_needed"
    elif not account.recovery_email:
        mail = "no_address"
    elif not changed:
        mail = "already_sent"  # sent at the first activation; "send password reset" resends
    else:
        # Only when the account becomes active: once in its lifetime (an account never goes
        # back to inactive), so this mail cannot be repeated.
        enqueue(
            kind=OutboxMessage.Kind.CHOOSE_PASSWORD,
            to=account.recovery_email,
            account_id=account.pk,
            language=language,
            data={"library": library.name},
        )
        mail = "queued"
    return Activated(account=account, changed=changed, choose_password_mail=mail)


@dataclass(frozen=True)
class Authorized:
    link: Link
    changed: bool
    stale: bool = False  # an older push than the one held: nothing was applied


def _card_number(authorization: Authorization, ref: str) -> str:
    return str(authorization.customer.get("card_number") or ref)[:64]


def _is_stale(link_version: int, version: int | None) -> bool:
    """An older push than the one identity holds (rule: newer versions win, whatever the
    order in which requests arrive). The same version with other content is the same library
    state computed on another day (rights that start or end today): it is applied."""
    return version is not None and version < link_version


def _apply(link: Link, authorization: Authorization, now, version: int | None = None) -> bool:
    digest = authorization.digest()
    if version is not None and version > link.authorization_version:
        link.authorization_version = version
    if digest == link.authorization_digest:
        return False
    link.customer = authorization.customer_json()
    link.rights = authorization.rights_json()
    link.card_number = _card_number(authorization, link.customer_ref)
    link.authorization_digest = digest
    link.authorized_at = now
    return True


@transaction.atomic
def authorize(
    *,
    library: Library,
    customer_ref: str,
    authorization: Authorization,
    actor: Actor | None = None,
    version: int | None = None,
) -> Authorized:
    """Store what the library says about its customer; the same push twice changes nothing,
    and a push older than the one held (a lower `version`) changes nothing either."""
    # A pushed card number signs in: it must be one of this library's own.
    require_in_range(
        library, _card_number(authorization, customer_ref), field="customer.card_number"
    )
    found = get_link(library, customer_ref, for_update=True)
    if _is_stale(found.authorization_version, version):
        record_event(
            account=found.account,
            kind=AccountEvent.Kind.AUTHORIZED_UNCHANGED,
            actor=actor or actor_for(library),
            data={
                "library": library.code,
                "customer": customer_ref,
                "stale": True,
                "version": version,
                "held": found.authorization_version,
            },
        )
        return Authorized(link=found, changed=False, stale=True)
    held = found.authorization_version
    changed = _apply(found, authorization, clock.now(), version)
    if changed or found.authorization_version != held:
        found.save(
            update_fields=[
                "customer",
                "rights",
                "card_number",
                "authorization_digest",
                "authorized_at",
                "authorization_version",
            ]
        )
    record_event(
        account=found.account,
        kind=AccountEvent.Kind.AUTHORIZED if changed else AccountEvent.Kind.AUTHORIZED_UNCHANGED,
        actor=actor or actor_for(library),
        data={
            "library": library.code,
            "customer": customer_ref,
            "rights": [r["code"] for r in found.rights],
            **({"version": version} if version is not None else {}),
        },
    )
    return Authorized(link=found, changed=changed)


@dataclass(frozen=True)
class BulkItemResult:
    customer_ref: str
    result: str  # "updated" | "unchanged" | "stale" | "not_linked"


BULK_MAX_ITEMS = 5000


@transaction.atomic
def bulk_authorize(
    *,
    library: Library,
    items: list[tuple[str, Authorization, int | None]],
    actor: Actor | None = None,
) -> list[BulkItemResult]:
    """Authorize many customers in one transaction, in a fixed number of statements.

    A library's nightly sync sends its members in batches of up to BULK_MAX_ITEMS. One read
    of the links (in chunks of 900 for SQLite's parameter limit), one prepared UPDATE run
    for the changed ones, one insert of their events, one event for the call. Unchanged
    customers cost a digest comparison.
    """
    if len(items) > BULK_MAX_ITEMS:
        raise Problem(
            413,
            "too_many_items",
            _("Stuur hoogstens %(max)d klanten per keer."),
            extra={"max": BULK_MAX_ITEMS},
        )
    refs = [ref for ref, _auth, _version in items]
    for ref, authorization, _version in items:
        require_in_range(library, _card_number(authorization, ref), field="items")
    if len(set(refs)) != len(refs):
        raise Problem(
            400,
            "duplicate_customer",
            _("Een klant komt twee keer voor in de lijst."),
            field="items",
        )
    links: dict[str, tuple] = {}
    for start in range(0, len(refs), 900):
        for row in Link.objects.filter(
            library=library, customer_ref__in=refs[start : start + 900]
        ).values_list(
            "customer_ref",
            "id",
            "account_id",
            "authorization_digest",
            "account__public_id",
            "account__username",
            "authorization_version",
        ):
            links[row[0]] = row
    now = clock.now()
    acting = actor or actor_for(library)
    actor = str(acting)
    updates: list[tuple[int, dict]] = []
    events: list[AccountEvent] = []
    results: list[BulkItemResult] = []
    version_updates: list[tuple[int, dict]] = []
    for ref, authorization, version in items:
        row = links.get(ref)
        if row is None:
            results.append(BulkItemResult(ref, "not_linked"))
            continue
        _ref, link_id, account_id, old_digest, public_id, username, held = row
        digest = authorization.digest()
        if _is_stale(held, version):
            # The sync read this customer before a newer single push arrived: keep the newer.
            results.append(BulkItemResult(ref, "stale"))
            continue
        newest = max(held, version or 0)
        if digest == old_digest:
            results.append(BulkItemResult(ref, "unchanged"))
            if newest != held:
                version_updates.append((link_id, {"authorization_version": newest}))
            continue
        results.append(BulkItemResult(ref, "updated"))
        rights = authorization.rights_json()
        updates.append(
            (
                link_id,
                {
                    "customer": authorization.customer_json(),
                    "rights": rights,
                    "card_number": _card_number(authorization, ref),
                    "authorization_digest": digest,
                    "authorized_at": now,
                    "authorization_version": newest,
                },
            )
        )
        events.append(
            AccountEvent(
                at=now,
                account_id=account_id,
                account_public_id=public_id,
                username=username,
                kind=AccountEvent.Kind.AUTHORIZED,
                actor=actor,
                data={
                    "library": library.code,
                    "customer": ref,
                    "bulk": True,
                    "rights": [r["code"] for r in rights],
                    **({"by": acting.by} if acting.by else {}),
                },
            )
        )
    fastsql.update_many(
        Link,
        (
            "customer",
            "rights",
            "card_number",
            "authorization_digest",
            "authorized_at",
            "authorization_version",
        ),
        updates,
    )
    fastsql.update_many(Link, ("authorization_version",), version_updates)
    AccountEvent.objects.bulk_create(events, batch_size=500)
    counts = {"updated": 0, "unchanged": 0, "stale": 0, "not_linked": 0}
    for result in results:
        counts[result.result] += 1
    # One record of the call: unchanged customers are counted here, not one event each.
    LibraryEvent.objects.create(
        library=library,
        at=now,
        operation="authorizations_bulk",
        data={"items": len(items), **counts},
    )
    return results


@dataclass(frozen=True)
class RecoveryEmailSet:
    account: Account
    result: str  # "recovery_email_set" | "confirmation_sent" | "unchanged"


def reset_recovery_email(
    *,
    library: Library,
    customer_ref: str,
    email: str,
    actor: Actor | None = None,
    language: str = "nl",
) -> RecoveryEmailSet:
    """Set the recovery address to the one the library has (staff checked who this is).

    An account the patron has not activated yet is the library's own: the address is set at
    once. On an account the patron activated, a library's change is the first step of a
    takeover if the library is careless or hostile (testers: link, set the address, send a
    reset, sign in). So: the new address stays unconfirmed and gets a confirmation link; the
    previous confirmed address is told at once with a "Dit was ik niet" link that puts it back
    and freezes library changes; resets go to the previous address until the patron confirms
    the new one or 24 hours pass (NIST SP 800-63B 6.1.2.3 asks the notice, Keycloak-style
    confirmation the rest).

    The confirmation link counts against the mail limits (bibid.identity.mail.limits: per
    account, per address it goes to, per library): over them nothing changes, the refusal
    is recorded, and the answer is 429 `mail_limit`.
    """
    actor = actor or actor_for(library)
    with transaction.atomic():
        done = _reset_recovery_email(library, customer_ref, email, actor, language)
    if isinstance(done, mail_limits.Denied):
        raise mail_limits.problem(done)
    return done


def _mail_refused(library: Library, customer_ref: str, kind: str, denied, actor: Actor) -> None:
    """Record for the operators that a library's call wanted a mail the limits refused."""
    LibraryEvent.objects.create(
        library=library,
        operation="mail_refused",
        data={
            "customer": customer_ref,
            "mail": kind,
            "retry_after": denied.retry_after,
            **actor.by,
        },
    )


def _reset_recovery_email(
    library: Library, customer_ref: str, email: str, actor: Actor, language: str
) -> RecoveryEmailSet | mail_limits.Denied:
    found = get_link(library, customer_ref)
    account = Account.objects.select_for_update().get(pk=found.account_id)
    refuse_if_frozen(account)
    new = Account.objects.normalize_email(email)
    same = new.lower() == (account.recovery_email or "").lower()
    if not account.activated_by_patron:
        before = account.recovery_email
        account.recovery_email = new
        account.recovery_email_confirmed_at = None
        account.recovery_email_set_by = str(actor)
        account.save(
            update_fields=["recovery_email", "recovery_email_confirmed_at", "recovery_email_set_by"]
        )
        record_event(
            account=account,
            kind=AccountEvent.Kind.RECOVERY_EMAIL_SET,
            actor=actor,
            data={"library": library.code, "changed": before != new},
        )
        return RecoveryEmailSet(account, "recovery_email_set")
    if same and account.recovery_email_confirmed_at is not None:
        return RecoveryEmailSet(account, "unchanged")
    denied = mail_limits.reserve(
        [
            mail_limits.library_lane(library),
            mail_limits.account_lane(OutboxMessage.Kind.EMAIL_CHANGE, account),
            mail_limits.address_lane(new),
        ]
    )
    if denied is not None:
        # Before any write: the refusal's record commits, the address stays as it was.
        _mail_refused(library, customer_ref, OutboxMessage.Kind.EMAIL_CHANGE, denied, actor)
        return denied
    now = clock.now()
    if account.recovery_email_confirmed_at is not None:
        previous = account.recovery_email
    else:
        previous = account.previous_recovery_email
    account.previous_recovery_email = previous
    account.recovery_email = new
    account.recovery_email_confirmed_at = None
    account.recovery_email_set_by = str(actor)
    account.recovery_email_set_at = now
    account.save(
        update_fields=[
            "recovery_email",
            "recovery_email_confirmed_at",
            "recovery_email_set_by",
            "recovery_email_set_at",
            "previous_recovery_email",
        ]
    )
    event = record_event(
        account=account,
        kind=AccountEvent.Kind.RECOVERY_EMAIL_SET,
        actor=actor,
        data={
            "library": library.code,
            "library_name": library.name,
            "changed": not same,
            "needs_confirmation": True,
            "previous": previous,
        },
    )
    enqueue(
        kind=OutboxMessage.Kind.EMAIL_CHANGE,
        to=new,
        account_id=account.pk,
        language=language,
        data={"by": library.name},
    )
    if previous and previous.lower() != new.lower():
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=previous,
            account_id=account.pk,
            language=language,
            data={
                "notice": "recovery_email_set_by_library",
                "library": library.name,
                "event": event.pk,
                "new_email": new,
            },
        )
    return RecoveryEmailSet(account, "confirmation_sent")


def send_password_reset(
    *, library: Library, customer_ref: str, language: str = "nl", actor: Actor | None = None
) -> Account:
    """Queue the patron's reset mail; staff never choose or see a password.

    Never to an address a library set less than 24 hours ago and the patron has not confirmed:
    with it, a library could send itself a reset link.

    At most three an hour per account from libraries, and 200 per library
    (bibid.identity.mail.limits): pressing the button six times sends three mails, then 429
    `mail_limit` with Retry-After; nothing is queued and the refusal is recorded.
    """
    actor = actor or actor_for(library)
    with transaction.atomic():
        done = _send_password_reset(library, customer_ref, language, actor)
    if isinstance(done, mail_limits.Denied):
        raise mail_limits.problem(done)
    return done


def _send_password_reset(
    library: Library, customer_ref: str, language: str, actor: Actor
) -> Account | mail_limits.Denied:
    found = get_link(library, customer_ref)
    account = found.account
    refuse_if_frozen(account)
    if pending_library_address(account):
        hours = int(UNCONFIRMED_GRACE.total_seconds() // 3600)
        raise Problem(
            409,
            "recovery_email_unconfirmed",
            _(
                "Het herstel-e-mailadres is net door een bibliotheek ingesteld en nog "
                "niet bevestigd. Laat de klant eerst de bevestigingslink in die e-mail "
                "openen (of wacht %(hours)d uur)."
            ),
            extra={"hours": hours},
        )
    if not account.recovery_email:
        raise Problem(
            422,
            "no_recovery_email",
            _("Dit inlogaccount heeft geen herstel-e-mailadres. Stel dat eerst in."),
        )
    denied = mail_limits.reserve(
        [
            mail_limits.library_lane(library),
            mail_limits.account_lane(OutboxMessage.Kind.PASSWORD_RESET, account),
        ]
    )
    if denied is not None:
        _mail_refused(library, customer_ref, OutboxMessage.Kind.PASSWORD_RESET, denied, actor)
        return denied
    enqueue(
        kind=OutboxMessage.Kind.PASSWORD_RESET,
        to=account.recovery_email,
        account_id=account.pk,
        language=language,
        data={"by": library.name},
    )
    record_event(
        account=account,
        kind=AccountEvent.Kind.PASSWORD_RESET_SENT,
        actor=actor,
        data={"library": library.code},
    )
    return account


# Unblocking is for the patron at the desk who typed a wrong password a few times, not a
# way around the guessing limits: it ends the current wait only (the failures of the hour
# stay counted, so the next wrong password waits again, longer; the hourly cap stands), a few
# times per account and a few dozen per library an hour.
UNBLOCKS_PER_ACCOUNT = guard.Policy("unblock", free=1000, max_delay=60, cap=3)
UNBLOCKS_PER_LIBRARY = guard.Policy("unblocklib", free=1000, max_delay=60, cap=60)


@transaction.atomic
def unblock(*, library: Library, customer_ref: str, actor: Actor | None = None) -> bool:
    """Lift the delay for the patron's next attempt; recorded, and shown to the patron."""
    actor = actor or actor_for(library)
    found = get_link(library, customer_ref)
    account = found.account
    refuse_if_frozen(account)
    lanes = [
        guard.lane(UNBLOCKS_PER_LIBRARY, library.code),
        guard.lane(UNBLOCKS_PER_ACCOUNT, f"{library.code}:{account.pk}"),
    ]
    if guard.reserve(lanes) is not None:
        raise Problem(
            429,
            "too_many_requests",
            _(
                "Deze blokkade is het afgelopen uur al te vaak opgeheven. De klant kan "
                "een nieuw wachtwoord kiezen via Wachtwoord vergeten."
            ),
        )
    lifted = guard.lift_account_delay(account.username_key)
    record_event(
        account=account,
        kind=AccountEvent.Kind.BLOCK_LIFTED,
        actor=actor,
        data={"library": library.code, "was_blocked": lifted, "delay_only": True},
    )
    return lifted


@transaction.atomic
def remove_link(*, link: Link, actor: Actor) -> None:
    """Remove a link on someone else's behalf (an operator): the library hears of it."""
    Change.objects.create(
        library_id=link.library_id,
        kind=Change.Kind.LINK_REMOVED,
        customer_ref=link.customer_ref,
        account_public_id=link.account.public_id,
        data={"by": str(actor), "reason": "removed_by_operator"},
    )
    record_event(
        account=link.account,
        kind=AccountEvent.Kind.UNLINKED,
        actor=actor,
        data={"library": link.library.code, "customer": link.customer_ref},
    )
    link.delete()


def on_accounts_deleting(sender, *, accounts: list[Account], reason: str, **kwargs) -> None:
    """Tell every library an account of theirs is going, before its links go with it."""
    ids = [account.pk for account in accounts]
    by_id = {account.pk: account for account in accounts}
    now = clock.now()
    Change.objects.bulk_create(
        Change(
            library_id=found.library_id,
            at=now,
            kind=Change.Kind.ACCOUNT_DELETED,
            customer_ref=found.customer_ref,
            account_public_id=by_id[found.account_id].public_id,
            data={"reason": reason, "username": by_id[found.account_id].username},
        )
        for found in Link.objects.filter(account_id__in=ids)
    )


@dataclass(frozen=True)
class Registered:
    library: Library
    client_id: str
    client_secret: str  # shown once; only its hash is stored


@transaction.atomic
def register_library(
    *,
    code: str,
    name: str,
    card_prefixes: list[str] | tuple = (),
    client_id: str | None = None,
    client_secret: str | None = None,
) -> Registered:
    """Make a library organisation a client of the library API (client-credentials grant),
    with the card-number prefixes it hands out (they may not overlap another library's)."""
    from oauth2_provider.generators import generate_client_id, generate_client_secret
    from oauth2_provider.models import Application

    if Library.objects.filter(code=code).exists():
        raise Problem(409, "library_exists", _("Er is al een bibliotheek met deze code."))
    prefixes = clean_prefixes(list(card_prefixes))
    secret = client_secret or generate_client_secret()
    application = Application.objects.create(
        name=f"Library API: {name}",
        client_id=client_id or generate_client_id(),
        client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        hash_client_secret=True,
    )
    library = Library.objects.create(
        code=code, name=name, application=application, card_prefixes=prefixes
    )
    return Registered(library=library, client_id=application.client_id, client_secret=secret)


def tell_library_linked(link: Link) -> None:
    """The link is in the feed of the library that made it (see Change.Kind.LINK_CREATED)."""
    Change.objects.create(
        library_id=link.library_id,
        kind=Change.Kind.LINK_CREATED,
        customer_ref=link.customer_ref,
        account_public_id=link.account.public_id,
        data={"username": link.account.username},
    )


def tell_libraries(account: Account, kind: str, data: dict | None = None) -> None:
    """Put a change about an account in the feed of every library it is linked to."""
    now = clock.now()
    Change.objects.bulk_create(
        Change(
            library_id=found.library_id,
            at=now,
            kind=kind,
            customer_ref=found.customer_ref,
            account_public_id=account.public_id,
            data=data or {},
        )
        for found in Link.objects.filter(account=account)
    )


@transaction.atomic
def set_card_prefixes(*, library: Library, prefixes: list[str], actor: Actor) -> Library:
    """An operator registers the card-number prefixes a library hands out."""
    cleaned = clean_prefixes(prefixes, exclude=library)
    before = library.card_prefixes
    library.card_prefixes = cleaned
    library.save(update_fields=["card_prefixes"])
    LibraryEvent.objects.create(
        library=library,
        operation="card_prefixes_update",
        data={"before": before, "after": cleaned, "by": str(actor)},
    )
    return library


@transaction.atomic
def update_settings(*, library: Library, flows: list[str]) -> Library:
    before = library.self_service_flows
    library.self_service_flows = flows
    library.save(update_fields=["self_service_flows"])
    LibraryEvent.objects.create(
        library=library,
        operation="library_settings_update",
        data={"before": before, "after": flows},
    )
    return library
