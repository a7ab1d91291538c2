"""A library system's client of identity's library API over real HTTP, and the patron's
moves the e2e tests need around it (the handover page, a reset link): shared by the e2e
modules and the benchmarks."""

from __future__ import annotations

import random
import re
import uuid

import requests

TIMEOUT = 30
READ = "accounts:read"
READ_WRITE = "accounts:read accounts:write"
PROBLEM = "application/problem+json"
LIBRARY_A = "aan-de-maas"
LIBRARY_B = "duinstreek"
OPERATION_IDS = {
    "account_show",
    "account_generate",
    "account_link",
    "account_link_confirm",
    "account_unlink",
    "account_activate",
    "account_authorize",
    "authorizations_bulk",
    "account_rights",
    "account_reset_recovery_email",
    "account_send_password_reset",
    "account_unblock",
    "account_history",
    "account_status",
    "changes_list",
    "library_settings_show",
    "library_settings_update",
}
_NO_BODY = object()


def new_ref(library: str = LIBRARY_A) -> str:
    """A customer reference of this test's own: a card number in the library's own range
    (rule L6; references outside it are refused with 422 card_number_not_in_range)."""
    return fresh_card(library)


def fresh_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def demo_client(system, code: str) -> dict:
    return next(c for c in system.demo["library_clients"] if c["library"] == code)


def request_token(identity: str, client: dict, scope: str, secret: str | None = None):
    return requests.post(
        f"{identity}/o/token/",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client["client_id"], secret or client["client_secret"]),
        timeout=TIMEOUT,
    )


CARD_PREFIXES = {"aan-de-maas": "2010", "duinstreek": "3020"}


def fresh_card(library: str = "aan-de-maas") -> str:
    """A card number in the demo library's own range (rule L6), not handed out by it (the
    library hands out numbers of ten digits; these have twelve)."""
    return f"{CARD_PREFIXES[library]}{uuid.uuid4().int % 10**8:08d}"


def on_handover_page(
    url: str, username: str = "", password: str = "", action: str = "approve"
) -> requests.Response:
    """Whoever holds the handover page signs in on it and approves (or declines); the raw
    answer (200 done, 400 wrong password, 403/409 refused, 410 gone)."""
    with requests.Session() as browser:
        page = browser.get(url, timeout=TIMEOUT)
        assert page.status_code == 200, (url, page.status_code)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return browser.post(
            url,
            data={
                "csrfmiddlewaretoken": token,
                "action": action,
                "username": username,
                "password": password,
            },
            headers={"Referer": url, "X-Forwarded-For": fresh_address()},
            allow_redirects=False,
            timeout=TIMEOUT,
        )


def approve_handover(url: str, username: str, password: str) -> requests.Response:
    """The patron signs in on the handover page (identity's own) and agrees to the link."""
    done = on_handover_page(url, username, password)
    assert done.status_code == 200, (done.status_code, done.text[:400])
    return done


def choose_password(reset_link: str, password: str) -> requests.Response:
    """The patron opens the link of a password-reset mail and chooses a password."""
    with requests.Session() as browser:
        page = browser.get(reset_link, timeout=TIMEOUT)
        assert page.status_code == 200, (reset_link, page.status_code)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return browser.post(
            page.url,
            data={"csrfmiddlewaretoken": token, "password": password, "password_again": password},
            headers={"Referer": page.url},
            allow_redirects=False,
            timeout=TIMEOUT,
        )


