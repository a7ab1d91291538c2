"""A request id that travels across the three services: read, kept, logged and sent on."""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"

# An incoming id is taken over only when it is a short, plain token. It ends up in every log
# line and in a response header, so anything else (newlines, quotes, spaces, kilobytes) could
# forge log lines or inflate them: such an id is dropped and a fresh one made.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "bibid_request_id", default=None
)


def new_id() -> str:
    """Return a fresh, unguessable request id (32 hex digits)."""
    return secrets.token_hex(16)


def sane(value: str | None) -> str | None:
    """Return `value` if it may serve as a request id, else None."""
    if value and _SANE.match(value):
        return value
    return None


def current() -> str | None:
    """The request id of the request or task being handled, if any."""
    return _current.get()


@contextmanager
def bound(request_id: str | None = None) -> Iterator[str]:
    """Run a block under `request_id` (or a fresh one), restoring the previous id after it."""
    value = sane(request_id) or new_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def outgoing_headers() -> dict[str, str]:
    """Headers for a call to another service, so that its log lines carry our request id.

    Outside a request or task (a management command) each call gets a fresh id, which still
    ties the callee's lines together."""
    return {HEADER: current() or new_id()}


class RequestIdFilter(logging.Filter):
    """Put the current request id on every log record (`request_id`, "-" when none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current() or "-"
        return True
