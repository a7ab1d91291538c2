"""What a diagnosis finds: a stable code, the seed step, one sentence, the evidence, and
the fix (an identity library API operation, one click or not) or the question to ask."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The seed's order: the first finding of a diagnosis is its cause.
ORDER = (
    "not-allowed-colleague",
    "subscription-inactive",
    "no-login-account",
    "login-account-deleted",
    "login-account-inactive",
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
)
RANK = {code: i for i, code in enumerate(ORDER)}


@dataclass(frozen=True)
class Fix:
    operation: str  # identity's library API operationId, e.g. "account_activate"
    label: str  # the button, in Dutch
    one_click: bool = True  # False: the staff member must choose or check something first
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    code: str
    step: str  # the seed step, e.g. "Inloggen lukt niet, stap 3"
    summary: str
    evidence: tuple[str, ...] = ()
    fix: Fix | None = None
    question: str = ""  # what to ask or tell the customer when there is no fix

    def __post_init__(self) -> None:
        if self.code not in RANK:
            raise ValueError(f"unknown finding code {self.code!r}")

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["evidence"] = list(self.evidence)
        if self.fix is None:
            data["fix"] = None
        return data


def in_seed_order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: RANK[f.code])
