"""A typed client for the login service's library API (OAuth2 client credentials).

Every call has a timeout. Failures come in two kinds the callers treat differently:
IdentityProblem (the login service answered and said no: a problem with a code and a
message in Dutch and English) and IdentityUnavailable (no answer, a timeout or a 5xx).

An IdentityUnavailable says which of four it was, because they mean different things to the
staff member and to the data: "down" (no connection: the request never reached identity),
"busy" (identity shed the request with 503 "busy" before doing anything), "slow" (the request
was sent and no answer came in time) and "error" (identity failed while answering). After
"slow" and "error" a changing request may have been carried out all the same: `uncertain` is
true, and the request (method, path, body, Idempotency-Key) travels with the error so that the
caller can send exactly the same request again to learn what happened (identity replays the
first answer for the same key) instead of guessing.
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
from urllib3.exceptions import NewConnectionError

from bibid.common import requestid


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
    kind: str = "down"  # "down" | "busy" | "slow" | "error" (see the module's docstring)
    retry_after: int | None = None
    # The changing request that got no answer, to be sent again unchanged (see `replay`).
    sent: dict | None = None

    def __str__(self) -> str:
        return f"login service {self.kind}: {self.reason}"

    @property
    def uncertain(self) -> bool:
        """The request reached identity and may have been carried out."""
        return self.kind in ("slow", "error") and self.sent is not None

    TEXT = gettext_lazy(
        "De inlogdienst is nu niet bereikbaar (%(reason)s). Er is niets "
        "gewijzigd; probeer het over een paar minuten opnieuw."
    )
    BUSY_TEXT = gettext_lazy(
        "De inlogdienst is even erg druk. Er is niets gewijzigd; probeer "
        "het over een paar seconden opnieuw."
    )
    SLOW_TEXT = gettext_lazy(
        "De inlogdienst antwoordt niet op tijd (%(reason)s); probeer het "
        "over een paar minuten opnieuw."
    )

    def message(self, language: str | None = None) -> str:
        if self.kind == "busy":
            return str(self.BUSY_TEXT)
        if self.kind in ("slow", "error"):
            return str(self.SLOW_TEXT) % {"reason": self.reason}
        return str(self.TEXT) % {"reason": self.reason}


def _not_sent(error: requests.RequestException) -> bool:
    """True when the request certainly never reached identity (no connection was made)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        seen, cause = set(), error
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            if isinstance(cause, NewConnectionError):
                return True
            reason = getattr(cause, "reason", None)
            if isinstance(reason, NewConnectionError):
                return True
            nested = (
                cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
            )
            cause = nested or cause.__cause__ or cause.__context__
    return False


def _unavailable_from(error: requests.RequestException, sent: dict | None) -> IdentityUnavailable:
    if _not_sent(error):
        return IdentityUnavailable(type(error).__name__, kind="down")
    return IdentityUnavailable(type(error).__name__, kind="slow", sent=sent)


