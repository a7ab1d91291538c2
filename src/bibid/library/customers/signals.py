"""What the customers context tells the contexts built on it, without importing them."""

from django.dispatch import Signal

# Sent inside the transaction of every change to what the login service holds of customers
# (their name and birth date, the rights their subscriptions give), with `customer_ids`.
# The login-accounts context, a layer above, queues the push to the login service from its
# receiver (loginaccounts/signals.py), so the push is queued, and the customer's
# authorization version counted up, in the change's own transaction: committed together or
# not at all, in the order of the changes. Sent with send(), never send_robust(): a receiver
# that fails must roll the change back, not leave it committed without its push.
authorization_changed = Signal()
