"""Guessing limits hold under parallel requests across several web processes (real HTTP)."""

import http.client
import random
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

PARALLEL = 40


def _busy(response) -> bool:
    """A burst may be shed (503 busy, before any work: no attempt was counted). The test
    system is small (two workers of two threads) and these tests fire bursts on purpose;
    a patron's browser would try again, and so do we, a moment later."""
    if response.status != 503:
        return False
    response.read()
    time.sleep(0.05 + random.random() * 0.2)
    return True


def login_form(base: str) -> tuple[str, str]:
    """GET the login page; return (cookie header, csrf token)."""
    host = urlsplit(base)
    while True:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        conn.request("GET", "/inloggen/")
        response = conn.getresponse()
        if not _busy(response):
            break
        conn.close()
    body = response.read().decode()
    cookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie.load(header)
    conn.close()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    return "; ".join(f"{k}={m.value}" for k, m in cookie.items()), token


def post_login(base: str, username: str, password: str, client_ip: str) -> int:
    cookies, token = login_form(base)
    host = urlsplit(base)
    body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
    while True:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.request(
            "POST",
            "/inloggen/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookies,
                "X-Forwarded-For": client_ip,
            },
        )
        response = conn.getresponse()
        if not _busy(response):
            break
        conn.close()
    status = response.status
    conn.close()
    return status


def fresh_address() -> str:
    """A client address of its own (via the trusted proxy header), so tests do not share lanes."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def burst(base: str, usernames: list[str], client_ip: str) -> list[int]:
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(
            pool.map(lambda name: post_login(base, name, "not-the-password", client_ip), usernames)
        )


def test_parallel_guesses_get_exactly_the_free_attempts(system):
    username = f"parallel.{uuid.uuid4().hex[:8]}"
    system.create_patron(username, "Een-lange-zin-vol-boeken")
    statuses = burst(system.urls["identity"], [username] * PARALLEL, fresh_address())
    # Five wrong passwords are checked (200, the generic failure); every other parallel
    # attempt is refused before its password is looked at (429), in whatever process.
    assert sorted(statuses) == [200] * 5 + [429] * (PARALLEL - 5)


def test_an_unknown_name_is_limited_in_exactly_the_same_way(system):
    name = f"nobody.{uuid.uuid4().hex[:8]}"
    statuses = burst(system.urls["identity"], [name] * PARALLEL, fresh_address())
    assert sorted(statuses) == [200] * 5 + [429] * (PARALLEL - 5)


def test_one_address_trying_many_names_is_slowed_down_too(system):
    # Credential stuffing: a different name each time, all from one address. Each name is
    # fresh, so only the address lane (20 free failures) can stop it.
    names = [f"stuffed.{uuid.uuid4().hex[:10]}" for _ in range(PARALLEL)]
    statuses = burst(system.urls["identity"], names, fresh_address())
    assert sorted(statuses) == [200] * 20 + [429] * (PARALLEL - 20)