def _unavailable_from_status(response: requests.Response, sent: dict | None) -> IdentityUnavailable:
    data = _json(response)
    if response.status_code == 503 and data.get("code") == "busy":
        # Shed before any work was done (the load-shedding contract): certainly not done.
        try:
            retry_after = max(1, min(300, int(response.headers.get("Retry-After", "5"))))
        except ValueError:
            retry_after = 5
        return IdentityUnavailable("HTTP 503 busy", kind="busy", retry_after=retry_after)
    return IdentityUnavailable(f"HTTP {response.status_code}", kind="error", sent=sent)


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

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        timeout: float | None = None,
        acting: tuple[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout or settings.BIBID_IDENTITY_TIMEOUT
        # Who acts (role, opaque staff reference): sent with every call so that identity can
        # show the patron which role of this library did what.
        self.acting = acting

    @classmethod
    def for_library(
        cls, library, *, timeout: float | None = None, acting: tuple[str, str] | None = None
    ) -> IdentityClient:
        """`acting`: (role, staff reference), e.g. ("desk", "staff:17") or ("system", "")."""
        return cls(
            base_url=settings.BIBID_PUBLIC_URLS["identity"],
            client_id=library.identity_client_id,
            client_secret=library.identity_client_secret,
            timeout=timeout,
            acting=acting,
        )

    # -- transport ------------------------------------------------------------------------

    def _token(self, *, fresh: bool = False) -> str:
        with _tokens_lock:
            cached = _tokens.get((self.base_url, self.client_id))
            if cached and not fresh and cached[1] > time.monotonic() + 30:
                return cached[0]
        try:
            response = _session().post(
                f"{self.base_url}/o/token/",
                data={"grant_type": "client_credentials", "scope": "accounts:read accounts:write"},
                auth=(self.client_id, self.client_secret),
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            # No operation was sent yet: whatever happened, nothing was done.
            raise IdentityUnavailable(
                type(error).__name__, kind="down" if _not_sent(error) else "slow"
            ) from error
        if response.status_code >= 500:
            shed = _unavailable_from_status(response, None)
            raise IdentityUnavailable(
                shed.reason,
                kind="busy" if shed.kind == "busy" else "error",
                retry_after=shed.retry_after,
            )
        if response.status_code != 200:
            raise IdentityProblem(
                response.status_code,
                "client_credentials_refused",
                {
                    "nl": "De inlogdienst weigert de gegevens van deze "
                    "bibliotheek (client-id/secret).",
                    "en": "The login service refuses this library's client credentials.",
                },
                _json(response),
            )
        body = response.json()
        with _tokens_lock:
            _tokens[(self.base_url, self.client_id)] = (
                body["access_token"],
                time.monotonic() + float(body.get("expires_in", 300)),
            )
        return body["access_token"]

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> dict:
        """One API call; a refused token is fetched again once (it may have expired)."""
        sent = (
            {"method": method, "path": path, "body": body, "key": idempotency_key}
            if idempotency_key
            else None
        )
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {self._token(fresh=attempt == 2)}",
                "Accept-Language": (get_language() or "nl")[:2],
                **requestid.outgoing_headers(),
            }
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            if self.acting:
                role, staff = self.acting
                headers["Bibid-Acting-Role"] = role
                if staff:
                    headers["Bibid-Acting-Staff"] = staff
            try:
                response = _session().request(
                    method,
                    f"{self.base_url}/api/v1{path}",
                    json=body,
                    params=params,
                    headers=headers,
                    timeout=timeout or self.timeout,
                )
            except requests.RequestException as error:
                raise _unavailable_from(error, sent) from error
            if response.status_code == 401 and attempt == 1:
                continue
            if response.status_code >= 500:
                raise _unavailable_from_status(response, sent)
            data = _json(response)
            if response.status_code >= 400:
                raise IdentityProblem(
                    response.status_code,
                    data.get("code", "unknown"),
                    data.get("messages") or {},
                    data,
                )
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def replay(self, sent: dict) -> dict:
        """Send a request that got no answer again, unchanged, with its Idempotency-Key:
        identity answers what the first one did (replayed), or runs it now if it never ran."""
        return self.call(
            sent["method"], sent["path"], body=sent.get("body"), idempotency_key=sent["key"]
        )

    # -- operations (the library API's operationIds) --------------------------------------

    def account_show(self, ref: str) -> dict:
        return self.call("GET", f"/customers/{ref}/account")

    def account_generate(
        self,
        ref: str,
        *,
        username: str | None,
        recovery_email: str | None,
        language: str = "nl",
        if_username_taken: str = "refuse",
        idempotency_key: str | None = None,
    ) -> dict:
        body = {"language": language, "if_username_taken": if_username_taken}
        if username:
            body["username"] = username
        if recovery_email:
            body["recovery_email"] = recovery_email
        return self.call(
            "POST",
            f"/customers/{ref}/account",
            body=body,
            idempotency_key=idempotency_key or _key(),
        )

    def account_link(self, ref: str, username: str | None) -> dict:
        """Open a link request (202): the patron agrees by code or on `handover_url`."""
        body = {"username": username} if username else {}
        return self.call("POST", f"/customers/{ref}/link", body=body, idempotency_key=_key())

    def account_link_confirm(self, ref: str, request_id: str, code: str | None = None) -> dict:
        """Complete a link the patron agreed to (201 with the account)."""
        body = {"request_id": str(request_id)}
        if code:
            body["code"] = code
        return self.call(
            "POST", f"/customers/{ref}/link/confirm", body=body, idempotency_key=_key()
        )

    def account_unlink(self, ref: str) -> dict:
        return self.call("DELETE", f"/customers/{ref}/link", idempotency_key=_key())

    def account_activate(self, ref: str) -> dict:
        return self.call("POST", f"/customers/{ref}/activate", idempotency_key=_key())

    def account_authorize(
        self, ref: str, authorization: dict, *, idempotency_key: str | None = None
    ) -> dict:
        """`authorization` carries the customer's `version` (see pushes.py): identity never
        applies an older version over a newer one."""
        return self.call(
            "PUT",
            f"/customers/{ref}/authorization",
            body=authorization,
            idempotency_key=idempotency_key or _key(),
        )

    def authorizations_bulk(self, items: list[dict]) -> dict:
        return self.call(
            "POST",
            "/authorizations",
            body={"items": items},
            idempotency_key=_key(),
            timeout=max(self.timeout, 120),
        )

    def account_rights(self, ref: str) -> dict:
        return self.call("GET", f"/customers/{ref}/rights")

    def account_reset_recovery_email(self, ref: str, email: str) -> dict:
        return self.call(
            "PUT", f"/customers/{ref}/recovery-email", body={"email": email}, idempotency_key=_key()
        )

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
        return self.call(
            "PUT", "/settings", body={"self_service_flows": flows}, idempotency_key=_key()
        )

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
