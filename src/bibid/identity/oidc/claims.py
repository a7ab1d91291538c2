"""What a service learns about the signed-in patron, by scope (least privilege per client).

- openid: `sub` (the account's public id, never the internal key) and `sid`; in the ID
  token, `amr` (how the patron signed in, RFC 8176) and `acr` (passkey or password).
- profile: `preferred_username`.
- libraries: the libraries the account is linked to; the customer reference (card number)
  only for that library's own Mijn Menu.
- rights: the rights every linked library pushed that are valid today or later, each with its
  validity, limits and the library it comes from.
"""

from __future__ import annotations

from datetime import date

from bibid.common import clock
from bibid.identity.accounts.models import Account
from bibid.identity.libraries.models import Link
from bibid.identity.libraries.rights import Right

CLAIM_SCOPES = {
    "sub": "openid",
    "sid": "openid",
    "preferred_username": "profile",
    "libraries": "libraries",
    "rights": "rights",
    # How the patron signed in (RFC 8176; OIDC Core 2): in the ID token only.
    "amr": "openid",
    "acr": "openid",
}

ACR_PASSKEY = "urn:bibid:acr:passkey"
ACR_PASSWORD = "urn:bibid:acr:password"  # noqa: S105 - a name, not a secret
ACR_VALUES = [ACR_PASSKEY, ACR_PASSWORD]


def acr_for(amr: list[str]) -> str:
    """A passkey (hardware-bound key, "hwk") is the stronger class; anything else counts
    as a password sign-in."""
    return ACR_PASSKEY if "hwk" in amr else ACR_PASSWORD


def _current_or_future(right: Right, today: date) -> bool:
    return right.valid_until is None or right.valid_until >= today


def for_account(
    account: Account, *, library_id: int | None, sid: str = "", amr: list[str] | None = None
) -> dict:
    """All claims; the validator drops those whose scope was not granted."""
    # Plain values, not model instances: the claims are made at every token and userinfo
    # request, and building the Link and Library objects cost more than the query.
    links = sorted(
        Link.objects.filter(account=account).values_list(
            "library__name", "library__code", "library_id", "customer_ref", "rights"
        ),
        key=lambda row: row[0],
    )
    today = clock.today()
    libraries, rights = [], []
    for name, code, link_library_id, customer_ref, link_rights in links:
        entry = {"code": code, "name": name}
        if library_id is not None and link_library_id == library_id:
            entry["customer_ref"] = customer_ref
        libraries.append(entry)
        for data in link_rights:
            right = Right.from_json(data)
            if _current_or_future(right, today):
                rights.append({**right.as_json(), "library": name})
    claims = {
        "sub": str(account.public_id),
        "preferred_username": account.username,
        "libraries": libraries,
        "rights": rights,
    }
    if sid:
        claims["sid"] = sid
    if amr:
        claims["amr"] = list(amr)
        claims["acr"] = acr_for(amr)
    return claims
