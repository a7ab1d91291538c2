"""Load shedding: each web process refuses, at once and cheaply, the work it cannot do in time.

Past its capacity a service that only queues makes everybody wait: at 200 concurrent patrons
identity answered sign-ins after 12.7 s (p99) and the library took the slow identity for a
dead one (issue 13, fault 5). A quick refusal ("busy, try again in 2 s") is better for the
patron, who can retry, and for the library, which can tell "busy" from "down".

Where requests wait. gunicorn's gthread worker accepts every connection (up to
`worker_connections`, 1,000) and hands it to a thread pool whose queue has no bound and is
invisible to the WSGI application: by the time Django sees a request it may have waited
seconds. gunicorn has no setting for a queue deadline (benoitc/gunicorn#1492, #2260), and we
found no well-kept WSGI package for it, so this module is the small mechanism, in two parts:

* `ThreadWorker`, a gthread worker that stamps each connection when it is handed to the pool
  and tells the application, in `environ["bibid.queue_wait"]`, how long the request waited
  there (two clock reads per request). `web_command` (common/serving.py) selects it.
* `Shedder`, a WSGI wrapper (the three wsgi.py files) that refuses a request whose wait was
  too long, before any Django code runs, and optionally bounds the requests doing work.

The deadline adapts, CoDel-style (Nichols & Jacobson, "Controlling Queue Delay", 2012, as
Facebook applies it to server queues: "Fail at Scale", 2015). While requests leave the queue
within `BIBID_SHED_TARGET_MS`, a burst may wait up to `BIBID_MAX_WAIT_MS`: nobody is refused
for a moment's crowd. Once every request for `BIBID_SHED_INTERVAL_MS` has waited longer than
the target, the queue is standing (more arrives than the process can do) and the deadline
drops to the target: older requests are refused in about a millisecond each, the queue
shrinks to what can be served in time, and the requests that are accepted stay fast.

Why this design and not the others (measured with bench/overload.py; figures in
bench/README.md):

(a) Only a wrapper, with a bounded number of working requests (`BIBID_MAX_ACTIVE`) and a
    waiting room with a deadline, served by more threads than working slots. It sees only the
    requests that already have a thread, so gunicorn's own queue must be kept empty by giving
    it many threads, and each thread that ever ran Django keeps a database connection
    (CONN_MAX_AGE): 16 threads x 2 workers x 3 services is 96 PostgreSQL connections where
    CI has 200 for everything. Measured with 8 threads and 4 slots per worker it did no
    better (accepted p99 at 5x 1.26 s; (b) 0.61-0.86 s). Fewer slots than threads (2 of 4)
    gave about the same accepted latency as (b) at 5x (p99 0.57-0.64 s against 0.61-0.64 s)
    but refused sign-ins a closed loop of 8 patrons should get (125-151 in 10 s), because
    gunicorn spreads connections over its workers unevenly. So it stays available
    (it also bounds work under servers other than ours) and is off by default: the threads
    are the bound.
(b) The stamping worker with the adaptive deadline (chosen): it measures the wait where it
    happens, needs no extra threads or connections, and costs two clock reads per request.
    On the 2-core machine it kept the accepted p99 at 5x the capacity within 1.5-1.8x its
    value at 1x (target 3x), every request under 1.2 s, no errors; without it, 11.6-14.7x
    and requests of 21-22 s.
(c) Alternatives: a smaller `--backlog`/`worker_connections` only moves the queue into the
    kernel, where refused clients see connection errors and not a 503 with Retry-After; an
    adaptive-LIFO queue (serve the newest first under overload) would need gunicorn's thread
    pool replaced, more code for a gain the measurements do not ask for.

/healthz, /readyz and /metrics are never refused: an operator (and a load balancer) must see
a busy service as alive. The refusal texts are a plain Dutch/English dict chosen from the
language cookie or Accept-Language, not gettext: the wrapper runs before Django's i18n
middleware, and a refusal must cost no Django work.

`refused_total()` is a process-local counter other code (metrics) reads. Refusals are logged
at most once a second per process, as a count.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.translation.trans_real import parse_accept_lang_header
from gunicorn.workers import gthread

from bibid.common.problems import PROBLEM_BASE

logger = logging.getLogger("bibid.shedding")

QUEUE_WAIT_KEY = "bibid.queue_wait"  # seconds the request waited in gunicorn's thread pool queue
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/healthz/", "/readyz/", "/metrics/"})
LANGUAGE_COOKIE = re.compile(r"(?:^|;)\s*bibid_language=(nl|en)\b")  # settings.LANGUAGE_COOKIE_NAME

MESSAGES = {
    "nl": "Het is nu erg druk. Probeer het over een paar seconden opnieuw.",
    "en": "It is very busy right now. Please try again in a few seconds.",
}
TITLES = {"nl": "Even geduld", "en": "Please wait"}
HTML_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">
<h1>{title}</h1><p>{message}</p></body></html>
"""