class Library:
    """A library system calling the API with a bearer token of its own."""

    def __init__(self, identity: str, client: dict, scope: str = READ_WRITE) -> None:
        self.identity = identity
        self.client = client
        self.code = client["library"]
        self.name = client["name"]
        self.http = requests.Session()
        answer = request_token(identity, client, scope)
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert token["token_type"] == "Bearer"
        assert set(token["scope"].split()) == set(scope.split())
        self.token = token["access_token"]

    def call(
        self, method: str, path: str, body=_NO_BODY, *, data=None, headers=None, params=None
    ) -> requests.Response:
        options: dict = {
            "headers": {"Authorization": f"Bearer {self.token}", **(headers or {})},
            "params": params,
            "timeout": TIMEOUT,
        }
        if body is not _NO_BODY:
            options["json"] = body
        if data is not None:
            options["data"] = data
        return self.http.request(method, f"{self.identity}/api/v1{path}", **options)

    # One method per operation, named like its operationId.
    def show(self, ref, **kw):
        return self.call("GET", f"/customers/{ref}/account", **kw)

    def generate(self, ref, body=None, **kw):
        return self.call("POST", f"/customers/{ref}/account", {} if body is None else body, **kw)

    def link(self, ref, username, **kw):
        """Open a link request (202): the patron must agree before `confirm` links."""
        body = {"username": username} if username else {}
        return self.call("POST", f"/customers/{ref}/link", body, **kw)

    def confirm(self, ref, request_id, code=None, **kw):
        body = {"request_id": request_id, **({"code": code} if code else {})}
        return self.call("POST", f"/customers/{ref}/link/confirm", body, **kw)

    def link_with_patron(self, ref, username, password) -> requests.Response:
        """Link as a library must (rule L2): ask, the patron signs in on the handover page
        and agrees, then confirm; returns the confirm answer (201 when linked)."""
        asked = self.link(ref, username)
        assert asked.status_code == 202, asked.text
        approve_handover(asked.json()["handover_url"], username, password)
        return self.confirm(ref, asked.json()["request_id"])

    def unlink(self, ref, **kw):
        return self.call("DELETE", f"/customers/{ref}/link", **kw)

    def activate(self, ref, **kw):
        return self.call("POST", f"/customers/{ref}/activate", **kw)

    def authorize(self, ref, body, **kw):
        return self.call("PUT", f"/customers/{ref}/authorization", body, **kw)

    def bulk(self, items, **kw):
        return self.call("POST", "/authorizations", {"items": items}, **kw)

    def rights(self, ref, **kw):
        return self.call("GET", f"/customers/{ref}/rights", **kw)

    def recovery_email(self, ref, email, **kw):
        return self.call("PUT", f"/customers/{ref}/recovery-email", {"email": email}, **kw)

    def password_reset(self, ref, **kw):
        return self.call("POST", f"/customers/{ref}/password-reset", **kw)

    def unblock(self, ref, **kw):
        return self.call("POST", f"/customers/{ref}/unblock", **kw)

    def history(self, ref, **kw):
        return self.call("GET", f"/customers/{ref}/history", **kw)

    def status(self, ref, **kw):
        return self.call("GET", f"/customers/{ref}/status", **kw)

    def changes(self, after: int = 0, limit: int = 1000):
        return self.call("GET", "/changes", params={"after": after, "limit": limit})

    def ok(self, response: requests.Response, status: int = 200) -> dict:
        assert response.status_code == status, (
            response.request.method,
            response.request.url,
            response.status_code,
            response.text[:800],
        )
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()

    def cursor(self) -> int:
        """The id of the newest change this library can see (read the whole feed)."""
        after = 0
        while True:
            page = self.ok(self.changes(after))
            after = page["next_after"]
            if not page["more"]:
                return after


def assert_problem(response: requests.Response, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem with our fields; returns the body."""
    context = (
        response.request.method,
        response.request.url,
        response.status_code,
        response.headers.get("Content-Type"),
        response.text[:800],
    )
    assert response.status_code == status, context
    assert response.headers.get("Content-Type", "").split(";")[0].strip() == PROBLEM, context
    body = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail", "code"):
        assert isinstance(body[key], str) and body[key], (key, body)
    assert body["type"].startswith("https://")
    assert body["messages"].keys() >= {"nl", "en"} and all(body["messages"].values())
    if code is not None:
        assert body["code"] == code, body
    return body


def authorization(name: str, *rights: dict, **customer) -> dict:
    return {"customer": {"name": name, **customer}, "rights": list(rights)}


def failed_sign_in(identity: str, username: str, address: str) -> None:
    """A wrong password on the real login page, from `address` (via the trusted proxy)."""
    with requests.Session() as browser:
        page = browser.get(f"{identity}/inloggen/", timeout=TIMEOUT)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            f"{identity}/inloggen/",
            data={
                "csrfmiddlewaretoken": token,
                "username": username,
                "password": "not-the-password-at-all",
            },
            headers={"X-Forwarded-For": address, "User-Agent": "bibid-e2e-library-api"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
    assert answer.status_code == 200  # the generic failure, not a redirect into a session
