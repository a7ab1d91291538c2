"""Structured logs: the logging configuration, one line per request and one per task run, each
with the request id (bibid.common.requestid)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.functional import empty

from . import requestid

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

# Settings import this module (for `config`): the metrics (prometheus_client) are imported
# only when a request or task is handled, so a settings import stays light.

request_log = logging.getLogger("bibid.request")
task_log = logging.getLogger("bibid.task")

# Methods outside this set are counted and logged as "other": the method is a label of the
# latency histogram, and a client must not be able to mint new time series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def config(*, service: str, fmt: str, debug: bool) -> dict[str, Any]:
    """The LOGGING setting: `fmt` is "json" (one JSON object a line) or "plain"."""
    filters = {
        "request_id": {"()": "bibid.common.requestid.RequestIdFilter"},
        "no_paths": {"()": "bibid.common.logs.RoutesNotPathsFilter"},
    }
    formatters = {
        "plain": {
            "format": f"%(asctime)s %(levelname)s {service} %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "static_fields": {"service": service},
            # ISO 8601 in UTC with microseconds, what log collectors parse without help.
            "timestamp": "time",
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": filters,
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt == "json" else "plain",
                "filters": ["request_id", "no_paths"],
            }
        },
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            # Never log request bodies or query parameters: they may carry passwords. Our
            # own line per request (bibid.request) says what an operator needs.
            "django.request": {"level": "WARNING" if not debug else "INFO"},
            # django-tasks-db says "Task id=… state=…" at start and end of every run; our
            # line per run (bibid.task) says the same with the duration and outcome.
            "django_tasks_db": {"level": "WARNING"},
            "django.tasks": {"level": "WARNING"},
            # APScheduler says "Running job …" and "… executed successfully" for every job
            # (with several nodes, the scheduler lock's renewal every 5 s); bibid.task says
            # "task … enqueued" for each job it starts.
            "apscheduler": {"level": "WARNING"},
            # gunicorn's access log writes the raw request line (with its query string) and
            # the Referer: an authorization code, an id_token_hint or a reset token would end
            # up in the log. Our line per request replaces it, so it is switched off here,
            # whatever the command line says.
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def _route(request: HttpRequest) -> str:
    """The URL pattern's name, never the path itself: paths can hold secrets (a password
    reset link carries its token), and raw paths would make the histogram unbounded."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match.route or "unnamed"
    static = getattr(settings, "STATIC_URL", None) or "/static/"
    if request.path.startswith(static):
        return "static"
    return "unmatched"


def _user_kind(request: HttpRequest) -> str:
    """Who made the request, only if the view already looked (never a session read for it)."""
    user = request.__dict__.get("user")
    if user is None:
        return "-"
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:
        return "-"
    if not getattr(wrapped, "is_authenticated", False):
        return "anonymous"
    return "staff" if getattr(wrapped, "is_staff", False) else "user"


class RoutesNotPathsFilter(logging.Filter):
    """Django's own lines about a response ("Not Found: /path", "Gone: /path", CSRF
    refusals) name the request's path; a path can hold a token (a used or expired reset
    link answers 410), so the path is replaced by the route's name. The request object they
    carry goes too: the JSON formatter would write its repr, path and all."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.__dict__.pop("request", None)
        if request is None:
            return True
        route = _route(request)
        record.route = route
        path = getattr(request, "path", None)
        if path and isinstance(record.args, tuple):
            record.args = tuple(route if arg == path else arg for arg in record.args)
        return True


class RequestIdMiddleware:
    """Outermost middleware: takes over a sane incoming X-Request-ID or makes one, keeps it
    for the request's log lines and outgoing calls, returns it on the response, and writes
    one log line and one latency observation per request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        from . import metrics

        self.latency = metrics.REQUEST_LATENCY
        self.service = getattr(settings, "SERVICE", "-")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        with requestid.bound(request.META.get(requestid.META_KEY)) as rid:
            request.request_id = rid
            response = self.get_response(request)
            response[requestid.HEADER] = rid
            seconds = time.perf_counter() - started
            method = request.method if request.method in METHODS else "other"
            route = _route(request)
            status = response.status_code
            self.latency.labels(self.service, method, route, f"{status // 100}xx").observe(seconds)
            # No query string, body, cookies or headers: any of them may hold a password,
            # a token or a code. The route name says what was asked.
            request_log.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                seconds * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "user": _user_kind(request),
                },
            )
        return response


# ---- task runs ------------------------------------------------------------------------------

_running: dict[str, tuple[Any, float]] = {}


def _task_name(task_result) -> str:
    try:
        return task_result.task.name
    except Exception:  # an unimportable task still gets its line
        return "unknown"


def task_enqueued(sender, task_result, **kwargs) -> None:
    """The request (or task) that enqueued a task says so, under its own request id: the
    task runs under the task's id, so the two lines link the request to the run."""
    task_log.info(
        "task %s enqueued as %s",
        _task_name(task_result),
        task_result.id,
        extra={"task": _task_name(task_result), "task_id": str(task_result.id)},
    )


def task_started(sender, task_result, **kwargs) -> None:
    # django.tasks keeps no metadata beside a task's arguments, so the enqueuing request's
    # id cannot travel with it cheaply; the run uses the task's id as its request id (the
    # "enqueued" line above ties the two together) and sends it on in its own calls.
    token = requestid._current.set(str(task_result.id))
    _running[str(task_result.id)] = (token, time.perf_counter())


def task_finished(sender, task_result, **kwargs) -> None:
    token, started = _running.pop(str(task_result.id), (None, None))
    name = _task_name(task_result)
    outcome = "failed" if str(task_result.status) == "FAILED" else "ok"
    from . import metrics

    metrics.TASKS.labels(name, outcome).inc()
    duration = round((time.perf_counter() - started) * 1000, 1) if started else None
    task_log.log(
        logging.ERROR if outcome == "failed" else logging.INFO,
        "task %s %s in %sms",
        name,
        outcome,
        duration,
        extra={
            "task": name,
            "task_id": str(task_result.id),
            "outcome": outcome,
            "duration_ms": duration,
        },
    )
    if token is not None:
        try:
            requestid._current.reset(token)
        except ValueError:  # finished in another context than it started: leave it
            requestid._current.set(None)


def connect_task_signals() -> None:
    from django.tasks.signals import task_enqueued as enqueued
    from django.tasks.signals import task_finished as finished
    from django.tasks.signals import task_started as started

    enqueued.connect(task_enqueued, dispatch_uid="bibid.logs.task_enqueued")
    started.connect(task_started, dispatch_uid="bibid.logs.task_started")
    finished.connect(task_finished, dispatch_uid="bibid.logs.task_finished")
