"""How one service's web processes are started (gunicorn), in one place.

`bibid up` (and anything else that starts the web servers) asks this module for the command
line, so that the server's options (workers, threads, timeouts, load shedding) are decided
here and nowhere else.

`Worker` is the gunicorn worker class the command selects: the load-shedding gthread worker
(bibid.common.shedding), answering the requests gunicorn refuses before any application code
runs (a request line or header over gunicorn's limits) with a problem document like every
other error of ours, instead of gunicorn's own HTML page.
"""

from __future__ import annotations

import gc
import json
import sys
from typing import Any

from django.utils.translation import gettext_lazy as _
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.util import write_nonblock

from bibid.common.problems import Problem
from bibid.common.shedding import ThreadWorker

# What gunicorn refuses while reading a request, before Django sees it; everything else it
# refuses (malformed lines, bad chunking) keeps gunicorn's own answer. gunicorn's limits stay
# as they are: 4,094 bytes for the request line, 8,190 per header line, 100 headers
# (limit_request_line, limit_request_field_size, limit_request_fields).
_REFUSALS: dict[type, tuple[Problem, str]] = {
    LimitRequestLine: (
        Problem(
            414,
            "request_line_too_long",
            _("Het webadres is te lang. Gebruik een korter adres of ga terug naar het begin."),
        ),
        "URI Too Long",
    ),
    LimitRequestHeaders: (
        Problem(
            431,
            "request_headers_too_large",
            _(
                "Je browser stuurde te veel of te grote gegevens mee (bijvoorbeeld cookies). "
                "Verwijder de cookies van deze site en probeer het opnieuw."
            ),
        ),
        "Request Header Fields Too Large",
    ),
}


def refusal_bytes(exc: BaseException) -> bytes | None:
    """The whole HTTP response for a request gunicorn refused with `exc`, or None when it is
    not one of ours to answer.

    The request was not read (its line or headers were too long), so there is no
    Accept-Language to go by: the detail is Dutch and `messages` carries both languages,
    as in every problem document of ours."""
    for kind, (problem, reason) in _REFUSALS.items():
        if isinstance(exc, kind):
            body = json.dumps(problem.as_json(language="nl")).encode()
            head = (
                f"HTTP/1.1 {problem.status} {reason}\r\n"
                "Connection: close\r\n"
                "Content-Type: application/problem+json\r\n"
                # The same two protections our Django responses carry: no sniffing the
                # type, and no cache keeping an answer about one request for another.
                "X-Content-Type-Options: nosniff\r\n"
                "Cache-Control: no-store\r\n"
                f"Content-Length: {len(body)}\r\n"
                "\r\n"
            )
            return head.encode("latin-1") + body
    return None


class Worker(ThreadWorker):
    """The load-shedding gthread worker, answering gunicorn's own refusals as problems."""

    def load_wsgi(self) -> None:
        super().load_wsgi()
        settle_heap()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        answer = refusal_bytes(exc)
        if answer is None:
            super().handle_error(req, client, addr, exc)
            return
        # Sizes only: the line itself (query string included) may hold codes or tokens,
        # and gunicorn's own warning would name the client's address.
        self.log.warning("refused before the application: %s", exc)
        try:
            write_nonblock(client, answer)
        except OSError:
            self.log.debug("the client left before the refusal was sent")


def settle_heap() -> None:
    """Move everything the process holds after loading the application out of the cyclic
    garbage collector's reach (gc.freeze), after one last collection.

    Why: Django, its apps, models, URL patterns and translations are some hundreds of
    thousands of objects that live as long as the process; every full collection walked all
    of them again, about a tenth of a second each, and a busy worker runs one every few
    hundred requests (bench/oidc.py: 1.5 ms of collector per sign-in before, 0.3 ms after).
    Frozen objects are never collected, so nothing is lost that could be freed: they were
    going to live until the process ends anyway. The collect first keeps the garbage left by
    loading from being frozen with them."""
    gc.collect()
    gc.freeze()


def memory_env() -> dict[str, str]:
    """The environment that keeps a web process's memory near what it uses.

    Every password check allocates Argon2id's 19 MiB block. glibc's malloc gives every thread
    that allocates at the same time as another an arena of its own, and keeps a freed block in
    its arena: a worker of 4 threads held one block per thread, about 200 MB RSS after
    sign-ins (bench/cluster.py). One arena lets the threads reuse the blocks freed by each
    other (bench/malloc.py: 42-61 MB against 137 MB, 4 threads, CPU per check unchanged).
    A fixed MALLOC_MMAP_THRESHOLD_ returned every block instead (42 MB) but cost 20-35 %
    more CPU per check, each block's pages faulted in afresh: fewer sign-ins per core.
    Python's own small objects come from its own allocator, under the GIL, so one arena
    adds no waiting there."""
    return {"MALLOC_ARENA_MAX": "1"}


def web_command(service: str, *, bind: str, port: int, workers: int, threads: int) -> list[str]:
    """The command that serves `service` over HTTP on bind:port."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        f"bibid.{service}.wsgi:application",
        "--bind",
        f"{bind}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        # gthread, stamping how long each request waited for a thread, so that the load
        # shedding wrapper (bibid.common.shedding) can refuse what waited too long, and
        # answering over-long request lines and headers with a problem document (Worker).
        "bibid.common.serving.Worker",
        "--threads",
        str(threads),
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        # No gunicorn access log: it writes the raw request line, query string included
        # (authorization codes, reset tokens); our own line per request names the route
        # (bibid.common.logs), and LOGGING silences gunicorn.access as well.
        "--name",
        f"bibid-{service}",
    ]
