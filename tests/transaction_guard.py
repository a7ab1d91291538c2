"""No external call inside a database transaction (issue 13): a test fails if code calls
another service over HTTP, or a mail server, while it holds a transaction it opened itself.

A slow service or mail server would hold the transaction (and SQLite's write lock, which
every sign-in needs) for the whole timeout; and a rollback cannot take back what the other
side did. The guard counts the atomic blocks open when the test body starts (a test's own,
pytest-django's) and watches every outgoing HTTP request (requests) and SMTP session
(smtplib): one that starts with more blocks open is a defect. Wired in by the conftest of
each service's unit tests (`pytest_runtest_call`).
"""

from __future__ import annotations

import smtplib
from contextlib import contextmanager

import requests.adapters

violations: list[str] = []
_baseline: dict[str, int] = {}


def _depths() -> dict[str, int]:
    from django.db import connections

    return {c.alias: len(c.atomic_blocks) for c in connections.all(initialized_only=True)}


def _check(what: str) -> None:
    deeper = {alias: depth for alias, depth in _depths().items() if depth > _baseline.get(alias, 0)}
    if deeper:
        message = f"{what} inside a database transaction ({deeper})"
        violations.append(message)
        raise AssertionError(message)


@contextmanager
def watching():
    """Watch outgoing calls for the length of a test body."""
    violations.clear()
    _baseline.clear()
    _baseline.update(_depths())
    send, smtp_connect = requests.adapters.HTTPAdapter.send, smtplib.SMTP.connect

    def guarded_send(self, request, *args, **kwargs):
        _check(f"HTTP {request.method} {request.url.split('?')[0]}")
        return send(self, request, *args, **kwargs)

    def guarded_connect(self, *args, **kwargs):
        _check("SMTP connect")
        return smtp_connect(self, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = guarded_send
    smtplib.SMTP.connect = guarded_connect
    try:
        yield violations
    finally:
        requests.adapters.HTTPAdapter.send = send
        smtplib.SMTP.connect = smtp_connect
