"""What a diagnosis finds, and the stable codes it may find.

A check returns `Found`: a code, one sentence, the evidence, and what only the check knows
about the fix (its arguments, a more precise label) or what to tell the customer. Where the
finding sits in the procedure (the seed step, the node's title) and which fix follows it come
from the node of the definition that ran the check, never from the check: `Finding` is the
two together. The codes are an enumeration (the REST API documents it; a check producing an
unknown code fails at once) but carry no order: the definition's path decides the cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CODES = frozenset(
    {
        "not-allowed-colleague",
        "subscription-inactive",
        "no-login-account",
        "account-not-linked",
        "login-account-deleted",
        "login-account-inactive",
        "password-not-set",
        "password-not-set-no-recovery-email",
        "wrong-username",
        "other-account-in-use",
        "linked-to-other-family-member",
        "authorization-outdated",
        "subscription-without-ebooks",
        "login-blocked",
        "password-failures",
        "recovery-email-missing",
        "recovery-email-differs",
        "no-email-address",
        "browser-interference",
        "no-problem-found",
    }
)


@dataclass(frozen=True)
class Found:
    """What a check found."""

    code: str
    summary: str
    evidence: tuple[str, ...] = ()
    question: str = ""  # what to ask or tell the customer
    args: dict[str, Any] = field(default_factory=dict)  # for the fix that follows
    label: str = ""  # the fix's button, when the check can say it better than the node

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")


@dataclass(frozen=True)
class Fix:
    node: str  # the action node of the definition
    operation: str  # identity's library API operationId ("account_activate")
    api_operation: str  # the library REST API's operationId ("login_account_activate")
    label: str
    args: dict[str, Any] = field(default_factory=dict)
    one_click: bool = True  # False: the patron finishes it (a link request)
    confirm: bool = False  # the staff member ticks that they checked first
    waits_for_patron: bool = False  # its effect needs the patron (a mail to act on)

    def as_json(self, *, allowed: bool) -> dict[str, Any]:
        return {
            "operation": self.api_operation,
            "label": self.label,
            "args": dict(self.args),
            "one_click": self.one_click,
            "confirm": self.confirm,
            "node": self.node,
            "allowed": allowed,
        }


@dataclass(frozen=True)
class Finding:
    """A check's finding placed in the procedure: the node that ran it gives step and title,
    the node it leads to gives the fix (if that is an action)."""

    found: Found
    node: str
    step: str
    title: str
    fix: Fix | None = None

    @property
    def code(self) -> str:
        return self.found.code

    @property
    def summary(self) -> str:
        return self.found.summary

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.found.evidence

    @property
    def question(self) -> str:
        return self.found.question

    def as_json(self, *, allowed: bool = False) -> dict[str, Any]:
        return {
            "code": self.code,
            "node": self.node,
            "step": self.step,
            "title": self.title,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "fix": self.fix.as_json(allowed=allowed) if self.fix else None,
            "question": self.question,
        }
