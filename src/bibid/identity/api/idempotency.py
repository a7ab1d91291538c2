"""Idempotency keys: a retried request (after a timeout) gets the first answer, not a second
account. Follows the IETF draft "The Idempotency-Key HTTP Header Field"."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from ninja import Status

from bibid.common import clock
from bibid.common.problems import Problem, problem_or_json
from bibid.identity.libraries.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
# A key whose first request never finished (its process was killed): the operation and the
# stored answer commit together, so an unfinished key means nothing was done, and after this
# long (more than the web server's 30 s request timeout) a retry may run it. Before that, a
# retry hears 409 "still running", never a second execution beside the first.
ABANDONED_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 200


def _fingerprint(request: HttpRequest) -> str:
    """The request's method, path and body; a JSON body in canonical form, so that the same
    request sent again with its keys in another order (a client that kept it in a database
    whose JSON type reorders keys, as PostgreSQL's jsonb does) is still the same request."""
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(_canonical(request.body))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def run(request: HttpRequest, operation: Callable[[], tuple[int, dict]]):
    """Run a changing operation once per key; replay its answer for the same key and body.

    Without the header the operation simply runs. The same key with another request body is
    refused (422); the same key while the first request still runs gets 409.

    The operation's changes and its stored answer are committed in one transaction: after a
    crash either both are there (a retry gets the answer) or neither (a retry runs it). So a
    library that timed out can always learn the truth by sending the same request again.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return _respond(*_answer(operation))
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400,
            "invalid_idempotency_key",
            _("De Idempotency-Key moet 1 tot 200 leesbare tekens zijn."),
            field=HEADER,
        )
    library = request.library
    fingerprint = _fingerprint(request)
    IdempotentRequest.objects.filter(library=library, created_at__lt=clock.now() - KEEP).delete()
    slot = _claim(library, key, fingerprint)
    if not isinstance(slot, IdempotentRequest):
        return slot  # the earlier answer, replayed
    try:
        with transaction.atomic():
            status, body, headers = _answer(operation)
            if status < 400:
                slot.status = status
                slot.body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
                slot.save(update_fields=["status", "body"])
    except Exception:
        _release(slot)  # an unexpected failure rolled everything back: a retry runs it again
        raise
    if status >= 400:
        # A refusal changed nothing: forget the key, so that the retry after the cause is
        # fixed (the customer linked, the address set) runs the operation for real.
        _release(slot)
    return _respond(status, body, headers)


def _claim(library, key: str, fingerprint: str):
    """The key's slot for this request, or the answer to give instead (a replay)."""
    for _attempt in (1, 2):
        try:
            with transaction.atomic():
                return IdempotentRequest.objects.create(
                    library=library, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            earlier = IdempotentRequest.objects.filter(library=library, key=key).first()
        if earlier is None:
            continue  # released meanwhile: claim it now
        if earlier.fingerprint != fingerprint:
            raise Problem(
                422,
                "idempotency_key_reused",
                _("Deze Idempotency-Key is al gebruikt voor een ander verzoek."),
                field=HEADER,
            )
        if earlier.status is not None:
            replayed = {"Idempotent-Replayed": "true"}
            return problem_or_json(earlier.body, earlier.status, headers=replayed)
        if earlier.created_at > clock.now() - ABANDONED_AFTER:
            raise Problem(
                409,
                "request_in_progress",
                _("Hetzelfde verzoek wordt nog verwerkt. Probeer het zo opnieuw."),
                extra={"retry_after": int(ABANDONED_AFTER.total_seconds())},
            )
        # Abandoned: its work was rolled back with it (see ABANDONED_AFTER). Take it over,
        # unless another retry did so first.
        IdempotentRequest.objects.filter(pk=earlier.pk, status__isnull=True).delete()
    raise Problem(
        409,
        "request_in_progress",
        _("Hetzelfde verzoek wordt nog verwerkt. Probeer het zo opnieuw."),
    )


def _release(slot: IdempotentRequest) -> None:
    IdempotentRequest.objects.filter(pk=slot.pk, status__isnull=True).delete()


def _respond(status: int, body: dict, headers: dict | None = None):
    """Successes go back to the framework (validated against the response schema);
    problems are sent as application/problem+json, with their headers (Retry-After)."""
    if status >= 400:
        return problem_or_json(body, status, headers=headers or None)
    return Status(status, body)


def _answer(operation: Callable[[], tuple[int, dict]]) -> tuple[int, dict, dict]:
    try:
        status, body = operation()
        return status, body, {}
    except Problem as problem:
        language = (get_language() or "nl")[:2]
        return problem.status, problem.as_json(language=language), problem.headers
