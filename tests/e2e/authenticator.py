"""Chromium's virtual authenticator (DevTools' WebAuthn domain), for passkeys and security keys
in the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page


def virtual_authenticator(page: Page) -> tuple:
    """A platform authenticator with resident keys and user verification, always approving;
    returns the DevTools session and the authenticator's id (to list or clear its keys)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]
