"""Which OpenID Connect client a request signs in with, and its Authlib client.

The reading service is one client; the library service is one client per library (Mijn
Menu under `mijn/<library>/`). Each service names a loader in BIBID_RP_CLIENT_LOADER:
`loader(library_code_or_None) -> ClientConfig | None`.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils.module_loading import import_string

from bibid.common import requestid

from . import paths
from .patron import client_kwargs

SCOPES = "openid profile libraries rights"


@dataclass(frozen=True)
class ClientConfig:
    key: str  # "reading" or the library code
    name: str  # shown to the patron: "Online Bibliotheek", "Bibliotheek aan de Maas"
    client_id: str
    client_secret: str
    base_url: str  # the public URL its rp pages are mounted at, without trailing slash

    @property
    def urls(self) -> dict[str, str]:
        return paths.urls(self.base_url)


def identity_url() -> str:
    return settings.BIBID_PUBLIC_URLS["identity"]


def for_request(request: HttpRequest) -> ClientConfig:
    library = client_kwargs(request).get("library")
    config = import_string(settings.BIBID_RP_CLIENT_LOADER)(library)
    if config is None:
        raise Http404
    return config


class _Session(OAuth2Session):
    """Authlib's session, sending our request id on every call to identity (metadata, JWKS,
    token exchange), so that identity's log lines of a sign-in carry the service's id."""

    def request(self, method, url, *args, **kwargs):
        kwargs["headers"] = {**requestid.outgoing_headers(), **(kwargs.get("headers") or {})}
        return super().request(method, url, *args, **kwargs)


class _App(DjangoOAuth2App):
    client_cls = _Session


class _OAuth(OAuth):
    oauth2_client_cls = _App


_oauth = _OAuth()
_lock = threading.Lock()


def authlib_client(config: ClientConfig):
    """The Authlib client for this config (PKCE S256, state, nonce, ID token checked
    against the JWKS, issuer and audience). Named after a digest of the whole config, so a
    changed secret or URL gets a fresh client (and a fresh metadata and JWKS cache)."""
    digest = hashlib.sha256(repr((config, identity_url())).encode()).hexdigest()[:16]
    name = f"bibid-{config.key}-{digest}"
    with _lock:
        if _oauth.create_client(name) is None:
            _oauth.register(
                name=name,
                overwrite=True,
                client_id=config.client_id,
                client_secret=config.client_secret,
                server_metadata_url=identity_url() + "/o/.well-known/openid-configuration",
                client_kwargs={
                    "scope": SCOPES,
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": "client_secret_basic",
                    "default_timeout": 5,
                },
            )
        return _oauth.create_client(name)
