"""Prometheus metrics of the three services: counters the code increments, and queue gauges
computed from the database at scrape time.

Several processes serve one service (gunicorn workers, the task worker, the scheduler), so
counters use prometheus_client's multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set
(`bibid up` sets it to var/metrics/<service>/, emptied at start; see `multiproc_env`): each
process writes its own memory-mapped file and a scrape adds them up. The variable must be set
before prometheus_client is imported, which is why the launcher sets it and this module never
does. Without it (unit tests, a management command) counters live in the process.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger("bibid.metrics")

# ---- counters -------------------------------------------------------------------------------

SIGNINS = Counter("bibid_signins", "Sign-in attempts by outcome.", ["outcome"])
GUARD_REFUSALS = Counter(
    "bibid_guard_refusals",
    "Attempts the guard refused (rate limits, lanes), by reason.",
    ["reason"],
)
REQUEST_LATENCY = Histogram(
    "bibid_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name (never the raw path) and status class.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BACKCHANNEL_LOGOUTS = Counter(
    "bibid_backchannel_logouts",
    "Back-channel logout notices to services, by outcome.",
    ["outcome"],
)
MAILS = Counter("bibid_mails", "Mails from the outbox, by outcome (sent, failed).", ["outcome"])
DIAGNOSES = Counter(
    "bibid_diagnoses", "Helpdesk diagnoses, by the finding code of the cause.", ["cause"]
)
TASKS = Counter("bibid_tasks", "Background task runs, by task and outcome.", ["task", "outcome"])
# Incremented by the library's login-account code (bibid.library.loginaccounts).
PUSH_RETRIES = Counter(
    "bibid_push_retries", "Pushes to the login service that failed and will be retried."
)
REPAIRS = Counter(
    "bibid_repairs",
    "Differences with the login service repaired, by how and what.",
    ["via", "kind"],
)
# Incremented by load shedding (bibid.common.shedding) in the web worker that refused: a
# counter here, not a collector reading shedding.refused_total(), because that total is one
# process's and a scrape must add up every worker's.
SHED_REFUSALS = Counter(
    "bibid_shed_requests",
    "Requests refused at once (503) because the service was full, by reason.",
    ["reason"],
)
# The library's parse of identity's answers (bibid.library.loginaccounts.status): non-zero
# means the two services disagree on a shape (an upgrade of one without the other).
UNEXPECTED_ANSWERS = Counter(
    "bibid_unexpected_answers",
    "Answers of another service refused because their shape was not the agreed one.",
    ["operation"],
)
UNCERTAIN_OPERATIONS = Counter(
    "bibid_uncertain_operations",
    "Operations whose outcome was unknown after a timeout, by how they were settled.",
    ["outcome"],
)

# ---- queues (gauges at scrape time) ---------------------------------------------------------

QueueProbe = Callable[[], tuple[int, float | None]]
_QUEUES: dict[str, QueueProbe] = {}


def register_queue(name: str, probe: QueueProbe) -> None:
    """Add a queue to the gauges and to readiness.

    `probe()` returns (depth, age in seconds of the oldest item that is due, or None when
    nothing is due). Call it from an AppConfig.ready; registering a name again replaces it."""
    _QUEUES[name] = probe


def queues() -> dict[str, QueueProbe]:
    return dict(_QUEUES)


def queue_states() -> dict[str, tuple[int, float | None] | None]:
    """Each registered queue's (depth, oldest due age), or None where the probe failed."""
    states: dict[str, tuple[int, float | None] | None] = {}
    for name, probe in sorted(_QUEUES.items()):
        try:
            states[name] = probe()
        except Exception:  # one broken probe must not hide the other queues
            logger.exception("queue probe failed", extra={"queue": name})
            states[name] = None
    return states


def model_probe(
    model_label: str, *, waiting: dict, since: str, real_time: bool = False
) -> QueueProbe:
    """A probe for a queue kept as rows of a model: how many rows match `waiting` (filter
    keyword arguments), and how long ago (field `since`) the oldest of them was made. The age
    runs from when the item was made, not from its next attempt, so a queue that keeps
    failing grows older steadily instead of looking fresh after each retry.

    `real_time`: the rows are stamped with Django's real clock (django-tasks-db), not with
    bibid's clock (which tests move): the age must be measured with the clock that stamped
    them, or a moved test clock makes a fresh task look stuck."""

    def probe() -> tuple[int, float | None]:
        from django.apps import apps
        from django.db.models import Count, Min
        from django.utils import timezone

        from bibid.common import clock

        model = apps.get_model(model_label)
        found = model.objects.filter(**waiting).aggregate(n=Count("pk"), oldest=Min(since))
        oldest = found["oldest"]
        now = timezone.now() if real_time else clock.now()
        age = max(0.0, (now - oldest).total_seconds()) if oldest else None
        return found["n"], age

    return probe


def task_queue_probes() -> dict[str, QueueProbe]:
    """The task queue (django-tasks-db): tasks due and waiting for a worker, and tasks
    running (one running far longer than any task should is held by a dead worker)."""

    def ready() -> tuple[int, float | None]:
        from django.db.models import Q
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult, get_date_max

        # django-tasks-db stamps enqueued_at and run_after with Django's real clock.
        now = timezone.now()
        due = DBTaskResult.objects.filter(status="READY").filter(
            Q(run_after=get_date_max()) | Q(run_after__lte=now)
        )
        depth = due.count()
        if not depth:
            return 0, None
        # A delayed task is waiting from its run_after on, any other from when enqueued.
        oldest = [
            due.filter(run_after=get_date_max())
            .order_by("enqueued_at")
            .values_list("enqueued_at", flat=True)
            .first(),
            due.exclude(run_after=get_date_max())
            .order_by("run_after")
            .values_list("run_after", flat=True)
            .first(),
        ]
        since = min(t for t in oldest if t is not None)
        return depth, max(0.0, (now - since).total_seconds())

    return {
        "tasks": ready,
        "tasks_running": model_probe(
            "django_tasks_database.DBTaskResult",
            waiting={"status": "RUNNING"},
            since="started_at",
            real_time=True,
        ),
    }


class QueueCollector:
    """Depth and oldest age of every registered queue, read from the database when scraped,
    so the figures are right whichever process answers the scrape."""

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "bibid_queue_depth", "Items waiting in a queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "bibid_queue_oldest_age_seconds",
            "Age of the oldest due item in a queue (0 when nothing is due).",
            labels=["queue"],
        )
        for name, state in queue_states().items():
            if state is None:
                continue
            depth.add_metric([name], state[0])
            age.add_metric([name], state[1] or 0.0)
        yield depth
        yield age


class _Scrape:
    def __init__(self, collectors: Iterable) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape_registry() -> _Scrape:
    """What one scrape reports: every process's counters plus the database gauges."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        base = CollectorRegistry()
        MultiProcessCollector(base, path=path)
    else:
        base = REGISTRY
    return _Scrape([base, QueueCollector()])


# ---- process bookkeeping ----------------------------------------------------------------------


def multiproc_dir(service: str) -> Path:
    from .settings import var_dir

    return var_dir() / "metrics" / service


def multiproc_env(service: str) -> dict[str, str]:
    """Empty var/metrics/<service>/ and return the environment that points a service's
    processes at it. Call once when the whole service starts (not when one process is
    restarted): the files of processes that are gone still hold counts a scrape must add."""
    path = multiproc_dir(service)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(path)}


def child_exit(server, worker) -> None:
    """gunicorn hook: forget a dead worker's live gauges (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(worker.pid)
