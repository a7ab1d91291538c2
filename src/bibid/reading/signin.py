"""The Online Bibliotheek's OpenID Connect client (one, for the whole service)."""

from __future__ import annotations

from django.conf import settings

from bibid.common.rp.clients import ClientConfig


def client(_key: str | None = None) -> ClientConfig | None:
    if not settings.READING_OIDC_CLIENT_ID:
        return None
    return ClientConfig(
        key="reading",
        name="Online Bibliotheek",
        client_id=settings.READING_OIDC_CLIENT_ID,
        client_secret=settings.READING_OIDC_CLIENT_SECRET,
        base_url=settings.BIBID_PUBLIC_URLS["reading"],
    )
