"""Signing in and out at the identity service, with guessing protection and a record of attempts."""
