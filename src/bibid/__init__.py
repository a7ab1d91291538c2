"""Bibid: one login for a network of public libraries."""
