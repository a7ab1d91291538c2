"""Device cookies: a browser that signed in to a username before gets its own guessing lane.

The cookie is signed (it cannot be made up), names the usernames by keyed hash only (it
reveals nothing when read), and lasts half a year. See bibid/common/guard/lanes.py for why it
exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

COOKIE_NAME = "bibid_identity_device"
MAX_AGE = 180 * 24 * 3600
MAX_USERS = 5
_SALT = "bibid.signin.device"


@dataclass(frozen=True)
class Device:
    id: str
    users: tuple[str, ...]

    def knows(self, username_key: str) -> bool:
        return user_tag(username_key) in self.users


def user_tag(username_key: str) -> str:
    return salted_hmac(_SALT, username_key, algorithm="sha256").hexdigest()[:20]


def read(request: HttpRequest) -> Device | None:
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw or len(raw) > 1000:
        return None
    try:
        data = signing.loads(raw, salt=_SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    device_id, users = data.get("d"), data.get("u")
    if not isinstance(device_id, str) or not isinstance(users, list):
        return None
    return Device(id=device_id, users=tuple(u for u in users if isinstance(u, str))[:MAX_USERS])


def remember(response: HttpResponse, device: Device | None, *username_keys: str) -> None:
    """Add names to the browser's device cookie (most recent first, at most five)."""
    tags = list(dict.fromkeys(user_tag(key) for key in username_keys))
    device_id = device.id if device else secrets.token_urlsafe(16)
    others = [u for u in (device.users if device else ()) if u not in tags]
    value = signing.dumps({"d": device_id, "u": [*tags, *others][:MAX_USERS]}, salt=_SALT)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
