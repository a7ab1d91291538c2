"""Changes to a patron's passkeys. Each one: validate, write, record an audit event and queue
the patron's notice mail in the same transaction (as the self-service changes do)."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from bibid.common import clock, fastsql
from bibid.common.problems import Problem
from bibid.common.webauthn import Registered, b64url
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import record_event
from bibid.identity.libraries.patron import reset_address
from bibid.identity.mail.models import OutboxMessage
from bibid.identity.mail.services import enqueue

from .models import Passkey, PasskeyUser, RemovedPasskey
from .selectors import credential_hash, passkey_of

# Enough for a phone, a laptop, a tablet and two security keys, and then some; a bound so
# that a signed-in browser cannot fill the table.
MAX_PER_ACCOUNT = 10
NAME_MAX = 64


def user_handle(account: Account) -> bytes:
    """The account's WebAuthn user handle, made (32 random bytes) on first use; a parallel
    first use gets the same one (get_or_create takes the row the other request made)."""
    row, _made = PasskeyUser.objects.get_or_create(
        account=account, defaults={"handle": secrets.token_bytes(32)}
    )
    return bytes(row.handle)


def clean_name(name: str) -> str:
    cleaned = " ".join("".join(ch for ch in (name or "") if ch.isprintable()).split())
    if not cleaned:
        raise Problem(400, "name_required", _("Geef de passkey een naam."), field="name")
    if len(cleaned) > NAME_MAX:
        raise Problem(
            400,
            "name_too_long",
            _("Een naam is hoogstens %(n)d tekens."),
            field="name",
            extra={"n": NAME_MAX},
        )
    return cleaned


def _notify(account: Account, notice: str, name: str) -> None:
    # To the address the patron holds (see selfservice's _set_password): a new way in, or
    # one taken away, is a security change the patron must hear about even if it was not
    # them. Bounded: at most MAX_PER_ACCOUNT additions stand, each change needs a signed-in
    # session (and adding a recent sign-in).
    notice_to = reset_address(account)
    if notice_to:
        enqueue(
            kind=OutboxMessage.Kind.NOTICE,
            to=notice_to,
            account_id=account.pk,
            data={"notice": notice, "passkey_name": name},
        )


@transaction.atomic
def add_passkey(*, account: Account, registered: Registered, name: str) -> Passkey:
    """Store a verified new passkey of the account (the ceremony is checked by the caller)."""
    name = clean_name(name)
    Account.objects.select_for_update().filter(pk=account.pk).first()  # one addition at a time
    if Passkey.objects.filter(account=account).count() >= MAX_PER_ACCOUNT:
        raise Problem(
            400,
            "too_many_passkeys",
            _("Je hebt al %(n)d passkeys. Verwijder er eerst een."),
            extra={"n": MAX_PER_ACCOUNT},
        )
    credential_id = b64url(registered.credential_id)
    if Passkey.objects.filter(credential_id=credential_id).exists():
        raise Problem(400, "passkey_exists", _("Deze passkey is al toegevoegd."))
    passkey = Passkey.objects.create(
        account=account,
        credential_id=credential_id,
        public_key=registered.public_key,
        sign_count=registered.sign_count,
        transports=registered.transports,
        name=name,
        created_at=clock.now(),
    )
    # A credential that is added (again) is no longer "removed".
    RemovedPasskey.objects.filter(credential_hash=credential_hash(credential_id)).delete()
    record_event(
        account=account,
        kind=AccountEvent.Kind.UPDATED,
        actor=Actor.patron(account),
        data={"passkey": {"added": name, "credential": credential_hash(credential_id)}},
    )
    _notify(account, "passkey_added", name)
    return passkey


@transaction.atomic
def rename_passkey(*, account: Account, passkey_id: int, name: str) -> Passkey:
    name = clean_name(name)
    passkey = passkey_of(account, passkey_id)
    if passkey is None:
        raise Problem(404, "not_found", _("Deze passkey bestaat niet (meer)."))
    old = passkey.name
    if old == name:
        return passkey
    passkey.name = name
    passkey.save(update_fields=["name"])
    record_event(
        account=account,
        kind=AccountEvent.Kind.UPDATED,
        actor=Actor.patron(account),
        data={
            "passkey": {
                "renamed": [old, name],
                "credential": credential_hash(passkey.credential_id),
            }
        },
    )
    return passkey


@transaction.atomic
def remove_passkey(*, account: Account, passkey_id: int) -> str:
    """Remove one of the account's passkeys; its credential is remembered by hash only."""
    passkey = passkey_of(account, passkey_id)
    if passkey is None:
        raise Problem(404, "not_found", _("Deze passkey bestaat niet (meer)."))
    hashed = credential_hash(passkey.credential_id)
    passkey.delete()
    RemovedPasskey.objects.update_or_create(
        credential_hash=hashed,
        defaults={"account_id": account.pk, "name": passkey.name, "removed_at": clock.now()},
    )
    record_event(
        account=account,
        kind=AccountEvent.Kind.UPDATED,
        actor=Actor.patron(account),
        data={"passkey": {"removed": passkey.name, "credential": hashed}},
    )
    _notify(account, "passkey_removed", passkey.name)
    return passkey.name


def record_use(*, passkey: Passkey, sign_count: int) -> None:
    """A verified sign-in: the new sign count (a clone would lag behind it) and last use."""
    fastsql.update(Passkey, passkey.pk, sign_count=sign_count, last_used_at=clock.now())
