"""Overload (issue 13, fault 5): past its limit identity refuses at once, and nothing breaks.

A real system (`bibid up` with one identity worker of two threads and a short queue deadline)
gets many sign-ins at the same moment, each over its own connection. Each needs an Argon2id
check of tens of milliseconds, so most of them would only queue. Asserted: some are refused
with 503 + Retry-After (the "busy" contract the library relies on), none gets a 500 or a
broken connection, every accepted sign-in succeeds, at least as many are accepted as there
are threads, and /healthz keeps answering in the crowd. No time is asserted.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest

from .harness import start_system, stop_system

CROWD = 40
THREADS = 2
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LOGIN = "/inloggen/"


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    system = start_system(
        tmp_path_factory.mktemp("bibid-overload"),
        workers=1,
        threads=THREADS,
        extra_env={
            # Small limits for the test: a request may wait 30 ms for a thread, 10 ms once
            # a queue stands. Sign-ins take longer than that, so a crowd must overflow.
            "BIBID_MAX_WAIT_MS": "30",
            "BIBID_SHED_TARGET_MS": "10",
            "BIBID_SHED_INTERVAL_MS": "20",
        },
    )
    yield system
    stop_system(system)


class Patron:
    def __init__(
        self, base: str, username: str, password: str, address: str, *, api: bool = False
    ) -> None:
        parts = urlsplit(base)
        # A caller that asks for JSON (as the library's client does) gets a problem document.
        self.accept = "application/json" if api else "text/html,*/*;q=0.8"
        self.host, self.port = parts.hostname, parts.port
        self.username, self.password, self.address = username, password, address
        self.cookies: dict[str, str] = {}
        self.token = ""

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def headers(self, **extra: str) -> dict[str, str]:
        # Its own address (one trusted proxy hop in the test system): the guard's
        # per-address lane does not mix up forty patrons arriving at once.
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"Cookie": cookie, "X-Forwarded-For": self.address, "Accept": self.accept, **extra}

    def open_form(self) -> None:
        conn = self.connect()
        try:
            conn.request("GET", LOGIN, headers=self.headers())
            response = conn.getresponse()
            page = response.read().decode()
            assert response.status == 200, response.status
            for header in response.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                self.cookies.update({k: m.value for k, m in jar.items()})
            self.token = TOKEN.search(page).group(1)
        finally:
            conn.close()

    def sign_in(self) -> tuple[int, dict[str, str], str]:
        body = urlencode(
            {
                "csrfmiddlewaretoken": self.token,
                "username": self.username,
                "password": self.password,
            }
        )
        conn = self.connect()
        try:
            conn.request(
                "POST",
                LOGIN,
                body=body,
                headers=self.headers(**{"Content-Type": "application/x-www-form-urlencoded"}),
            )
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()


def healthz(base: str) -> int:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_crowd_of_sign_ins_gets_fast_refusals_and_no_errors(crowded):
    base = crowded.urls["identity"]
    password = "Een-lange-zin-vol-boeken-" + uuid.uuid4().hex[:8]
    names = [f"crowd.patron.{i:02d}" for i in range(CROWD)]
    crowded.identity_shell(
        "from bibid.identity.accounts.services import create_account\n"
        "from bibid.identity.accounts.actors import Actor\n"
        f"for name in {names!r}:\n"
        f"    create_account(username=name, password={password!r}, active=True,\n"
        "                   recovery_email='', actor=Actor.system('test'))\n"
    )
    patrons = [
        Patron(base, n, password, f"10.13.{i // 200}.{i % 200 + 1}", api=i % 2 == 1)
        for i, n in enumerate(names)
    ]
    for patron in patrons:  # one by one: the forms themselves are not the test
        patron.open_form()

    start = threading.Barrier(CROWD + 5)
    errors: list[str] = []

    def sign_in(patron: Patron):
        start.wait()
        try:
            return patron.sign_in()
        except OSError as error:  # a reset or refused connection would be a failure
            errors.append(f"{patron.username}: {error!r}")
            return None

    def check_health():
        start.wait()
        return healthz(base)

    with ThreadPoolExecutor(CROWD + 5) as pool:
        sign_ins = [pool.submit(sign_in, p) for p in patrons]
        health = [pool.submit(check_health) for _ in range(5)]
        answers = [f.result() for f in sign_ins]
        health_statuses = [f.result() for f in health]

    assert errors == []
    statuses = [status for status, _, _ in answers]
    accepted = [(s, h) for s, h, _ in answers if s != 503]
    refused = [(p, h, text) for p, (s, h, text) in zip(patrons, answers, strict=True) if s == 503]
    # Every request got an answer that is either a completed sign-in or a refusal.
    assert all(s == 302 and h.get("location") == "/" for s, h in accepted), statuses
    assert len(accepted) >= THREADS, statuses
    assert refused, f"a crowd of {CROWD} was never refused: {statuses}"
    for patron, headers, text in refused:
        assert int(headers["retry-after"]) >= 1
        assert headers["cache-control"] == "no-store"
        if patron.accept == "application/json":
            # The contract the library's identity client relies on.
            assert headers["content-type"] == "application/problem+json"
            problem = json.loads(text)
            assert (problem["status"], problem["code"]) == (503, "busy")
        else:
            assert headers["content-type"].startswith("text/html")
            assert "Het is nu erg druk" in text
    assert {p.accept for p, _, _ in refused} == {"application/json", "text/html,*/*;q=0.8"}
    assert health_statuses == [200] * 5

    # The refused patrons try again, one after the other, and get in.
    for patron, (status, _, _) in zip(patrons, answers, strict=True):
        if status == 503:
            again, headers, _ = patron.sign_in()
            assert (again, headers.get("location")) == (302, "/")