_lock = threading.Lock()
_refused = 0


def refused_total() -> int:
    """Requests this process refused since it started (for metrics; never reset)."""
    return _refused


# -- settings ------------------------------------------------------------------------------


# Defaults measured on a 2-core machine (bench/overload.py, bench/README.md). Each can be set
# for all services (BIBID_MAX_ACTIVE) or for one (IDENTITY_MAX_ACTIVE), the latter winning.
DEFAULTS: dict[str, float] = {
    "MAX_WAIT_MS": 1000,  # a burst may wait this long for a thread
    "SHED_TARGET_MS": 50,  # ... but only this long once a queue stands
    "SHED_INTERVAL_MS": 100,  # a queue stands when every wait for this long passed the target
    "MAX_ACTIVE": 0,  # requests doing work per process; 0: the server's threads bound them
    "MAX_WAITING": 0,  # the wrapper's waiting room, when MAX_ACTIVE is set
}


def setting(name: str, service: str | None = None) -> float:
    """SERVICE_NAME, else BIBID_NAME, else the default."""
    for key in ([f"{service.upper()}_{name}"] if service else []) + [f"BIBID_{name}"]:
        if os.environ.get(key, "").strip():
            return float(os.environ[key])
    return DEFAULTS[name]


def enabled() -> bool:
    """BIBID_SHEDDING=off switches shedding off (for before/after measurements)."""
    return os.environ.get("BIBID_SHEDDING", "on").strip().lower() not in {"off", "0", "false", "no"}


# -- the wrapper ---------------------------------------------------------------------------


