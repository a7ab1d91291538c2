"""Guessing limits hold under parallel requests across several web processes (real HTTP)."""

import http.client
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

PARALLEL = 40


def login_form(base: str) -> tuple[str, str]:
    """GET the login page; return (cookie header, csrf token)."""
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.request("GET", "/inloggen/")
    response = conn.getresponse()
    body = response.read().decode()
    cookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie.load(header)
    conn.close()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    return "; ".join(f"{k}={m.value}" for k, m in cookie.items()), token


def post_login(base: str, username: str, password: str) -> int:
    cookies, token = login_form(base)
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
    conn.request(
        "POST",
        "/inloggen/",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
    )
    status = conn.getresponse().status
    conn.close()
    return status


def burst(base: str, username: str) -> list[int]:
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(
            pool.map(lambda _: post_login(base, username, "not-the-password"), range(PARALLEL))
        )


def test_parallel_guesses_get_exactly_the_free_attempts(system):
    username = f"parallel.{uuid.uuid4().hex[:8]}"
    system.create_patron(username, "Een-lange-zin-vol-boeken")
    statuses = burst(system.urls["identity"], username)
    # Five wrong passwords are checked (200, the generic failure); every other parallel
    # attempt is refused before its password is looked at (429), in whatever process.
    assert sorted(statuses) == [200] * 5 + [429] * (PARALLEL - 5)


def test_an_unknown_name_is_limited_in_exactly_the_same_way(system):
    statuses = burst(system.urls["identity"], f"nobody.{uuid.uuid4().hex[:8]}")
    assert sorted(statuses) == [200] * 5 + [429] * (PARALLEL - 5)
