"""How one service's web processes are started (gunicorn), in one place.

`bibid up` (and anything else that starts the web servers) asks this module for the command
line, so that the server's options (workers, threads, timeouts, load shedding) are decided
here and nowhere else.
"""

from __future__ import annotations

import sys


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
        # shedding wrapper (bibid.common.shedding) can refuse what waited too long.
        "bibid.common.shedding.ThreadWorker",
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
