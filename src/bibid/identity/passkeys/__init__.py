"""Patrons' passkeys (WebAuthn credentials): what is stored, added, renamed and removed."""
