"""The self-service journeys as operations. Each one: validate, write, record an event, queue
its e-mail in the same transaction. The journeys that start from a name or an address
("forgot ...") do the same work whether or not anything matched, and answer the same."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.guard import lanes as guard
from bibid.common.problems import Problem
from bibid.identity.accounts import tokens, usernames
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import delete_account as delete_for_good
from bibid.identity.accounts.services import record_event
from bibid.identity.accounts.signals import password_set
from bibid.identity.libraries.models import Change
from bibid.identity.libraries.patron import pending_library_address, reset_address
from bibid.identity.libraries.ranges import refuse_card_number_as_username
from bibid.identity.libraries.selectors import account_by_name, flow_allowed
from bibid.identity.libraries.services import tell_libraries
from bibid.identity.mail import limits as mail_limits
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue

from .models import SelfServiceRequest

# At most three reset or reminder mails per account (or address) per hour, and twenty per
# network address: the forms cannot be used to flood someone's mailbox. The one policy of
# every path that sends mail lives in bibid.identity.mail.limits.
MAIL_PER_NAME = mail_limits.PER_NAME
MAIL_PER_NETWORK = mail_limits.PER_NETWORK
RECENT_SIGN_IN = timedelta(minutes=15)
# Choosing a username (on the activation page or in Mijn inlogaccount) says whether a name is
# taken, so every try counts before that is checked: at most ten per account an hour (the
# account's public id, which a rename does not change) and thirty per network. Names cannot
# be harvested through these forms faster than through the sign-in page.
USERNAME_PER_ACCOUNT = guard.Policy("uname", free=1000, max_delay=60, cap=10)
USERNAME_PER_NETWORK = guard.Policy("unamenet", free=1000, max_delay=60, cap=30)


def _mail_allowed(name: str, ip: str) -> bool:
    lanes = [mail_limits.network_lane(ip), mail_limits.name_lane(name)]
    return mail_limits.reserve(lanes) is None


def _username_try_allowed(account: Account, ip: str) -> None:
    """Count one try at choosing a username; refuse beyond the limit.

    Called outside any transaction on purpose: a refused name rolls the change back, and the
    count must survive that (otherwise a taken name would cost the prober nothing).
    """
    lanes = [guard.lane(USERNAME_PER_ACCOUNT, str(account.public_id))]
    if ip:
        lanes.append(guard.network_lane(USERNAME_PER_NETWORK, ip))
    denied = guard.reserve(lanes)
    if denied is not None:
        minutes = max(1, -(-denied.retry_after // 60))
        raise Problem(
            429,
            "too_many_username_tries",
            _(
                "Je hebt te vaak een gebruikersnaam geprobeerd. Probeer het over "
                "%(minutes)d minuten opnieuw."
            ),
            field="username",
            extra={"minutes": minutes},
        )


def _checked_username(account: Account, new_username: str) -> str:
    """The normalised name, if it may become this account's username (the rules of account
    creation; taken by another account is refused)."""
    name = usernames.normalize(new_username)
    try:
        usernames.validate_username(name)
    except ValidationError as error:
        raise Problem(
            400, error.code or "invalid_username", error.messages[0], field="username"
        ) from error
    if name != account.username:
        refuse_card_number_as_username(name)
    key = usernames.username_key(name)
    if Account.objects.filter(username_key=key).exclude(pk=account.pk).exists():
        raise Problem(
            409, "username_taken", _("Deze gebruikersnaam is al in gebruik."), field="username"
        )
    return name


def _rename(account: Account, name: str) -> str:
    """Write the new username; the libraries learn it from their changes feed. Returns the
    old one (equal to `name` when nothing changed)."""
    old, old_key = account.username, account.username_key
    if name == old:
        return old
    account.username = name
    account.save(update_fields=["username", "username_key"])
    guard.carry_account_lane(old_key, account.username_key)
    record_event(
        account=account,
        kind=AccountEvent.Kind.UPDATED,
        actor=Actor.patron(account),
        data={"changed": {"username": [old, name]}},
    )
    tell_libraries(account, Change.Kind.USERNAME_CHANGED, {"username": name, "old": old})
    return old


def _find(name: str) -> Account | None:
    return account_by_name(name)


# -- forgot password, forgot username --------------------------------------------------------
#
# The page only writes down the request and hands it to the task worker, the same two
# inserts whatever was typed; looking the account up and queueing the mail happen there, so
# neither the answer nor its timing can tell whether an account or address exists.


def _hand_over(kind: str, typed: str, ip: str, language: str) -> SelfServiceRequest:
    from .tasks import handle_request

    request = SelfServiceRequest.objects.create(
        kind=kind, typed=typed[:254], ip=ip or None, language=language[:8]
    )
    # The task queue is a table in this same database, so the task commits (or not)
    # together with the request it is about.
    handle_request.enqueue(request.pk)
    return request


@transaction.atomic
def request_password_reset(*, name: str, ip: str, language: str) -> None:
    _hand_over(SelfServiceRequest.Kind.PASSWORD_RESET, name, ip, language)


@transaction.atomic
def request_username_reminder(*, email: str, ip: str, language: str) -> None:
    _hand_over(SelfServiceRequest.Kind.USERNAME_REMINDER, email, ip, language)


@transaction.atomic
def handle(request_id: int) -> None:
    """Do what a request asked (in the task worker); at most once per request."""
    request = (
        SelfServiceRequest.objects.select_for_update()
        .filter(pk=request_id, handled_at__isnull=True)
        .first()
    )
    if request is None:
        return
    if request.kind == SelfServiceRequest.Kind.PASSWORD_RESET:
        _password_reset(request)
    else:
        _username_reminder(request)
    request.handled_at = clock.now()
    request.save(update_fields=["handled_at", "account_id", "mail_queued"])


def _password_reset(request: SelfServiceRequest) -> None:
    """Mail a reset link to the account's stored recovery address, if there is one."""
    name, ip = request.typed, request.ip or ""
    account = _find(name)
    allowed = _mail_allowed(usernames.username_key(name), ip)
    # Never to an address a library set less than 24 hours ago that the patron has not
    # confirmed: then the previous, confirmed address gets it (or nobody).
    to = reset_address(account) if account else ""
    send = bool(allowed and account and to and flow_allowed(account, "password_reset"))
    request.account_id, request.mail_queued = (account.pk if account else None), send
    if send:
        # Always a stored address, never anything typed (CVE-2019-19844).
        enqueue(
            kind=OutboxMessage.Kind.PASSWORD_RESET,
            to=to,
            account_id=account.pk,
            language=request.language,
        )