class Shedder:
    """WSGI wrapper: refuse with 503 + Retry-After what cannot be served in time."""

    def __init__(
        self,
        app: Callable,
        *,
        max_wait: float | None = None,
        target: float | None = None,
        interval: float | None = None,
        max_active: int | None = None,
        max_waiting: int | None = None,
        service: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app

        def pick(given: float | None, name: str, scale: float = 1.0) -> float:
            return setting(name, service) * scale if given is None else given

        self.max_wait = pick(max_wait, "MAX_WAIT_MS", 0.001)
        self.target = pick(target, "SHED_TARGET_MS", 0.001)
        self.interval = pick(interval, "SHED_INTERVAL_MS", 0.001)
        self.max_active = max_active = int(pick(max_active, "MAX_ACTIVE"))
        self.max_waiting = int(pick(max_waiting, "MAX_WAITING"))
        # Working slots only when asked for: under our gthread worker the threads already
        # bound the work, and every extra thread costs a database connection.
        self.slots = threading.BoundedSemaphore(max_active) if max_active > 0 else None
        self.clock = clock
        self._state = threading.Lock()
        self._waiting = 0
        self._above_since: float | None = None  # first of an unbroken run of slow pickups
        self._unlogged: dict[str, int] = {}
        self._last_log = 0.0

    # The adaptive deadline ------------------------------------------------------------

    def deadline(self, now: float) -> float:
        """How long a request may have waited: the target while a queue stands, else max_wait."""
        with self._state:
            standing = self._above_since is not None and now - self._above_since >= self.interval
        return min(self.target, self.max_wait) if standing else self.max_wait

    def observe(self, waited: float, now: float) -> None:
        """Feed one request's wait: a wait under the target ends a standing queue."""
        with self._state:
            if waited < self.target:
                self._above_since = None
            elif self._above_since is None:
                self._above_since = now

    # The request path -----------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in EXEMPT_PATHS:
            return self.app(environ, start_response)
        start = self.clock()
        waited = float(environ.get(QUEUE_WAIT_KEY) or 0.0)
        limit = self.deadline(start)
        if waited > limit:
            self.observe(waited, start)
            return self.refuse(environ, start_response, "waited")
        if self.slots is None:
            self.observe(waited, start)
            return self.app(environ, start_response)
        return self._call_in_slot(environ, start_response, start, waited, limit)

    def _call_in_slot(self, environ, start_response, start, waited, limit) -> Iterable[bytes]:
        # The total wait (gunicorn's queue and the waiting room) is what feeds the deadline:
        # with more threads than slots the queue stays empty and the room is where one stands.
        if self.slots.acquire(blocking=False):
            self.observe(waited, start)
        else:
            with self._state:
                full = self._waiting >= self.max_waiting
                if not full:
                    self._waiting += 1
            if full:
                return self.refuse(environ, start_response, "full")
            try:
                got = self.slots.acquire(timeout=max(0.0, limit - waited))
            finally:
                with self._state:
                    self._waiting -= 1
            now = self.clock()
            self.observe(waited + now - start, now)
            if not got:
                return self.refuse(environ, start_response, "waited")
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self.slots.release()
            raise
        return _ReleasingIterable(result, self.slots.release)

    def refuse(self, environ: dict, start_response: Callable, reason: str) -> list[bytes]:
        global _refused
        now = self.clock()
        with _lock:
            _refused += 1
        from bibid.common.metrics import SHED_REFUSALS  # all workers' sum (multiprocess)

        SHED_REFUSALS.labels(reason).inc()
        with self._state:
            self._unlogged[reason] = self._unlogged.get(reason, 0) + 1
            due = now - self._last_log >= 1.0
            if due:
                counts, self._unlogged, since = self._unlogged, {}, now - self._last_log
                self._last_log = now
        if due:
            # A count per second at most: under overload one line per refusal would add
            # disk writes to a process that is already short of time.
            logger.warning(
                "load shedding: refused %d request(s) (%s) in the last %.1f s; %d since start",
                sum(counts.values()),
                ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                min(since, 9999.0),
                _refused,
            )
        return busy_response(environ, start_response)


class _ReleasingIterable:
    """The application's response, which frees the working slot once it is sent (or closed)."""

    def __init__(self, result: Iterable[bytes], release: Callable[[], None]) -> None:
        self.result = result
        self.release = release
        self.released = False

    def __iter__(self):
        return iter(self.result)

    def close(self) -> None:
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        finally:
            if not self.released:
                self.released = True
                self.release()


# -- the answer ----------------------------------------------------------------------------


def language(environ: dict) -> str:
    """nl or en: the patron's language cookie, else Accept-Language, else Dutch."""
    if match := LANGUAGE_COOKIE.search(environ.get("HTTP_COOKIE", "")):
        return match.group(1)
    for tag, _ in parse_accept_lang_header(environ.get("HTTP_ACCEPT_LANGUAGE", "")):
        if tag.split("-")[0] in MESSAGES:
            return tag.split("-")[0]
    return "nl"


def wants_json(environ: dict) -> bool:
    """A problem document unless a browser asks for a page.

    Browsers name text/html in Accept on every navigation; programs (the library's identity
    client, OIDC clients at the token endpoint) send */* or JSON and must get the
    machine-readable "busy" they can tell from "down".
    """
    if environ.get("PATH_INFO", "").startswith("/api/"):
        return True
    return "text/html" not in environ.get("HTTP_ACCEPT", "")


def busy_response(environ: dict, start_response: Callable) -> list[bytes]:
    """503 with Retry-After: a problem document for APIs, a short page for browsers."""
    lang = language(environ)
    # A little jitter, so that refused clients that honour Retry-After do not all come back
    # in the same second and make the next crowd.
    retry_after = random.randint(1, 3)  # noqa: S311 (jitter, not a secret)
    if wants_json(environ):
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "busy",
                "title": "Busy",
                "status": 503,
                "detail": MESSAGES[lang],
                "code": "busy",
                "messages": dict(MESSAGES),
                "data": {"retry_after": retry_after},
            }
        ).encode()
        content_type = "application/problem+json"
    else:
        body = HTML_PAGE.format(lang=lang, title=TITLES[lang], message=MESSAGES[lang]).encode()
        content_type = "text/html; charset=utf-8"
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(retry_after)),
            # Never cached: a proxy must not serve "busy" after the crowd is gone.
            ("Cache-Control", "no-store"),
            ("Content-Language", lang),
            ("Vary", "Accept, Accept-Language, Cookie"),
        ],
    )
    return [body]


def wrap(app: Callable, service: str | None = None) -> Callable:
    """The service's WSGI application, with load shedding unless BIBID_SHEDDING=off."""
    return Shedder(app, service=service) if enabled() else app


# -- the gunicorn worker -------------------------------------------------------------------

_pickup = threading.local()


class ThreadWorker(gthread.ThreadWorker):
    """gthread, telling the application how long each request waited for a thread.

    The stamp is taken when a connection (new, or a kept-alive one with a new request) is
    handed to the thread pool, and read when a thread takes it up; the difference is the
    time spent in the pool's queue, which the application cannot see otherwise.
    """

    def enqueue_req(self, conn: Any) -> None:
        conn.bibid_queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        queued_at = getattr(conn, "bibid_queued_at", None)
        _pickup.waited = time.monotonic() - queued_at if queued_at is not None else 0.0
        return super().handle(conn)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def stamped(environ: dict, start_response: Callable) -> Iterable[bytes]:
            environ[QUEUE_WAIT_KEY] = getattr(_pickup, "waited", 0.0)
            _pickup.waited = 0.0  # one stamp per request; the next comes from handle()
            return app(environ, start_response)

        self.wsgi = stamped
