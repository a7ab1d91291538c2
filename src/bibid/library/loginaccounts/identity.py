"""A typed client for the login service's library API (OAuth2 client credentials).

Every call has a timeout. Failures come in two kinds the callers treat differently:
IdentityProblem (the login service answered and said no: a problem with a code and a
message in Dutch and English) and IdentityUnavailable (no answer, a timeout or a 5xx).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.utils.translation import get_language, gettext_lazy


class IdentityError(Exception):
    """Anything that went wrong talking to the login service."""

    def message(self, language: str | None = None) -> str:
        raise NotImplementedError


@dataclass
class IdentityProblem(IdentityError):
    status: int
    code: str
    messages: dict[str, str]
    body: dict

    def __str__(self) -> str:
        return f"{self.status} {self.code}"

    def message(self, language: str | None = None) -> str:
        language = (language or get_language() or "nl")[:2]
        return self.messages.get(language) or self.messages.get("en") or self.code


@dataclass
class IdentityUnavailable(IdentityError):
    reason: str

    def __str__(self) -> str:
        return f"login service unavailable: {self.reason}"

    TEXT = gettext_lazy("De inlogdienst is nu niet bereikbaar (%(reason)s). Er is niets "
                        "gewijzigd; probeer het over een paar minuten opnieuw.")

    def message(self, language: str | None = None) -> str:
        return str(self.TEXT) % {"reason": self.reason}


_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()
_local = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread (requests sessions are not shared across threads).
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class IdentityClient:
    """The library API, as one library (one OAuth2 client) sees it."""

    def __init__(self, *, base_url: str, client_id: str, client_secret: str,
                 timeout: float | None = None, acting: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout or settings.BIBID_IDENTITY_TIMEOUT
        # Who acts (role, opaque staff reference): sent with every call so that identity can
        # show the patron which role of this library did what.
        self.acting = acting

    @classmethod
    def for_library(cls, library, *, timeout: float | None = None,
                    acting: tuple[str, str] | None = None) -> IdentityClient:
        """`acting`: (role, staff reference), e.g. ("desk", "staff:17") or ("system", "")."""
        return cls(base_url=settings.BIBID_PUBLIC_URLS["identity"],
                   client_id=library.identity_client_id,
                   client_secret=library.identity_client_secret, timeout=timeout,
                   acting=acting)

    # -- transport ------------------------------------------------------------------------

    def _token(self, *, fresh: bool = False) -> str:
        with _tokens_lock:
            cached = _tokens.get((self.base_url, self.client_id))
            if cached and not fresh and cached[1] > time.monotonic() + 30:
                return cached[0]
        try:
            response = _session().post(
                f"{self.base_url}/o/token/",
                data={"grant_type": "client_credentials",
                      "scope": "accounts:read accounts:write"},
                auth=(self.client_id, self.client_secret), timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise IdentityUnavailable(type(error).__name__) from error
        if response.status_code >= 500:
            raise IdentityUnavailable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise IdentityProblem(response.status_code, "client_credentials_refused",
                                  {"nl": "De inlogdienst weigert de gegevens van deze "
                                         "bibliotheek (client-id/secret).",
                                   "en": "The login service refuses this library's client "
                                         "credentials."}, _json(response))
        body = response.json()
        with _tokens_lock:
            _tokens[(self.base_url, self.client_id)] = (body["access_token"],
                                       time.monotonic() + float(body.get("expires_in", 300)))
        return body["access_token"]

    def call(self, method: str, path: str, *, body: Any = None, params: dict | None = None,
             idempotency_key: str | None = None, timeout: float | None = None) -> dict:
        """One API call; a refused token is fetched again once (it may have expired)."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token(fresh=attempt == 2)}",
                       "Accept-Language": (get_language() or "nl")[:2]}
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            if self.acting:
                role, staff = self.acting
                headers["Bibid-Acting-Role"] = role
                if staff:
                    headers["Bibid-Acting-Staff"] = staff
            try:
                response = _session().request(
                    method, f"{self.base_url}/api/v1{path}", json=body, params=params,
                    headers=headers, timeout=timeout or self.timeout,
                )
            except requests.RequestException as error:
                raise IdentityUnavailable(type(error).__name__) from error
            if response.status_code == 401 and attempt == 1:
                continue
            if response.status_code >= 500:
                raise IdentityUnavailable(f"HTTP {response.status_code}")
            data = _json(response)
            if response.status_code >= 400:
                raise IdentityProblem(response.status_code, data.get("code", "unknown"),
                                      data.get("messages") or {}, data)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    # -- operations (the library API's operationIds) --------------------------------------

    def account_show(self, ref: str) -> dict:
        return self.call("GET", f"/customers/{ref}/account")

    def account_generate(self, ref: str, *, username: str | None, recovery_email: str | None,
                         language: str = "nl", if_username_taken: str = "refuse",
                         idempotency_key: str | None = None) -> dict:
        body = {"language": language, "if_username_taken": if_username_taken}
        if username:
            body["username"] = username
        if recovery_email:
            body["recovery_email"] = recovery_email
        return self.call("POST", f"/customers/{ref}/account", body=body,
                         idempotency_key=idempotency_key or _key())

    def account_link(self, ref: str, username: str | None) -> dict:
        """Open a link request (202): the patron agrees by code or on `handover_url`."""
        body = {"username": username} if username else {}
        return self.call("POST", f"/customers/{ref}/link", body=body, idempotency_key=_key())

    def account_link_confirm(self, ref: str, request_id: str, code: str | None = None) -> dict:
        """Complete a link the patron agreed to (201 with the account)."""
        body = {"request_id": str(request_id)}
        if code:
            body["code"] = code
        return self.call("POST", f"/customers/{ref}/link/confirm", body=body,
                         idempotency_key=_key())

    def account_unlink(self, ref: str) -> dict:
        return self.call("DELETE", f"/customers/{ref}/link", idempotency_key=_key())

    def account_activate(self, ref: str) -> dict:
        return self.call("POST", f"/customers/{ref}/activate", idempotency_key=_key())

    def account_authorize(self, ref: str, authorization: dict, *,
                          idempotency_key: str | None = None) -> dict:
        return self.call("PUT", f"/customers/{ref}/authorization", body=authorization,
                         idempotency_key=idempotency_key or _key())

    def authorizations_bulk(self, items: list[dict]) -> dict:
        return self.call("POST", "/authorizations", body={"items": items},
                         idempotency_key=_key(), timeout=max(self.timeout, 120))

    def account_rights(self, ref: str) -> dict:
        return self.call("GET", f"/customers/{ref}/rights")

    def account_reset_recovery_email(self, ref: str, email: str) -> dict:
        return self.call("PUT", f"/customers/{ref}/recovery-email", body={"email": email},
                         idempotency_key=_key())

    def account_send_password_reset(self, ref: str) -> dict:
        return self.call("POST", f"/customers/{ref}/password-reset", idempotency_key=_key())

    def account_unblock(self, ref: str) -> dict:
        return self.call("POST", f"/customers/{ref}/unblock", idempotency_key=_key())

    def account_history(self, ref: str, limit: int = 50) -> dict:
        return self.call("GET", f"/customers/{ref}/history", params={"limit": limit})

    def account_status(self, ref: str, username: str | None = None) -> dict:
        params = {"username": username} if username else None
        return self.call("GET", f"/customers/{ref}/status", params=params)

    def library_settings_update(self, flows: list[str]) -> dict:
        return self.call("PUT", "/settings", body={"self_service_flows": flows},
                         idempotency_key=_key())

    def changes_list(self, after: int, limit: int = 500) -> dict:
        return self.call("GET", "/changes", params={"after": after, "limit": limit})


def _key() -> str:
    """A fresh Idempotency-Key per operation: the client's own retry of the same request
    (requests does not retry by itself) would reuse it."""
    return uuid.uuid4().hex


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