def _username_reminder(request: SelfServiceRequest) -> None:
    """Mail the usernames whose confirmed recovery address this is, to that stored address."""
    email, ip = request.typed, request.ip or ""
    allowed = _mail_allowed(email.strip().lower(), ip)
    matches = list(
        Account.objects.filter(
            recovery_email__iexact=email.strip(),
            recovery_email_confirmed_at__isnull=False,
            state=Account.State.ACTIVE,
            is_staff=False,
        ).order_by("username")
    )
    matches = [a for a in matches if flow_allowed(a, "username_reminder")]
    by_address: dict[str, list[Account]] = {}
    for account in matches:
        by_address.setdefault(account.recovery_email, []).append(account)
    request.account_id = matches[0].pk if len(matches) == 1 else None
    request.mail_queued = bool(allowed and matches)
    if allowed:
        for address, accounts in by_address.items():
            enqueue(
                kind=OutboxMessage.Kind.USERNAME_REMINDER,
                to=address,
                account_id=accounts[0].pk,
                language=request.language,
                data={"usernames": [a.username for a in accounts]},
            )


@transaction.atomic
def reset_password(*, token: str, password: str) -> Account:
    """Choose a new password from a reset link: confirms the recovery address, activates a
    never-activated account, lifts a guessing block, ends other sessions (their auth hash no
    longer matches), voids every other outstanding link."""
    account, _new = tokens.check(token, tokens.Purpose.PASSWORD_RESET)
    # The link reached the patron at the recovery address, so using it proves that address as
    # much as the activation link does: it confirms the address (so "Gebruikersnaam vergeten"
    # can use it again after staff reset it) and activates an account that was never
    # activated (otherwise the patron's new password would still say "Onjuiste inlog").
    # Unless the link went to the previous address because a library's new one is not yet
    # confirmed: using it proves the previous address, not the library's.
    was_inactive = False if pending_library_address(account) else _confirm_address(account)
    _set_password(account, password, via="reset")
    if was_inactive:
        _activated(account, via="password reset")
    guard.lift_account_block(account.username_key)
    return account


