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

from django.utils.translation import gettext_lazy as _

# Every code with the words a person reads for it (report rows, the flowcharts' arrows),
# in one table: the code stays in the API, in data attributes and in ids, never in
# visible text. Short, lower case, as a label: "inloggen geblokkeerd".
WORDS = {
    "not-allowed-colleague": _("collega of vrijwilliger"),
    "subscription-inactive": _("geen lopend abonnement"),
    "no-login-account": _("geen inlogaccount"),
    "account-not-linked": _("inlogaccount niet gekoppeld"),
    "login-account-deleted": _("inlogaccount verwijderd (niet geactiveerd)"),
    "login-account-inactive": _("inlogaccount niet geactiveerd"),
    "password-not-set": _("nog geen wachtwoord gekozen"),
    "password-not-set-no-recovery-email": _("geen wachtwoord, geen herstel-e-mailadres"),
    "wrong-username": _("verkeerde gebruikersnaam"),
    "other-account-in-use": _("ander inlogaccount in gebruik"),
    "linked-to-other-family-member": _("gekoppeld aan een gezinslid"),
    "authorization-outdated": _("verouderde rechten bij de inlogdienst"),
    "subscription-without-ebooks": _("abonnement zonder e-books"),
    "login-blocked": _("inloggen geblokkeerd"),
    "password-failures": _("verkeerd wachtwoord"),
    "recovery-email-missing": _("geen herstel-e-mailadres"),
    "recovery-email-differs": _("ander herstel-e-mailadres"),
    "no-email-address": _("geen e-mailadres"),
    "browser-interference": _("sessie afgebroken in de browser"),
    "passkey-removed": _("verwijderde passkey"),
    "passkey-refused": _("passkey geweigerd"),
    "no-problem-found": _("geen probleem gevonden"),
}
CODES = frozenset(WORDS)


def finding_words(code: str) -> str:
    """The words for a finding code (an unknown one, say from an older case, is named as
    such, not shown as a code)."""
    return str(WORDS.get(code) or _("onbekende bevinding"))


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
