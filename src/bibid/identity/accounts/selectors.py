"""Reads of login accounts."""

from __future__ import annotations

from .models import Account
from .usernames import username_key


def account_by_username(username: str) -> Account | None:
    """The account whose name matches, ignoring case, accents and look-alike letters."""
    return Account.objects.filter(username_key=username_key(username)).first()
