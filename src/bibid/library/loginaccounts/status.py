"""identity's status answer (`account_status`), parsed into typed objects at the library's edge.

The helpdesk's checks read these objects, never the raw JSON: a field identity renamed,
dropped or added is an error here ("the login service gave an unexpected answer"), never a
check that silently reads `None` and says "in orde". So every model forbids unknown fields
and has no defaults for what identity always sends. The shapes mirror identity's
`StatusOut` (src/bibid/identity/api/schemas.py); a change there is a change here, in the same
commit, and tests/library/test_identity_status.py parses identity's real answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError


class _Strict(BaseModel):
    # frozen: a check can never change what another check reads.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Block(_Strict):
    failures: int
    blocked_until: datetime | None


class Account(_Strict):
    customer_ref: str
    account_id: UUID
    username: str
    state: Literal["inactive", "active"]
    has_password: bool
    recovery_email: str | None
    recovery_email_confirmed: bool
    recovery_email_set_by: str | None
    created_at: datetime
    activated_at: datetime | None
    last_login: datetime | None
    password_changed_at: datetime | None
    linked_libraries: list[str]
    block: Block


class Right(_Strict):
    code: str
    valid_from: date | None
    valid_until: date | None
    limits: dict[str, Any]

    def key(self) -> tuple:
        return (self.code, self.valid_until, tuple(sorted(self.limits.items())))


class EffectiveRight(Right):
    library: str
    this_library: bool


class Authorization(_Strict):
    customer: dict[str, Any]
    rights: list[Right]
    authorized_at: datetime | None


class Event(_Strict):
    at: datetime
    kind: Literal["login", "logout", "service", "logout_detected", "rights_missing", "not_linked"]
    outcome: Literal["success", "failure"]
    reason: str
    address: str | None
    browser: str
    service: str
    details: dict[str, Any] | None


class Typed(_Strict):
    username: str
    exists: bool | None
    is_linked_account: bool
    linked_here_to: str | None
    username_of_account: str | None
    state: Literal["active", "inactive"] | None
    failures_today: int | None


class Removed(_Strict):
    """Why a customer has no link any more (identity says so at once, before its change
    feed reaches the library): the account was purged or deleted, or the link removed."""

    kind: Literal["account_deleted", "link_removed"]
    reason: str
    username: str | None
    at: datetime


class Status(_Strict):
    linked: bool
    account: Account | None
    authorization: Authorization | None
    effective_rights: list[EffectiveRight]
    recent_events: list[Event]
    failures_today: int
    typed: Typed | None
    removed: Removed | None


class UnexpectedAnswer(Exception):
    """identity's answer does not have the agreed shape; `fields` names what was wrong."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


def parse(data: Any) -> Status:
    try:
        status = Status.model_validate(data)
    except ValidationError as error:
        raise UnexpectedAnswer(
            sorted({".".join(str(p) for p in e["loc"]) or "(answer)" for e in error.errors()})
        ) from None
    if status.linked and status.account is None:
        raise UnexpectedAnswer(["account"])
    return status