def _set_password(account: Account, password: str, *, via: str, keep_sid: str = "") -> None:
    try:
        validate_password(password, user=account)
    except ValidationError as error:
        raise Problem(400, "weak_password", " ".join(error.messages), field="password") from error
    # The first password (from the activation link, or a reset link on an account that never
    # had one) replaces nothing: a "was this you?" alarm then only frightens a new patron and
    # teaches everyone to ignore the alarm that matters.
    first_password = not account.has_usable_password()
    account.set_password(password)
    account.save(update_fields=["password", "password_changed_at"])
    record_event(
        account=account,
        kind=AccountEvent.Kind.PASSWORD_SET,
        actor=Actor.patron(account),
        data={"via": via},
    )
    password_set.send(sender=Account, account=account, via=via, keep_sid=keep_sid)
    # Notices go to the address the patron holds: while a library's new address is not yet
    # confirmed, that is the previous one (a library must not hear of the change instead of
    # the patron).
    notice_to = reset_address(account)
    # No limit of its own: one notice per new password, to the patron's own address, and
    # every way to a new password is limited (the current password under the guessing
    # limits, or a single-use link whose mail was limited).
    if notice_to and not first_password:
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=notice_to,
            account_id=account.pk,
            data={"notice": "password_changed"},
        )


# -- activation ---------------------------------------------------------------------------


def activate(*, token: str, password: str, username: str | None = None, ip: str = "") -> Account:
    """The activation link: choosing a password confirms the address and activates.

    The patron may choose a username here too (`username`; empty or the current one keeps
    it). Offering the choice only after the link proves the address is what keeps the online
    sign-up from telling anyone whether a name is taken: the sign-up asks no name, the
    account starts with the card number, and only a holder of a valid link learns here
    whether the name they want is free, at most ten times per account an hour.
    """
    account, _new = tokens.check(token, tokens.Purpose.ACTIVATION)
    wanted = (username or "").strip()
    rename = bool(wanted) and usernames.normalize(wanted) != account.username
    if rename:
        require_flow(account, "username_change")
        _username_try_allowed(account, ip)  # outside the transaction: the count must stay
    with transaction.atomic():
        # Checked again inside the transaction (the try counter above committed apart).
        account, _new = tokens.check(token, tokens.Purpose.ACTIVATION)
        if rename:
            # The name first: a taken or invalid name changes nothing, the link still works.
            # No "username changed" notice mail: the patron is choosing it right now, on a
            # link that reached the recovery address.
            _rename(account, _checked_username(account, wanted))
        was_inactive = _confirm_address(account)
        _set_password(account, password, via="activation")
        if was_inactive:
            _activated(account, via="e-mail")
    return account


def _confirm_address(account: Account) -> bool:
    """A link sent to the recovery address was used: confirm the address and activate the
    account if it was inactive. Returns whether it was inactive."""
    was_inactive = account.state == Account.State.INACTIVE
    now = clock.now()
    if was_inactive:
        account.state, account.activated_at = Account.State.ACTIVE, now
    account.recovery_email_confirmed_at = now
    account.recovery_email_set_by = account.recovery_email_set_by or "patron"
    account.save(
        update_fields=[
            "state",
            "activated_at",
            "recovery_email_confirmed_at",
            "recovery_email_set_by",
        ]
    )
    return was_inactive


def _activated(account: Account, *, via: str) -> None:
    record_event(
        account=account,
        kind=AccountEvent.Kind.ACTIVATED,
        actor=Actor.patron(account),
        data={"via": via},
    )
    tell_libraries(account, Change.Kind.ACCOUNT_ACTIVATED, {"username": account.username})


# -- Mijn inlogaccount -------------------------------------------------------------------


def require_flow(account: Account, flow: str) -> None:
    if not flow_allowed(account, flow):
        raise Problem(
            403,
            "flow_switched_off",
            _("Je bibliotheek biedt dit niet aan. Vraag het aan de bibliotheek."),
        )


def recently_signed_in(account: Account) -> bool:
    return bool(account.last_login and clock.now() - account.last_login < RECENT_SIGN_IN)


def check_password(account: Account, password: str) -> None:
    """Ask for the password again, with the same guessing limits as the sign-in page."""
    lanes = [guard.account_lane(account.username_key)]
    denied = guard.reserve(lanes)
    if denied is not None:
        raise Problem(
            429,
            "throttled",
            _("Te vaak een verkeerd wachtwoord. Wacht %(s)d seconden en probeer het opnieuw."),
            field="password",
            extra={"s": denied.retry_after},
        )
    if not account.check_password(password):
        raise Problem(
            400, "wrong_password", _("Dit is niet je huidige wachtwoord."), field="current_password"
        )
    guard.succeed(lanes)


