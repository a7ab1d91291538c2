"""When an identity session ends, the services signed in through it end too."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from bibid.identity.accounts.signals import accounts_deleting, password_set

from . import sessions


@receiver(user_logged_out, dispatch_uid="oidc-logout")
def on_logged_out(sender, request, user, **kwargs) -> None:
    # Every way out of the identity session sends this: our sign-out page, a service's
    # RP-initiated logout, the admin. The session still holds its sid at this point.
    if request is not None:
        sessions.end_sid(sessions.current_sid(request), "logout")


@receiver(password_set, dispatch_uid="oidc-password")
def on_password_set(sender, account, via, keep_sid="", **kwargs) -> None:
    sessions.end_for_account(account, "password_" + via, keep_sid=keep_sid)


@receiver(accounts_deleting, dispatch_uid="oidc-accounts-deleting")
def on_accounts_deleting(sender, accounts, reason, **kwargs) -> None:
    sessions.end_for_accounts(accounts, "account_" + reason)
