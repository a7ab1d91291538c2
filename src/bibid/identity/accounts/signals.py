"""Signals other contexts listen to, so that accounts need not know who cares."""

from django.dispatch import Signal

# Sent inside the deleting transaction, before the rows go: accounts=[Account, ...],
# reason="purged"|"deleted". Receivers must not fail for reasons of their own.
accounts_deleting = Signal()
