"""Passkeys over plain HTTP, as bibid/webauthn.js does it, with a software authenticator
(tests/webauthn_soft.py) answering for the browser: for tests that need a passkey in some
state (the helpdesk's flow walk and scenarios), not for the browser journey itself
(test_browser_passkeys.py). Its origin is identity's URL and its relying party id
"127.0.0.1": py_webauthn accepts an IP address there (only browsers refuse one)."""

from __future__ import annotations

import re

import requests

from tests.webauthn_soft import SoftAuthenticator

from .oidc import TIMEOUT, csrf_of


def authenticator(system) -> SoftAuthenticator:
    return SoftAuthenticator(origin=system.urls["identity"], rp_id="127.0.0.1")


def post_json(http: requests.Session, url: str, body: dict, token: str) -> requests.Response:
    """As bibid/webauthn.js posts: JSON, the form's CSRF token in X-CSRFToken."""
    return http.post(
        url,
        json=body,
        headers={"X-CSRFToken": token, "Accept": "application/json", "Referer": url},
        timeout=TIMEOUT,
        allow_redirects=False,
    )


def add_passkey(system, http, key: SoftAuthenticator, name: str) -> requests.Response:
    """On Mijn inlogaccount, Passkeys: "Passkey toevoegen" (the session signed in recently)."""
    identity = system.urls["identity"]
    page = http.get(f"{identity}/passkeys/", timeout=TIMEOUT)
    assert 'data-webauthn="create"' in page.text, "no add form: not signed in recently?"
    token = csrf_of(page.text)
    body = {"fields": {"name": name}}
    begun = post_json(http, f"{identity}/passkeys/toevoegen/begin/", body, token)
    assert begun.status_code == 200, begun.text
    answer = key.create(begun.json()["publicKey"])
    return post_json(http, f"{identity}/passkeys/toevoegen/", {**body, "credential": answer}, token)


def remove_passkey(system, http, name: str) -> None:
    """On Mijn inlogaccount, Passkeys: "Verwijder <name>" (signed in)."""
    page_url = f"{system.urls['identity']}/passkeys/"
    page = http.get(page_url, timeout=TIMEOUT)
    forms = re.findall(
        r'<form method="post" action="([^"]*/verwijderen/)".*?</form>', page.text, re.S
    )
    action = next(a for a in forms if f"Verwijder {name}<" in page.text.split(a, 1)[1][:2000])
    done = http.post(
        f"{system.urls['identity']}{action}",
        data={"csrfmiddlewaretoken": csrf_of(page.text)},
        headers={"Referer": page_url},
        timeout=TIMEOUT,
    )
    assert done.status_code == 200 and f"Verwijder {name}<" not in done.text, done.status_code


def passkey_attempt(system, key: SoftAuthenticator, credential_id=None, **get) -> requests.Response:
    """A fresh browser presses "Inloggen met een passkey"; the device answers with
    `credential_id` (default: its first); identity's answer to the browser's POST."""
    identity = system.urls["identity"]
    http = requests.Session()
    page = http.get(f"{identity}/inloggen/", timeout=TIMEOUT)
    form = re.search(r'<form[^>]*data-webauthn="get".*?</form>', page.text, re.S).group(0)
    token = csrf_of(form)
    begun = post_json(http, f"{identity}/inloggen/passkey/begin/", {"fields": {}}, token)
    assert begun.status_code == 200, begun.text
    answer = key.get(begun.json()["publicKey"], credential_id, **get)
    return post_json(
        http, f"{identity}/inloggen/passkey/", {"credential": answer, "fields": {}}, token
    )
