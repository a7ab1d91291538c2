"""What a library does to login accounts, each change in one shape: in a transaction,
validate, write, record an event with the library as actor, queue side effects."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock, fastsql
from bibid.common.problems import Problem
from bibid.identity.accounts import usernames
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import create_account, record_event
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue

from .models import Change, Library, LibraryEvent, Link
from .rights import Authorization


def actor_for(library: Library) -> Actor:
    return Actor("library", library.code)


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
            409, "customer_already_linked",
            _("Aan deze klant is al een inlogaccount gekoppeld (%(username)s)."),
            extra={"username": existing.account.username},
        )


def _refuse_account_linked_elsewhere_here(library: Library, account: Account) -> None:
    other = Link.objects.filter(library=library, account=account).first()
    if other is not None:
        raise Problem(
            409, "account_linked_to_other_customer",
            _("Dit inlogaccount is in deze bibliotheek al gekoppeld aan klant %(customer)s. "
              "Koppel bij een gezin ieder zijn eigen inlogaccount."),
            extra={"customer": other.customer_ref},
        )


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


@transaction.atomic
def generate(
    *, library: Library, customer_ref: str, username: str | None, recovery_email: str,
    language: str = "nl", fall_back_to_reference: bool = False,
) -> Generated:
    """Create an inactive account for the customer, linked to it; queue the activation mail."""
    actor = actor_for(library)
    _refuse_second_link(library, customer_ref)
    name = usernames.normalize(username or customer_ref)
    try:
        usernames.validate_username(name)
    except ValidationError as error:
        raise Problem(400, "invalid_username", getattr(error, "message", str(error)),
                      field="username", extra=getattr(error, "params", None) or {}) from error
    taken = Account.objects.filter(username_key=usernames.username_key(name)).exists()
    fell_back = False
    if taken and fall_back_to_reference and name != usernames.normalize(customer_ref):
        # The reference is used as the username only if it is a valid username itself;
        # otherwise the answer stays "taken" (the chosen name is what the caller asked for).
        fallback = usernames.normalize(customer_ref)
        if _is_valid_username(fallback):
            name, fell_back = fallback, True
            taken = Account.objects.filter(username_key=usernames.username_key(name)).exists()
    if taken:
        raise Problem(409, "username_taken", _("Deze gebruikersnaam is al in gebruik."),
                      field="username")
    try:
        with transaction.atomic():
            account = create_account(username=name, recovery_email=recovery_email, actor=actor)
            link = Link.objects.create(library=library, customer_ref=customer_ref,
                                       account=account, card_number=customer_ref)
    except IntegrityError as error:  # a concurrent request took the name or the customer
        raise Problem(409, "conflict", _("Tegelijk gewijzigd; probeer het opnieuw.")) from error
    record_event(account=account, kind=AccountEvent.Kind.LINKED, actor=actor,
                 data={"library": library.code, "customer": customer_ref})
    mail = "no_address"
    if account.recovery_email:
        enqueue(kind=OutboxMessage.Kind.ACTIVATION, to=account.recovery_email,
                account_id=account.pk, language=language, data={"library": library.name})
        mail = "queued"
    return Generated(link=link, activation_mail=mail, username_was_taken=fell_back)


@transaction.atomic
def link(*, library: Library, customer_ref: str, username: str) -> Link:
    """Link the account the patron signs in with (found by username) to this customer."""
    actor = actor_for(library)
    _refuse_second_link(library, customer_ref)
    account = Account.objects.filter(username_key=usernames.username_key(username)).first()
    if account is None or account.is_staff:
        raise Problem(404, "account_not_found",
                      _("Er is geen inlogaccount met deze gebruikersnaam."), field="username")
    _refuse_account_linked_elsewhere_here(library, account)
    try:
        with transaction.atomic():
            created = Link.objects.create(library=library, customer_ref=customer_ref,
                                          account=account, card_number=customer_ref)
    except IntegrityError as error:
        raise Problem(409, "conflict", _("Tegelijk gewijzigd; probeer het opnieuw.")) from error
    record_event(account=account, kind=AccountEvent.Kind.LINKED, actor=actor,
                 data={"library": library.code, "customer": customer_ref})
    if account.recovery_email:
        # Linking needs only a username, so the patron hears of every link: a link made by
        # mistake (or by a library that should not) shows up in their mailbox.
        enqueue(kind=OutboxMessage.Kind.NOTICE, to=account.recovery_email,
                account_id=account.pk, data={"notice": "linked", "library": library.name})
    return created


@transaction.atomic
def unlink(*, library: Library, customer_ref: str) -> Account:
    found = get_link(library, customer_ref, for_update=True)
    account = found.account
    found.delete()
    record_event(account=account, kind=AccountEvent.Kind.UNLINKED, actor=actor_for(library),
                 data={"library": library.code, "customer": customer_ref})
    return account


@dataclass(frozen=True)
class Activated:
    account: Account
    changed: bool  # False: it was already active
    choose_password_mail: str  # "queued" | "already_sent" | "not_needed" | "no_address"


@transaction.atomic
def activate(*, library: Library, customer_ref: str, language: str = "nl") -> Activated:
    """Activate at the desk; a patron without a password gets a link to choose one."""
    found = get_link(library, customer_ref)
    account = Account.objects.select_for_update().get(pk=found.account_id)
    changed = account.state != Account.State.ACTIVE
    if changed:
        account.state = Account.State.ACTIVE
        account.activated_at = clock.now()
        account.save(update_fields=["state", "activated_at"])
        record_event(account=account, kind=AccountEvent.Kind.ACTIVATED,
                     actor=actor_for(library), data={"library": library.code})
    if account.has_usable_password():
        mail = "not_needed"
    elif not account.recovery_email:
        mail = "no_address"
    elif not changed:
        mail = "already_sent"  # sent at the first activation; "send password reset" resends
    else:
        enqueue(kind=OutboxMessage.Kind.CHOOSE_PASSWORD, to=account.recovery_email,
                account_id=account.pk, language=language, data={"library": library.name})
        mail = "queued"
    return Activated(account=account, changed=changed, choose_password_mail=mail)


@dataclass(frozen=True)
class Authorized:
    link: Link
    changed: bool


def _apply(link: Link, authorization: Authorization, now) -> bool:
    digest = authorization.digest()
    if digest == link.authorization_digest:
        return False
    link.customer = authorization.customer_json()
    link.rights = authorization.rights_json()
    link.card_number = str(authorization.customer.get("card_number") or link.customer_ref)[:64]
    link.authorization_digest = digest
    link.authorized_at = now
    return True


@transaction.atomic
def authorize(*, library: Library, customer_ref: str, authorization: Authorization) -> Authorized:
    """Store what the library says about its customer; the same push twice changes nothing."""
    found = get_link(library, customer_ref, for_update=True)
    changed = _apply(found, authorization, clock.now())
    if changed:
        found.save(update_fields=["customer", "rights", "card_number", "authorization_digest",
                                  "authorized_at"])
    record_event(
        account=found.account,
        kind=AccountEvent.Kind.AUTHORIZED if changed else AccountEvent.Kind.AUTHORIZED_UNCHANGED,
        actor=actor_for(library),
        data={"library": library.code, "customer": customer_ref,
              "rights": [r["code"] for r in found.rights]},
    )
    return Authorized(link=found, changed=changed)


@dataclass(frozen=True)
class BulkItemResult:
    customer_ref: str
    result: str  # "updated" | "unchanged" | "not_linked"


BULK_MAX_ITEMS = 5000


@transaction.atomic
def bulk_authorize(
    *, library: Library, items: list[tuple[str, Authorization]]
) -> list[BulkItemResult]:
    """Authorize many customers in one transaction, in a fixed number of statements.

    A library's nightly sync sends its members in batches of up to BULK_MAX_ITEMS. One read
    of the links (in chunks of 900 for SQLite's parameter limit), one prepared UPDATE run
    for the changed ones, one insert of their events, one event for the call. Unchanged
    customers cost a digest comparison.
    """
    if len(items) > BULK_MAX_ITEMS:
        raise Problem(413, "too_many_items", _("Stuur hoogstens %(max)d klanten per keer."),
                      extra={"max": BULK_MAX_ITEMS})
    refs = [ref for ref, _auth in items]
    if len(set(refs)) != len(refs):
        raise Problem(400, "duplicate_customer", _("Een klant komt twee keer voor in de lijst."),
                      field="items")
    links: dict[str, tuple] = {}
    for start in range(0, len(refs), 900):
        for row in Link.objects.filter(
            library=library, customer_ref__in=refs[start:start + 900]
        ).values_list("customer_ref", "id", "account_id", "authorization_digest",
                      "account__public_id", "account__username"):
            links[row[0]] = row
    now = clock.now()
    actor = str(actor_for(library))
    updates: list[tuple[int, dict]] = []
    events: list[AccountEvent] = []
    results: list[BulkItemResult] = []
    for ref, authorization in items:
        row = links.get(ref)
        if row is None:
            results.append(BulkItemResult(ref, "not_linked"))
            continue
        _ref, link_id, account_id, old_digest, public_id, username = row
        digest = authorization.digest()
        if digest == old_digest:
            results.append(BulkItemResult(ref, "unchanged"))
            continue
        results.append(BulkItemResult(ref, "updated"))
        rights = authorization.rights_json()
        updates.append((link_id, {
            "customer": authorization.customer_json(), "rights": rights,
            "card_number": str(authorization.customer.get("card_number") or ref)[:64],
            "authorization_digest": digest, "authorized_at": now,
        }))
        events.append(AccountEvent(
            at=now, account_id=account_id, account_public_id=public_id, username=username,
            kind=AccountEvent.Kind.AUTHORIZED, actor=actor,
            data={"library": library.code, "customer": ref, "bulk": True,
                  "rights": [r["code"] for r in rights]},
        ))
    fastsql.update_many(Link, ("customer", "rights", "card_number", "authorization_digest",
                               "authorized_at"), updates)
    AccountEvent.objects.bulk_create(events, batch_size=500)
    counts = {"updated": 0, "unchanged": 0, "not_linked": 0}
    for result in results:
        counts[result.result] += 1
    # One record of the call: unchanged customers are counted here, not one event each.
    LibraryEvent.objects.create(library=library, at=now, operation="authorizations_bulk",
                                data={"items": len(items), **counts})
    return results


@transaction.atomic
def reset_recovery_email(*, library: Library, customer_ref: str, email: str) -> Account:
    """Set the recovery address to the one the library has (staff checked who this is)."""
    found = get_link(library, customer_ref)
    account = Account.objects.select_for_update().get(pk=found.account_id)
    before = account.recovery_email
    account.recovery_email = Account.objects.normalize_email(email)
    account.recovery_email_confirmed_at = None
    account.recovery_email_set_by = str(actor_for(library))
    account.save(update_fields=["recovery_email", "recovery_email_confirmed_at",
                                "recovery_email_set_by"])
    record_event(account=account, kind=AccountEvent.Kind.RECOVERY_EMAIL_SET,
                 actor=actor_for(library),
                 data={"library": library.code, "changed": before != account.recovery_email})
    return account


@transaction.atomic
def send_password_reset(*, library: Library, customer_ref: str, language: str = "nl") -> Account:
    """Queue the patron's reset mail; staff never choose or see a password."""
    found = get_link(library, customer_ref)
    account = found.account
    if not account.recovery_email:
        raise Problem(422, "no_recovery_email",
                      _("Dit inlogaccount heeft geen herstel-e-mailadres. Stel dat eerst in."))
    enqueue(kind=OutboxMessage.Kind.PASSWORD_RESET, to=account.recovery_email,
            account_id=account.pk, language=language, data={"by": library.name})
    record_event(account=account, kind=AccountEvent.Kind.PASSWORD_RESET_SENT,
                 actor=actor_for(library), data={"library": library.code})
    return account


@transaction.atomic
def remove_link(*, link: Link, actor: Actor) -> None:
    """Remove a link on someone else's behalf (an operator): the library hears of it."""
    Change.objects.create(library_id=link.library_id, kind=Change.Kind.LINK_REMOVED,
                          customer_ref=link.customer_ref,
                          account_public_id=link.account.public_id,
                          data={"by": str(actor)})
    record_event(account=link.account, kind=AccountEvent.Kind.UNLINKED, actor=actor,
                 data={"library": link.library.code, "customer": link.customer_ref})
    link.delete()


def on_accounts_deleting(sender, *, accounts: list[Account], reason: str, **kwargs) -> None:
    """Tell every library an account of theirs is going, before its links go with it."""
    ids = [account.pk for account in accounts]
    by_id = {account.pk: account for account in accounts}
    now = clock.now()
    Change.objects.bulk_create(
        Change(library_id=found.library_id, at=now, kind=Change.Kind.ACCOUNT_DELETED,
               customer_ref=found.customer_ref, account_public_id=by_id[found.account_id].public_id,
               data={"reason": reason, "username": by_id[found.account_id].username})
        for found in Link.objects.filter(account_id__in=ids)
    )


@dataclass(frozen=True)
class Registered:
    library: Library
    client_id: str
    client_secret: str  # shown once; only its hash is stored


@transaction.atomic
def register_library(*, code: str, name: str, client_id: str | None = None,
                     client_secret: str | None = None) -> Registered:
    """Make a library organisation a client of the library API (client-credentials grant)."""
    from oauth2_provider.generators import generate_client_id, generate_client_secret
    from oauth2_provider.models import Application

    if Library.objects.filter(code=code).exists():
        raise Problem(409, "library_exists", _("Er is al een bibliotheek met deze code."))
    secret = client_secret or generate_client_secret()
    application = Application.objects.create(
        name=f"Library API: {name}",
        client_id=client_id or generate_client_id(),
        client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        hash_client_secret=True,
    )
    library = Library.objects.create(code=code, name=name, application=application)
    return Registered(library=library, client_id=application.client_id, client_secret=secret)


def tell_libraries(account: Account, kind: str, data: dict | None = None) -> None:
    """Put a change about an account in the feed of every library it is linked to."""
    now = clock.now()
    Change.objects.bulk_create(
        Change(library_id=found.library_id, at=now, kind=kind, customer_ref=found.customer_ref,
               account_public_id=account.public_id, data=data or {})
        for found in Link.objects.filter(account=account)
    )


@transaction.atomic
def update_settings(*, library: Library, flows: list[str]) -> Library:
    before = library.self_service_flows
    library.self_service_flows = flows
    library.save(update_fields=["self_service_flows"])
    LibraryEvent.objects.create(library=library, operation="library_settings_update",
                                data={"before": before, "after": flows})
    return library
