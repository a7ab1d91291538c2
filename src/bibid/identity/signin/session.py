"""What a sign-in writes into the identity session, for the pages and the OIDC provider."""

from __future__ import annotations

from datetime import timedelta

from bibid.common import clock

# How this session signed in, as RFC 8176 `amr` values; the OIDC provider puts it in the ID
# token (`amr`, `acr`). Set by the passkey path; absent means the password ("pwd").
AMR = "bibid_amr"
PASSKEY_AMR = ["hwk", "user"]
# When this browser's session signed in (epoch seconds): account.last_login moves with a
# sign-in on any device, so "recently signed in *here*" needs the session's own time.
SIGNED_IN_AT = "bibid_signed_in_at"


def started(session, *, passkey: bool) -> None:
    """Record a sign-in that just happened in this session (right after auth.login)."""
    if passkey:
        session[AMR] = PASSKEY_AMR
    else:
        # A password sign-in after a passkey one in this session: the ID token must not go
        # on saying "passkey".
        session.pop(AMR, None)
    session[SIGNED_IN_AT] = clock.now().timestamp()


def signed_in_within(session, window: timedelta) -> bool:
    """Whether this session's own sign-in (or re-entered password) is younger than `window`."""
    at = session.get(SIGNED_IN_AT)
    if not isinstance(at, (int, float)):
        return False
    return 0 <= clock.now().timestamp() - at < window.total_seconds()
