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
        return call(f"/api/v1{path}", data=data, content_type="application/json",
                    **self._headers(headers))

    def post(self, path: str, body: dict | None = None, **kw):
        return self.send("POST", path, body or {}, **kw)

    def put(self, path: str, body: dict, **kw):
        return self.send("PUT", path, body, **kw)

    def delete(self, path: str, **kw):
        return self.send("DELETE", path, None, **kw)


def token_for(client: Client, client_id: str, secret: str, scope: str) -> dict:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post("/o/token/", {"grant_type": "client_credentials", "scope": scope},
                           HTTP_AUTHORIZATION=f"Basic {basic}")
    return response.json() | {"status": response.status_code}


def make_library(code: str, name: str, scope: str = "accounts:read accounts:write") -> ApiClient:
    from bibid.identity.libraries.services import register_library

    done = register_library(code=code, name=name)
    client = Client()
    token = token_for(client, done.client_id, done.client_secret, scope)
    assert token["status"] == 200, token
    return ApiClient(client=client, token=token["access_token"], code=code)
