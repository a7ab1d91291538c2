"""The second step in in-process tests: seed a factor, compute a code the way an
authenticator app does (pyotp), and pass the second step with the test client."""

from __future__ import annotations

import pyotp

from bibid.common import clock, sealing
from bibid.common.mfa import flow, services
from bibid.common.mfa.models import Authenticator


def seed_totp(user, secret: str | None = None) -> str:
    """Give `user` an authenticator app (as if enrolled); returns its secret."""
    secret = secret or pyotp.random_base32()
    services.enrol_totp(user=user, secret=secret, step=0, name="test")
    return secret


def next_code(user) -> str:
    """A code the second step accepts now: of the earliest time step (of the three it
    accepts) after the last one used, so that signing in twice in a test needs no wait."""
    app = Authenticator.objects.filter(user=user, kind="totp").order_by("pk").first()
    secret = sealing.unseal(app.secret_sealed)
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for offset in (-1, 0, 1):
        if totp.timecode(now) + offset > app.last_step:
            return totp.at(now, counter_offset=offset)
    raise AssertionError("three sign-ins of one user within 30 seconds: no fresh code left")


def pass_second_step(client, user, path: str):
    """Post a fresh code to the second step at `path` (seeding an app when there is none)."""
    if not Authenticator.objects.filter(user=user, kind="totp").exists():
        seed_totp(user)
    return client.post(path, {"code": next_code(user)})


def force_login_verified(client, user) -> None:
    """client.force_login, plus the session's marker of a passed second step, set exactly as
    bibid.common.mfa.flow.mark_verified sets it (pages that ask for it let the user in)."""
    client.force_login(user)
    session = client.session
    session[flow.VERIFIED] = user.pk
    session.save()
