"""Subscription types, subscriptions and their members; the rights that follow from them."""
