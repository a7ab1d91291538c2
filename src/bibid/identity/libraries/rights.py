"""Authorizations: the customer data and rights a library pushes, in one canonical form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Right:
    code: str
    valid_from: date | None = None
    valid_until: date | None = None
    limits: tuple[tuple[str, Any], ...] = ()

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "limits": dict(self.limits),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Right:
        return cls(
            code=data["code"],
            valid_from=date.fromisoformat(data["valid_from"]) if data.get("valid_from") else None,
            valid_until=(
                date.fromisoformat(data["valid_until"]) if data.get("valid_until") else None
            ),
            limits=tuple(sorted((data.get("limits") or {}).items())),
        )


@dataclass(frozen=True)
class Authorization:
    """What one library says about its customer: data and rights, canonical and comparable."""

    customer: dict[str, Any]
    rights: tuple[Right, ...]

    def customer_json(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in sorted(self.customer.items())
        }

    def rights_json(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in sorted(self.rights, key=lambda r: (r.code, str(r.valid_from)))]

    def digest(self) -> str:
        canonical = json.dumps(
            {"customer": self.customer_json(), "rights": self.rights_json()},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()
