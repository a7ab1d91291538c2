"""Changes made by the sign-in context: lifting a guessing block."""

from django.db import transaction

from bibid.common.guard import lanes as guard
from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.accounts.services import record_event


@transaction.atomic
def lift_block(*, account: Account, actor: Actor) -> bool:
    """End the account's slow-down; recorded even when there was nothing to lift."""
    lifted = guard.lift_account_block(account.username_key)
    record_event(
        account=account,
        kind=AccountEvent.Kind.BLOCK_LIFTED,
        actor=actor,
        data={"was_blocked": lifted},
    )
    return lifted
