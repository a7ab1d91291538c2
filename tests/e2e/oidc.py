"""Helpers for the sign-in tests: a patron with a browser-like HTTP session, demo clients,
fresh accounts with rights pushed through the library API."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import requests

from .library_api import Library, demo_client, fresh_card

TIMEOUT = 30
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def service_client(system, client_id: str) -> dict:
    return next(c for c in system.demo["service_clients"] if c["client_id"] == client_id)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in_at_identity(
    http: requests.Session, identity: str, username: str, password: str
) -> None:
    page = http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    answer = http.post(
        f"{identity}/inloggen/",
        timeout=TIMEOUT,
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": csrf_of(page.text),
            "username": username,
            "password": password,
        },
        headers={"Referer": f"{identity}/inloggen/"},
    )
    assert answer.status_code == 302, answer.text[:500]


def post_form(
    http: requests.Session, page_url: str, action: str, data: dict | None = None, **kwargs
) -> requests.Response:
    """Submit a form of the page at page_url the way a browser does (CSRF token, Referer)."""
    page = http.get(page_url, timeout=TIMEOUT)
    return http.post(
        action,
        data={"csrfmiddlewaretoken": csrf_of(page.text), **(data or {})},
        headers={"Referer": page_url},
        timeout=TIMEOUT,
        **kwargs,
    )


def new_patron(
    system, *, rights: list[dict] | None = None, library: str = "aan-de-maas"
) -> tuple[str, str, str]:
    """A fresh active account, linked at `library` with these rights; (username, password,
    customer ref)."""
    username = f"p{uuid.uuid4().hex[:10]}"
    password = f"Lang-genoeg-{uuid.uuid4().hex[:8]}"
    system.create_patron(username, password)
    ref = fresh_card(library)
    api = Library(system.urls["identity"], demo_client(system, library))
    linked = api.link_with_patron(ref, username, password)
    assert linked.status_code == 201, linked.text
    if rights is not None:
        answer = api.authorize(ref, {"customer": {"name": "Test Lezer"}, "rights": rights})
        assert answer.status_code == 200, answer.text
    return username, password, ref


def library_api(system, library: str = "aan-de-maas") -> Library:
    return Library(system.urls["identity"], demo_client(system, library))
