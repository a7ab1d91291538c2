"""Events services report about patrons, recorded in the login history the helpdesk reads."""

from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import dataclass
from typing import Any

from bibid.common import clock, fastsql
from bibid.identity.signin.models import LoginEvent

KINDS = {
    LoginEvent.Kind.LOGOUT_DETECTED,
    LoginEvent.Kind.RIGHTS_MISSING,
    LoginEvent.Kind.NOT_LINKED,
}
MAX_DETAILS_BYTES = 2000


def printable(text: str, limit: int) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:limit]


@dataclass(frozen=True)
class Report:
    sub: str
    kind: str
    details: dict[str, Any]
    browser: str
    address: str | None

    @property
    def sub_ok(self) -> bool:
        try:
            uuid.UUID(self.sub)
        except ValueError:
            return False
        return True

    @classmethod
    def parse(cls, body: Any) -> Report:
        if not isinstance(body, dict):
            raise ValueError("Expected a JSON object.")
        kind = body.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}.")
        details = body.get("details") or {}
        if not isinstance(details, dict):
            raise ValueError("details must be an object.")
        if len(json.dumps(details)) > MAX_DETAILS_BYTES:
            raise ValueError("details are too large.")
        address = body.get("address") or None
        if address is not None:
            address = str(ipaddress.ip_address(str(address)))  # ValueError if not an address
        return cls(
            sub=str(body.get("sub") or ""),
            kind=kind,
            details=details,
            browser=printable(str(body.get("browser") or ""), 300),
            address=address,
        )


def record(*, account, application, report: Report) -> None:
    """One row in the login history; `address` is the patron's, as the service saw it."""
    fastsql.insert(
        LoginEvent,
        at=clock.now(),
        kind=report.kind,
        account_id=account.pk,
        username=account.username,
        outcome=LoginEvent.Outcome.FAILURE,
        reason=LoginEvent.Reason.REPORTED,
        ip=report.address,
        user_agent=report.browser,
        service=application.name[:200],
        details=report.details,
    )


def record_service_signin(*, account, application, ip: str, browser: str) -> None:
    fastsql.insert(
        LoginEvent,
        at=clock.now(),
        kind=LoginEvent.Kind.SERVICE,
        account_id=account.pk,
        username=account.username,
        outcome=LoginEvent.Outcome.SUCCESS,
        reason=LoginEvent.Reason.OK,
        ip=ip or None,
        user_agent=printable(browser, 300),
        service=application.name[:200],
    )
