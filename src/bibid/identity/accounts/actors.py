"""Who does something to an account: recorded with every change (the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The party behind a change: a patron, an operator, a library, or the system itself."""

    kind: str  # "patron" | "operator" | "library" | "system"
    ref: str = ""  # account public id, operator username, library client id, task name

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}" if self.ref else self.kind

    @classmethod
    def patron(cls, account) -> Actor:
        return cls("patron", str(account.public_id))

    @classmethod
    def operator(cls, username: str) -> Actor:
        return cls("operator", username)

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls("system", what)


DEMO = Actor.system("demo")
