"""What each part of the identity service's form login costs, outside the password hash.

One form login is what a returning patron's browser does: GET /inloggen/ (the page, its CSRF
cookie and token), then POST the form, from a fresh browser that kept only its device
cookie. This runs it in-process (Django's test client, real Argon2id, a fresh database in a
child process, bench/oidc.py's method) and measures the CPU of each login outside the hash
(the process's CPU time of the two requests minus the CPU time spent in the sign-in's
password check, bibid.identity.signin.flow._verify).

Then, in the same child, how much each part costs:

- every middleware of the identity service, by leaving it out of MIDDLEWARE: one test
  client per variant, in rounds that take turns (the variants' order rotates each round),
  so that the medians compare the same machine (a shared VM drifts within a minute). The
  cost of a middleware is median(all) - median(without it). A variant whose login breaks
  (sessions, authentication, messages) is reported as such and measured the other way:
- cProfile, cumulative time per login of the parts that cannot be left out without
  changing behaviour: the middlewares' own hooks (process_request / process_view /
  process_response, or their __call__ less the inner handler's), the CSRF rotation at login
  (rotate_token), the device cookie (its signing and reading, bibid.identity.signin.device),
  the session (its store's save and the session middleware's response work), the form
  (LoginForm's full_clean), the page's template rendering. A profiler slows everything it
  watches, so these are given as a share of the profiled outside-the-hash time, and in
  milliseconds as that share of the unprofiled median.

    .venv/bin/python bench/form_login.py [--rounds 4] [--per-round 25] [--profiled 100]

The HTTP servers side by side (gunicorn against Granian): bench/servers.py. Only numbers are
printed; the run fails (exit 1) only when the login with every middleware does not succeed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.login import ACCOUNT_PAGE, LOGIN_PATH, TOKEN_RE  # noqa: E402
from bench.oidc import DEVICE_COOKIE, in_process_patrons, run_identity_child  # noqa: E402

PATRONS = 20
ALL = "all middlewares"
SERVER = "= the whole server side (ClientHandler), less the hash"


def short(path: str) -> str:
    return path.rsplit(".", 1)[1]


# -- the child: one process, one fresh database --------------------------------------------


def child(args: argparse.Namespace) -> int:
    import django

    django.setup()
    import html

    from django.conf import settings
    from django.test import Client as TestClient
    from django.test.utils import override_settings

    from bibid.identity.signin import flow

    browsers = in_process_patrons(PATRONS)

    # The CPU time of the password check, to take out of each login's CPU.
    hashed = [0.0]
    verify = flow._verify

    def timed_verify(*a, **kw):
        start = time.process_time()
        try:
            return verify(*a, **kw)
        finally:
            hashed[0] += time.process_time() - start

    flow._verify = timed_verify

    host = urlsplit(settings.BIBID_PUBLIC_URLS["identity"]).netloc
    origin = f"http://{host}"
    device: dict[str, str] = {}
    base = list(settings.MIDDLEWARE)

    def new_client(middleware: list[str]) -> TestClient:
        client = TestClient(
            enforce_csrf_checks=True, HTTP_HOST=host, HTTP_USER_AGENT="bibid-bench/1 (form)"
        )
        # The chain is built at the client's first request, from the settings of that moment.
        with override_settings(MIDDLEWARE=middleware):
            client.get("/readyz")
        return client

    def log_in(client: TestClient, browser, profiler: cProfile.Profile | None = None) -> float:
        """One form login; the CPU seconds it took outside the password check."""
        client.cookies = SimpleCookie()
        if browser.username in device:
            client.cookies[DEVICE_COOKIE] = device[browser.username]
        hashed[0] = 0.0
        start = time.process_time()
        if profiler:
            profiler.enable()
        page = client.get(LOGIN_PATH)
        match = TOKEN_RE.search(page.content.decode())
        if page.status_code != 200 or not match:
            raise RuntimeError(f"login page: {page.status_code}")
        answer = client.post(
            LOGIN_PATH,
            urlencode(
                {
                    "csrfmiddlewaretoken": html.unescape(match.group(1)),
                    "username": browser.username,
                    "password": browser.password,
                }
            ),
            content_type="application/x-www-form-urlencoded",
            headers={"Origin": origin, "Referer": f"{origin}{LOGIN_PATH}"},
        )
        if profiler:
            profiler.disable()
        spent = time.process_time() - start - hashed[0]
        if answer.status_code != 302 or answer.get("Location") != ACCOUNT_PAGE:
            raise RuntimeError(f"login POST: {answer.status_code} {answer.get('Location', '')}")
        if DEVICE_COOKIE in answer.cookies:
            device[browser.username] = answer.cookies[DEVICE_COOKIE].value
        return spent

    # Every browser signs in once with every middleware: its device cookie, and warm caches.
    full = new_client(base)
    for browser in browsers * 2:
        log_in(full, browser)

    from bibid.common.serving import settle_heap

    settle_heap()  # what a web worker does once it has loaded the application

    variants: dict[str, TestClient] = {ALL: full}
    broken: dict[str, str] = {}
    for name in base:
        try:
            client = new_client([m for m in base if m != name])
            for browser in browsers[:3]:
                log_in(client, browser)
        except Exception as exc:  # reported: that middleware cannot go
            broken[name] = f"{type(exc).__name__}: {str(exc)[:90]}"
            continue
        variants[name] = client

    # Each variant is measured against logins with every middleware taken in turn with it,
    # one login each (which goes first alternates), so that both see the same moment of a
    # machine whose speed drifts; the variants' order rotates from round to round.
    times: dict[str, list[float]] = {name: [] for name in variants}
    paired: dict[str, list[float]] = {name: [] for name in variants if name != ALL}
    order = list(paired)
    turn = 0
    for number in range(args.rounds):
        shift = number % len(order)
        for name in order[shift:] + order[:shift]:
            for i in range(args.per_round):
                for which in (ALL, name) if i % 2 == 0 else (name, ALL):
                    spent = log_in(variants[which], browsers[turn % len(browsers)])
                    (paired[name] if which == ALL else times[name]).append(spent)
                    turn += 1
    times[ALL] = [t for values in paired.values() for t in values]

    # cProfile of logins with every middleware.
    profiler = cProfile.Profile()
    profiled = 0.0
    for i in range(args.profiled):
        profiled += log_in(full, browsers[i % len(browsers)], profiler)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    parts = profile_parts(stats.stats, base, args.profiled, verify)  # type: ignore[attr-defined]
    hash_ms = cum_code(stats.stats, verify) / args.profiled * 1000  # type: ignore[attr-defined]
    print(
        json.dumps(
            {
                "middleware": base,
                "medians": {name: statistics.median(v) * 1000 for name, v in times.items()},
                "counts": {name: len(v) for name, v in times.items()},
                "paired": {name: statistics.median(v) * 1000 for name, v in paired.items()},
                "broken": broken,
                "profiled_outside_ms": profiled / args.profiled * 1000,
                "profiled_hash_ms": hash_ms,
                "parts": parts,
            }
        )
    )
    return 0


def _file(module: str) -> str:
    import importlib

    return importlib.import_module(module).__file__ or ""


def _key(stats: dict, function) -> tuple | None:
    code = function.__code__
    wanted = (code.co_filename, code.co_firstlineno, code.co_name)
    return wanted if wanted in stats else None


def cum_code(stats: dict, function) -> float:
    """Cumulative seconds of one function (cProfile counts a recursive call once)."""
    key = _key(stats, function)
    return stats[key][3] if key else 0.0


def own_call(stats: dict, call, inner) -> float:
    """A middleware's own __call__ less what it wraps: Django hands each middleware the next
    one wrapped in convert_exception_to_response's `inner`, whose time called from this
    __call__ is the rest of the chain."""
    key, wrapped = _key(stats, call), _key(stats, inner)
    if key is None:
        return 0.0
    rest = stats[wrapped][4].get(key, (0, 0, 0.0, 0.0))[3] if wrapped else 0.0
    return stats[key][3] - rest


def profile_parts(stats: dict, middleware: list[str], logins: int, verify) -> dict[str, float]:
    """ms per login (profiled) of each part, by cumulative time."""
    from importlib import import_module

    from django.core.handlers.exception import convert_exception_to_response
    from django.utils.deprecation import MiddlewareMixin

    inner = convert_exception_to_response(lambda request: None)  # its `inner` closure

    def cum(filename: str, *names: str) -> float:
        return sum(
            entry[3]
            for (file, _, name), entry in stats.items()
            if file == filename and name in names
        )

    parts: dict[str, float] = {}
    hooks = ("process_request", "process_view", "process_response", "process_exception")
    for path in middleware:
        cls = getattr(import_module(path.rsplit(".", 1)[0]), short(path))
        own = sum(cum_code(stats, getattr(cls, hook)) for hook in hooks if hasattr(cls, hook))
        if cls.__call__ is not MiddlewareMixin.__call__:
            own += own_call(stats, cls.__call__, inner)
        parts[f"middleware {short(path)}"] = own
    csrf = _file("django.middleware.csrf")
    parts["CSRF rotation at login (rotate_token)"] = cum(csrf, "rotate_token")
    device = _file("bibid.identity.signin.device")
    parts["device cookie (device.read + device.remember)"] = cum(device, "read", "remember")
    parts["signing.dumps/loads (device cookie, session data)"] = cum(
        _file("django.core.signing"), "dumps", "loads"
    )
    sessions = _file("django.contrib.sessions.backends.db")
    ours = _file("bibid.common.sessions")
    parts["session store (load + save)"] = cum(sessions, "load") + cum(ours, "save")
    parts["auth.login (key cycle, rotate_token, signal)"] = cum(
        _file("django.contrib.auth"), "login"
    )
    parts["form validation (full_clean)"] = cum(_file("django.forms.forms"), "full_clean")
    parts["template rendering (shortcuts.render)"] = cum(_file("django.shortcuts"), "render")
    hashed = cum_code(stats, verify)
    flow = _file("bibid.identity.signin.flow")
    parts["sign-in flow less the hash (guard, SQL, audit)"] = cum(flow, "sign_in") - hashed
    from django.test.client import ClientHandler

    server = cum_code(stats, ClientHandler.__call__) - hashed
    parts[SERVER] = server
    return {name: seconds / logins * 1000 for name, seconds in parts.items()}


# -- the parent ----------------------------------------------------------------------------


def run_child(args: argparse.Namespace) -> dict:
    lines = run_identity_child(
        __file__,
        [
            "--child",
            f"--rounds={args.rounds}",
            f"--per-round={args.per_round}",
            f"--profiled={args.profiled}",
        ],
    )
    return json.loads(lines[-1])


def report(result: dict, args: argparse.Namespace) -> None:
    medians, counts, broken = result["medians"], result["counts"], result["broken"]
    total = medians[ALL]
    scale = total / result["profiled_outside_ms"]
    print(
        f"\nForm login in-process (GET {LOGIN_PATH} + POST, fresh browser with its device "
        f"cookie), CPU outside the hash:\nmedian {total:.2f} ms per login with every "
        f"middleware ({counts[ALL]} logins in {args.rounds} rounds); profiled: "
        f"{result['profiled_outside_ms']:.2f} ms (cProfile slows it by {1 / scale:.2f}x), "
        f"hash {result['profiled_hash_ms']:.1f} ms"
    )
    head = f"{'part':<52}{'ms/login':>10}{'share':>8}  method"
    print(f"\n{head}\n{'-' * len(head)}")
    for path in result["middleware"]:
        name = f"middleware {short(path)}"
        profiled = result["parts"][name] * scale
        if path in medians:
            cost = result["paired"][path] - medians[path]
            print(f"{name:<52}{cost:>10.2f}{cost / total:>8.1%}  left out (median difference)")
            name = "    the same, by cProfile"
        print(f"{name:<52}{profiled:>10.2f}{profiled / total:>8.1%}  cProfile")
    for name, ms in result["parts"].items():
        if name.startswith("middleware "):
            continue
        cost = ms * scale
        print(f"{name:<52}{cost:>10.2f}{cost / total:>8.1%}  cProfile")
    client = result["profiled_outside_ms"] - result["parts"][SERVER]
    cost = client * scale
    print(
        f"{'test client (not a server): the rest':<52}{cost:>10.2f}{cost / total:>8.1%}  cProfile"
    )
    for path, why in broken.items():
        print(f"left out, {short(path)} breaks the login: {why[:100]}")
    print(
        "\nleft out: median(all) - median(without it), logins taking turns one by one; "
        "cProfile: cumulative time per login\nas a share of the profiled outside-the-hash "
        "time, times the unprofiled median. Parts overlap (auth.login includes\nthe CSRF "
        "rotation and the session's key cycle; the session middleware's hooks include the "
        "session store)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds of all the variants")
    parser.add_argument("--per-round", type=int, default=25, help="logins per variant per round")
    parser.add_argument("--profiled", type=int, default=100, help="logins under cProfile")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    result = run_child(args)
    report(result, args)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