def change_password(*, account: Account, current: str, new: str, keep_sid: str = "") -> None:
    """`keep_sid`: the identity session making the change; it and the services signed in
    through it stay signed in, every other session ends."""
    require_flow(account, "password_change")
    # Outside the transaction: a wrong password must stay counted by the guard, and the
    # refusal would roll the count back together with the change.
    check_password(account, current)
    with transaction.atomic():
        _set_password(account, new, via="change", keep_sid=keep_sid)


@transaction.atomic
def request_email_change(*, account: Account, new_email: str, language: str) -> None:
    """The new address counts only once confirmed; the old one is told now.

    At most three such requests per account an hour, and three confirmation links to one
    address whoever asks (bibid.identity.mail.limits): without them one signed-in patron
    could make us mail any address hundreds of times a minute. A refusal rolls back with
    the transaction, which holds nothing else."""
    require_flow(account, "email_change")
    new_email = Account.objects.normalize_email(new_email.strip())
    if new_email.lower() == (account.recovery_email or "").lower():
        raise Problem(400, "same_email", _("Dit is al je herstel-e-mailadres."), field="email")
    denied = mail_limits.reserve(
        [
            mail_limits.account_lane(OutboxMessage.Kind.EMAIL_CHANGE, account),
            mail_limits.address_lane(new_email),
        ]
    )
    if denied is not None:
        raise mail_limits.problem(denied, field="email")
    enqueue(
        kind=OutboxMessage.Kind.EMAIL_CHANGE, to=new_email, account_id=account.pk, language=language
    )
    if account.recovery_email:
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=account.recovery_email,
            account_id=account.pk,
            language=language,
            data={"notice": "email_change_requested", "new_email": new_email},
        )


@transaction.atomic
def confirm_email_change(*, token: str) -> Account:
    account, new_email = tokens.check(token, tokens.Purpose.EMAIL_CHANGE)
    old = account.recovery_email
    account.recovery_email = new_email
    account.recovery_email_confirmed_at = clock.now()
    account.recovery_email_set_by = "patron"
    account.save(
        update_fields=["recovery_email", "recovery_email_confirmed_at", "recovery_email_set_by"]
    )
    record_event(
        account=account,
        kind=AccountEvent.Kind.RECOVERY_EMAIL_SET,
        actor=Actor.patron(account),
        data={"via": "confirmed link"},
    )
    # One notice per confirmation link used (each link once), and those links are limited
    # where they are sent (request_email_change, the library's reset_recovery_email).
    if old and old.lower() != new_email.lower():
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=old,
            account_id=account.pk,
            data={"notice": "email_changed", "new_email": new_email},
        )
    return account


def change_username(*, account: Account, new_username: str, ip: str = "") -> None:
    """The same rules as at creation; the libraries learn it from their changes feed.

    Each try counts (per account and per network) before the name is looked up, and the
    count is taken outside the transaction so that a refused name still costs a try: the
    form cannot be used to test a list of names.
    """
    require_flow(account, "username_change")
    _username_try_allowed(account, ip)
    with transaction.atomic():
        _change_username(account, new_username)


def _change_username(account: Account, new_username: str) -> None:
    name = _checked_username(account, new_username)
    old = _rename(account, name)
    if old == name:
        return
    notice_to = reset_address(account)  # the address the patron holds (see _set_password)
    # Bounded by the username tries (USERNAME_PER_ACCOUNT: ten an hour), to the patron's own
    # address.
    if notice_to:
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=notice_to,
            account_id=account.pk,
            data={"notice": "username_changed", "old_username": old, "new_username": name},
        )


def delete_account(*, account: Account, password: str) -> None:
    """Delete the login account; the library memberships stay, the libraries are told."""
    require_flow(account, "account_delete")
    check_password(account, password)  # outside the transaction: a failure stays counted
    with transaction.atomic():
        notice_to = reset_address(account)  # the address the patron holds
        if notice_to:  # once: the account is gone afterwards
            enqueue(
                kind=OutboxMessage.Kind.NOTICE,
                to=notice_to,
                account_id=None,
                data={"notice": "account_deleted", "username": account.username},
            )
        delete_for_good(account=account, actor=Actor.patron(account), reason="patron")
