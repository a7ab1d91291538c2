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
from django.utils.translation import gettext_lazy as _
from ninja import Status

from bibid.common import clock
from bibid.common.problems import Problem, problem_or_json
from bibid.identity.libraries.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 200


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(request.body)
    return digest.hexdigest()


def run(request: HttpRequest, operation: Callable[[], tuple[int, dict]]):
    """Run a changing operation once per key; replay its answer for the same key and body.

    Without the header the operation simply runs. The same key with another request body is
    refused (422); the same key while the first request still runs gets 409.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return _respond(*_answer(operation))
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(400, "invalid_idempotency_key",
                      _("De Idempotency-Key moet 1 tot 200 leesbare tekens zijn."),
                      field=HEADER)
    library = request.library
    fingerprint = _fingerprint(request)
    IdempotentRequest.objects.filter(library=library, created_at__lt=clock.now() - KEEP).delete()
    try:
        with transaction.atomic():
            slot = IdempotentRequest.objects.create(
                library=library, key=key, fingerprint=fingerprint
            )
    except IntegrityError:
        earlier = IdempotentRequest.objects.get(library=library, key=key)
        if earlier.fingerprint != fingerprint:
            raise Problem(
                422, "idempotency_key_reused",
                _("Deze Idempotency-Key is al gebruikt voor een ander verzoek."), field=HEADER,
            ) from None
        if earlier.status is None:
            raise Problem(409, "request_in_progress",
                          _("Hetzelfde verzoek wordt nog verwerkt. Probeer het zo opnieuw.")
                          ) from None
        replayed = {"Idempotent-Replayed": "true"}
        return problem_or_json(earlier.body, earlier.status, headers=replayed)
    try:
        status, body = _answer(operation)
    except Exception:
        slot.delete()  # an unexpected failure: let a retry run the operation again
        raise
    if status >= 400:
        # A refusal changed nothing: forget the key, so that the retry after the cause is
        # fixed (the customer linked, the address set) runs the operation for real.
        slot.delete()
        return _respond(status, body)
    slot.status, slot.body = status, json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    slot.save(update_fields=["status", "body"])
    return _respond(status, body)


def _respond(status: int, body: dict):
    """Successes go back to the framework (validated against the response schema);
    problems are sent as application/problem+json."""
    if status >= 400:
        return problem_or_json(body, status)
    return Status(status, body)


def _answer(operation: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    try:
        return operation()
    except Problem as problem:
        return problem.status, problem.as_json()
