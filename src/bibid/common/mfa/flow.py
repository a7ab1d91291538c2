"""The second step's session states, and what each service does around them.

States of a browser session (one module owns them, every path calls these functions):
- pending: the password was right, nothing else yet (library console: NOT signed in; the
  session holds the user's id, when, and where to go next; it ends after PENDING_SECONDS).
- verified: the second step was done in this session for this user (the library signs in
  only now; identity's admin asks for this marker on every request: a step-up).
Both live in the session, which is cycled at each change so a fixed session id from before
the password gives nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from bibid.common import clock

PENDING = "mfa_pending"
VERIFIED = "mfa_verified"
ENROL_SECRET = "mfa_enrol_secret"  # noqa: S105 - a session key's name
CODES_ONCE = "mfa_codes_once"
PENDING_SECONDS = 300  # five minutes to type a code or touch a key; then the password again


@dataclass(frozen=True)
class Flow:
    """How a service mounts the second step: who is asking, and what happens when done."""

    scope: str  # the guard's lane scope: "staff" | "operator"
    base_template: str
    namespace: str  # the URL namespace of the mounted views ("console", "admin")
    issuer: str  # the name an authenticator app shows
    # The user whose second step this is (pending or signed in), or None.
    user: Callable[[HttpRequest], object | None]
    # Called once the second step (or the enrolment) succeeded: signs in / marks, and
    # returns the address to go to next.
    complete: Callable[[HttpRequest, object, str], str]
    start_url: Callable[[HttpRequest], str]  # where someone without a pending step goes
    # The user who completed their second step in this session (for managing factors).
    verified_user: Callable[[HttpRequest], object | None]

    def url(self, name: str) -> str:
        return f"{self.namespace}:mfa_{name}"


def begin(request: HttpRequest, user, next_url: str) -> None:
    """The password was right: remember who, for a few minutes, in a fresh session."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "uid": user.pk,
        "at": clock.now().timestamp(),
        "next": next_url,
    }


def pending_user(request: HttpRequest):
    data = request.session.get(PENDING)
    if not isinstance(data, dict):
        return None
    if clock.now().timestamp() - float(data.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = get_user_model().objects.filter(pk=data.get("uid"), is_active=True).first()
    return user


def pending_next(request: HttpRequest) -> str:
    data = request.session.get(PENDING)
    return data.get("next", "") if isinstance(data, dict) else ""


def end_pending(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


def mark_verified(request: HttpRequest, user) -> None:
    request.session.cycle_key()
    request.session[VERIFIED] = user.pk


def is_verified(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(
        user is not None and user.is_authenticated and request.session.get(VERIFIED) == user.pk
    )
