"""Mijn Menu's OpenID Connect client: one per library, registered at the login service."""

from __future__ import annotations

from django.conf import settings

from bibid.common.rp.clients import ClientConfig

from .models import Library


def client(code: str | None) -> ClientConfig | None:
    library = Library.objects.filter(code=code).first() if code else None
    if library is None or not library.mijnmenu_client_id:
        return None
    return ClientConfig(
        key=library.code,
        name=f"Mijn Menu {library.name}",
        client_id=library.mijnmenu_client_id,
        client_secret=library.mijnmenu_client_secret,
        base_url=f"{settings.BIBID_PUBLIC_URLS['library']}/mijn/{library.code}",
    )
