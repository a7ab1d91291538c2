"""The signed-in patron as a relying party knows them: who, and the rights identity vouches for.

A patron is not a Django user here: the relying parties keep no accounts of their own (the
identity service owns them). The patron lives in the session under one key, written at sign-in
and whenever the rights are read again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from bibid.common import clock

SESSION_KEY = "rp_patron"
PASSKEY_ACR = "urn:bibid:acr:passkey"


@dataclass(frozen=True)
class PatronRight:
    """One right as identity reports it (the union over the patron's linked libraries)."""

    code: str  # "ebooks", "audiobooks", ...
    limits: dict[str, Any] = field(default_factory=dict)  # {"loans": 10, "period": ..., "youth"}
    valid_from: date | None = None
    valid_until: date | None = None
    library: str = ""  # the library's name, to tell the patron where a right comes from

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    @classmethod
    def from_claim(cls, data: dict[str, Any]) -> PatronRight:
        return cls(
            code=str(data["code"]),
            limits=dict(data.get("limits") or {}),
            valid_from=date.fromisoformat(data["valid_from"]) if data.get("valid_from") else None,
            valid_until=(
                date.fromisoformat(data["valid_until"]) if data.get("valid_until") else None
            ),
            library=str(data.get("library") or ""),
        )

    def as_claim(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "limits": self.limits,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "library": self.library,
        }


@dataclass(frozen=True)
class Patron:
    sub: str  # the account's public id at identity (a UUID as text)
    username: str
    rights: tuple[PatronRight, ...] = ()
    rights_read_at: datetime | None = None
    libraries: tuple[dict[str, str], ...] = ()  # [{"code", "name", "customer_ref"}] of this client
    # How the patron signed in, from the ID token (RFC 8176 `amr`, and `acr`); only the ID
    # token says it (userinfo does not), so it is kept from the sign-in. Absent means the
    # password: identity leaves it out for a password sign-in.
    amr: tuple[str, ...] = ()
    acr: str = ""

    @property
    def signed_in_with_passkey(self) -> bool:
        """A passkey ("hwk": proof of a hardware key) or identity's passkey level."""
        return "hwk" in self.amr or self.acr == PASSKEY_ACR

    def rights_on(self, day: date | None = None) -> list[PatronRight]:
        today = day or clock.today()
        return [r for r in self.rights if r.valid_on(today)]

    def as_session(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "username": self.username,
            "rights": [r.as_claim() for r in self.rights],
            "rights_read_at": self.rights_read_at.isoformat() if self.rights_read_at else None,
            "libraries": [dict(x) for x in self.libraries],
            "amr": list(self.amr),
            "acr": self.acr,
        }

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> Patron:
        return cls(
            sub=data["sub"],
            username=data.get("username", ""),
            rights=tuple(PatronRight.from_claim(r) for r in data.get("rights", [])),
            rights_read_at=(
                datetime.fromisoformat(data["rights_read_at"])
                if data.get("rights_read_at")
                else None
            ),
            libraries=tuple(data.get("libraries", [])),
            amr=tuple(str(x) for x in data.get("amr") or ()),
            acr=str(data.get("acr") or ""),
        )


def client_kwargs(request: HttpRequest) -> dict[str, str]:
    """The URL arguments that name the OIDC client: the library's code under Mijn Menu
    (`mijn/<library>/`), nothing in the reading service (one client)."""
    match = getattr(request, "resolver_match", None)
    library = match.kwargs.get("library") if match else None
    return {"library": library} if library else {}


def session_key(request: HttpRequest) -> str:
    """One patron per client in a session: Mijn Menu of two libraries are two sign-ins."""
    library = client_kwargs(request).get("library")
    return f"{SESSION_KEY}:{library}" if library else SESSION_KEY


def get_patron(request: HttpRequest) -> Patron | None:
    data = request.session.get(session_key(request))
    return Patron.from_session(data) if data else None


def set_patron(request: HttpRequest, patron: Patron) -> None:
    request.session[session_key(request)] = patron.as_session()


def forget_patron(request: HttpRequest) -> None:
    request.session.pop(session_key(request), None)


def login_url(request: HttpRequest) -> str:
    return (
        reverse("rp:login", kwargs=client_kwargs(request))
        + "?"
        + urlencode({"next": request.get_full_path()})
    )
