"""Helpers for library-API tests: libraries with real client-credentials tokens."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from django.test import Client


@dataclass
class ApiClient:
    """A library calling the API with a token from /o/token/, through Django's test client."""

    client: Client
    token: str
    code: str

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        for key, value in (extra or {}).items():
            headers["HTTP_" + key.upper().replace("-", "_")] = value
        return headers

    def get(self, path: str, **query):
        return self.client.get(f"/api/v1{path}", query, **self._headers())

    def send(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        call = getattr(self.client, method.lower())
        data = json.dumps(body) if body is not None else ""
        return call(
            f"/api/v1{path}", data=data, content_type="application/json", **self._headers(headers)
        )

    def post(self, path: str, body: dict | None = None, **kw):
        return self.send("POST", path, body or {}, **kw)

    def put(self, path: str, body: dict, **kw):
        return self.send("PUT", path, body, **kw)

    def delete(self, path: str, **kw):
        return self.send("DELETE", path, None, **kw)


def token_for(client: Client, client_id: str, secret: str, scope: str) -> dict:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    return response.json() | {"status": response.status_code}


# The card-number prefixes of the test libraries (each library links and pushes only card
# numbers in its own ranges).
PREFIXES = {
    "aan-de-maas": ["2", "m", "r", "t", "e", "9", "555"],
    "duinstreek": ["3", "d"],
    "maas": ["2"],
}


def make_library(
    code: str,
    name: str,
    scope: str = "accounts:read accounts:write",
    prefixes: list[str] | None = None,
) -> ApiClient:
    from bibid.identity.libraries.services import register_library

    done = register_library(
        code=code,
        name=name,
        card_prefixes=prefixes if prefixes is not None else PREFIXES.get(code, [code[:1]]),
    )
    client = Client()
    token = token_for(client, done.client_id, done.client_secret, scope)
    assert token["status"] == 200, token
    return ApiClient(client=client, token=token["access_token"], code=code)


def link_with_patron(api: ApiClient, ref: str, account, username: str | None = None):
    """Link as a library does now: open a request, the patron agrees (as on the handover
    page), the library confirms. Returns the confirm response."""
    from bibid.identity.libraries import linking

    opened = api.post(f"/customers/{ref}/link", {"username": username or account.username})
    assert opened.status_code == 202, opened.content
    linking.approve(request_id=opened.json()["request_id"], account=account)
    return api.post(f"/customers/{ref}/link/confirm", {"request_id": opened.json()["request_id"]})
