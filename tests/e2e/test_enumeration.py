"""Never reveal whether an account exists: the same answer, in the same time.

For each question a visitor can ask about an account (sign in, forgot password, forgot
username, sign up with a username sent although the form asks none), this sends both kinds
of request many times, interleaved, over real HTTP to the running services, and compares:
status, headers and page must be equal; the response times must not be told apart (a
Mann-Whitney U test, which needs no assumption about the shape of the noise on a shared
machine).
"""

from __future__ import annotations

import http.client
import math
import re
import statistics
import time
import uuid
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

ROUNDS = 40
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One keep-alive connection with its own cookies, like a browser tab."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None, ip: str = ""):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if ip:
            headers["X-Forwarded-For"] = ip
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        elapsed = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            self.cookies.update({k: m.value for k, m in cookie.items()})
        return response, text, elapsed

    def form_token(self, path: str) -> str:
        _response, text, _t = self.request("GET", path)
        return TOKEN.search(text).group(1)


def fingerprint(response, text: str) -> tuple:
    page = TOKEN.sub("", text)
    page = re.sub(r'value="[^"]*"', 'value=""', page)
    skip = {"date", "content-length", "set-cookie", "expires", "x-request-id"}  # per request
    headers = sorted((k.lower(), v) for k, v in response.getheaders() if k.lower() not in skip)
    return response.status, tuple(headers), page


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    combined = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(combined)
    i = 0
    ties = 0.0
    while i < len(combined):
        j = i
        while j + 1 < len(combined) and combined[j + 1][0] == combined[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(rank for rank, (_v, group) in zip(ranks, combined, strict=True) if group == 0)
    u = r1 - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    n = n1 + n2
    sd = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (u - mean) / sd if sd else 0.0
    return math.erfc(abs(z) / math.sqrt(2))


def compare(name: str, first: list[float], second: list[float]) -> None:
    p = mann_whitney_p(first, second)
    m1, m2 = statistics.median(first) * 1000, statistics.median(second) * 1000
    print(f"{name}: medians {m1:.1f} ms vs {m2:.1f} ms, Mann-Whitney p = {p:.3f}")
    # p below 0.001 would mean the two kinds can be told apart by their timing.
    assert p > 0.001, f"{name}: timing differs ({m1:.1f} ms vs {m2:.1f} ms, p={p:.2g})"


def ip(i: int) -> str:
    return f"10.77.{i // 250}.{i % 250 + 1}"


def test_sign_in_unknown_name_and_wrong_password_are_alike(system):
    tag = uuid.uuid4().hex[:6]
    names = [f"enum{tag}{i:03d}" for i in range(ROUNDS)]
    system.identity_shell(
        "from bibid.identity.accounts.services import create_account\n"
        "from bibid.identity.accounts.actors import Actor\n"
        f"for n in {names!r}:\n"
        "    create_account(username=n, password='Een-wachtwoord-dat-klopt', active=True,"
        " actor=Actor.system('test'))\n"
    )
    base = system.urls["identity"]
    known, unknown, pages = [], [], set()
    for i, name in enumerate(names):
        for times, who in ((known, name), (unknown, f"niemand{tag}{i:03d}")):
            browser = Browser(base)
            token = browser.form_token("/inloggen/")
            response, text, elapsed = browser.request(
                "POST",
                "/inloggen/",
                {
                    "csrfmiddlewaretoken": token,
                    "username": who,
                    "password": "Niet-het-goede-wachtwoord",
                },
                ip=ip(len(times) * 2 + (times is unknown)),
            )
            times.append(elapsed)
            pages.add(fingerprint(response, text.replace(who, "NAME")))
    assert len(pages) == 1, "the answers differ"
    compare("sign in", known, unknown)


def test_forgot_password_known_and_unknown_are_alike(system):
    base = system.urls["identity"]
    names = [p["username"] for p in system.demo["patrons"] if p["state"] == "active"]
    known, unknown, pages = [], [], set()
    for i in range(ROUNDS):
        for times, who in (
            (known, names[i % len(names)]),
            (unknown, f"onbekend{uuid.uuid4().hex[:8]}"),
        ):
            browser = Browser(base)
            token = browser.form_token("/wachtwoord-vergeten/")
            response, text, elapsed = browser.request(
                "POST",
                "/wachtwoord-vergeten/",
                {"csrfmiddlewaretoken": token, "name": who},
                ip=ip(100 + i),
            )
            times.append(elapsed)
            pages.add(fingerprint(response, text))
    assert len(pages) == 1, "the answers differ"
    compare("forgot password", known, unknown)


def test_forgot_username_known_and_unknown_are_alike(system):
    base = system.urls["identity"]
    known, unknown, pages = [], [], set()
    for i in range(ROUNDS):
        for times, address in (
            (known, "anna.jansen@example.org"),
            (unknown, f"niemand{uuid.uuid4().hex[:8]}@example.org"),
        ):
            browser = Browser(base)
            token = browser.form_token("/gebruikersnaam-vergeten/")
            response, text, elapsed = browser.request(
                "POST",
                "/gebruikersnaam-vergeten/",
                {"csrfmiddlewaretoken": token, "email": address},
                ip=ip(200 + i),
            )
            times.append(elapsed)
            pages.add(fingerprint(response, text))
    assert len(pages) == 1, "the answers differ"
    compare("forgot username", known, unknown)


def test_sign_up_with_a_taken_or_free_username_is_alike(system):
    """The sign-up form asks no username (the patron chooses one on the activation page,
    under a try limit); a username sent anyway, taken or free, changes nothing."""
    base = system.urls["library"]
    browser = Browser(base)
    _r, page, _t = browser.request("GET", "/aanmelden/aan-de-maas/")
    assert 'name="username"' not in page
    compleet = re.search(r'value="(\d+)"[^>]*>\s*<label[^>]*>Volwassen Compleet', page)
    type_id = (
        compleet.group(1)
        if compleet
        else re.findall(r'name="subscription_type" value="(\d+)"', page)[-1]
    )
    taken, free, pages = [], [], set()
    for i in range(ROUNDS // 2):
        for times, username in ((taken, "anna.jansen"), (free, f"vrij{uuid.uuid4().hex[:8]}")):
            tag = uuid.uuid4().hex[:8]
            browser = Browser(base)
            token = browser.form_token("/aanmelden/aan-de-maas/")
            address = f"aanmelding.{tag}@example.org"
            response, text, elapsed = browser.request(
                "POST",
                "/aanmelden/aan-de-maas/",
                {
                    "csrfmiddlewaretoken": token,
                    "name": f"Aanmelder {tag}",
                    "birth_date": "1990-01-01",
                    "email": address,
                    "subscription_type": type_id,
                    "username": username,
                    "terms": "on",
                },
                ip=ip(300 + i * 2 + len(times) % 2),
            )
            assert response.status == 200, text[:2000]
            times.append(elapsed)
            pages.add(fingerprint(response, text.replace(address, "ADDRESS")))
    assert len(pages) == 1, "the answers differ"
    compare("sign up", taken, free)
