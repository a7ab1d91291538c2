"""Signals other contexts listen to, so that accounts need not know who cares."""

from django.dispatch import Signal

# Sent inside the deleting transaction, before the rows go: accounts=[Account, ...],
# reason="purged"|"deleted". Receivers must not fail for reasons of their own.
accounts_deleting = Signal()

# Sent when an account gets a new password: account=Account, via="reset"|"change"|
# "activation", keep_sid=the identity session that made the change and stays signed in ("").
# Every other session of the account must end.
password_set = Signal()
