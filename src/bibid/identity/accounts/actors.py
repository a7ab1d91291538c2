"""Who does something to an account: recorded with every change (the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The party behind a change: a patron, an operator, a library, or the system itself."""

    kind: str  # "patron" | "operator" | "library" | "system"
    ref: str = ""  # account public id, operator username, library code, task name
    # For a library: the role and opaque reference of the staff member it says acted
    # (Bibid-Acting-Role / Bibid-Acting-Staff). Identity cannot verify them; they are kept
    # with the event so the patron sees "which library, which role".
    role: str = ""
    staff: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}" if self.ref else self.kind

    @classmethod
    def patron(cls, account) -> Actor:
        return cls("patron", str(account.public_id))

    @classmethod
    def operator(cls, username: str) -> Actor:
        return cls("operator", username)

    @property
    def by(self) -> dict[str, str]:
        return {"role": self.role, "staff": self.staff} if self.role or self.staff else {}

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls("system", what)


DEMO = Actor.system("demo")
