"""Views every service has: health checks and friendly error pages."""

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches nothing else, so it never flaps with the DB."""
    return JsonResponse({"status": "ok"})


def stuck_after_seconds() -> int:
    """BIBID_STUCK_QUEUE_SECONDS (default 900); 0 turns the queue check off."""
    from .settings import env

    return env.int("BIBID_STUCK_QUEUE_SECONDS", default=900)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers a query, and no queue is stuck (its oldest item
    waits longer than BIBID_STUCK_QUEUE_SECONDS). The stuck queues are named in the answer.

    A stuck queue usually means a worker is gone or a service it talks to is down: the web
    pages still work, but an operator must look. A load balancer that routes on this check
    would take the service out for it; such a setup sets BIBID_STUCK_QUEUE_SECONDS=0."""
    from . import metrics

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not ready"; the reason goes to the log
        logging.getLogger("bibid.health").exception("readiness check failed")
        return JsonResponse({"status": "unavailable", "database": "error"}, status=503)
    limit = stuck_after_seconds()
    if limit <= 0:
        return JsonResponse({"status": "ok", "database": "ok"})
    queues, stuck = {}, []
    for name, state in metrics.queue_states().items():
        if state is None:
            queues[name] = {"error": True}
            continue
        depth, age = state
        queues[name] = {"depth": depth, "oldest_age_seconds": round(age or 0)}
        if age is not None and age > limit:
            stuck.append(name)
    if not stuck:
        return JsonResponse({"status": "ok", "database": "ok"})
    return JsonResponse(
        {
            "status": "unavailable",
            "database": "ok",
            "stuck": stuck,
            "stuck_after_seconds": limit,
            "queues": queues,
        },
        status=503,
    )


def _metrics_allowed(request: HttpRequest) -> bool:
    """Who may read /metrics.

    With BIBID_METRICS_TOKEN set: whoever sends it as a bearer token, compared in constant
    time (no timing oracle on the token). In demo mode without a token: only a client on the
    loopback address, because the demo binds to 127.0.0.1 and a demo started with another
    --bind must not show its figures to the network. Outside demo mode without a token the
    endpoint does not exist (404): the figures (sign-in failures, queue sizes) tell an
    attacker how the service fares, so they are never open by default."""
    token = getattr(settings, "BIBID_METRICS_TOKEN", None)
    if token is None:
        from .settings import env

        token = env.str("BIBID_METRICS_TOKEN", default="")
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return False
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if getattr(settings, "BIBID_DEMO", False):
        try:
            return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
        except ValueError:
            return False
    raise Http404


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of this service (every process's counters, the queue gauges)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from . import metrics

    if not _metrics_allowed(request):
        response = JsonResponse({"error": "unauthorized"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(
        generate_latest(metrics.scrape_registry()), content_type=CONTENT_TYPE_LATEST
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A page a patron can act on, instead of Django's developer page (reason is not shown)."""
    return render(request, "bibid/csrf_failure.html", status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "bibid/error.html", {"status": 400}, status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "bibid/error.html", {"status": 403}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "bibid/error.html", {"status": 404}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "bibid/error.html", {"status": 500}, status=500)
