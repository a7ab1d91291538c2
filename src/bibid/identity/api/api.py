"""The library API object: version 1, its schema, its docs and how errors look."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from bibid.common.problems import Problem, problem_or_json, problem_response

from .views import router

logger = logging.getLogger("bibid.api")

DESCRIPTION = """
The back channel between a library system and the national login: everything a library does
to the login accounts of its customers (*Klant → Inlogaccount → …*).

**Access.** Each library organisation is an OAuth2 client. Get a token with the
client-credentials grant at `/o/token/` (scopes `accounts:read`, `accounts:write`) and send it
as `Authorization: Bearer …`. A library sees only links to its own customers: anything else
is a 404, exactly like something that does not exist.

**Customers** are addressed by the library's own reference (card number or actor id).

**Errors** are problem details (RFC 9457, `application/problem+json`) with a stable `code`
and the message in Dutch and English.

**Retries.** Send an `Idempotency-Key` header with a changing request: a retry with the same
key and body gets the first answer (`Idempotent-Replayed: true`) and changes nothing again.

**Bulk.** `POST /authorizations` takes up to 5,000 customers per call; a nightly sync of
100,000 members is 20 calls.

**Changes feed.** `GET /changes?after=<id>` lists what a library must learn about its linked
accounts (deleted, renamed, unlinked), in order; keep the last `id` and nothing is lost.
"""

class LibraryApi(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        """Document errors with the media type they are sent with (RFC 9457), and say that
        every operation can answer 401 and 500 with a problem."""
        schema = super().get_openapi_schema(**kwargs)
        problem = {"$ref": "#/components/schemas/ProblemOut"}
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault(401, {"description": "No valid token"})
                responses.setdefault(500, {"description": "Unexpected failure"})
                for status, response in responses.items():
                    if int(status) >= 400:
                        response["content"] = {"application/problem+json": {"schema": problem}}
        return schema


api = LibraryApi(
    title="Bibid login service: library API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="library-api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/", router)


def _language() -> str:
    return (get_language() or "nl")[:2]


@api.exception_handler(Problem)
def on_problem(request: HttpRequest, problem: Problem):
    return problem_response(problem, language=_language())


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, error: ValidationError):
    where = {"body", "path", "query", "payload", "header"}
    errors = [
        {"field": ".".join(str(part) for part in e.get("loc", ()) if part not in where),
         "message": e.get("msg", "")}
        for e in error.errors
    ]
    problem = Problem(400, "invalid_request", _("Het verzoek klopt niet: %(fields)s."),
                      field=errors[0]["field"] if errors else None,
                      extra={"fields": ", ".join(e["field"] or "body" for e in errors)})
    body = problem.as_json(language=_language())
    body["errors"] = errors
    return problem_or_json(body, 400)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, error: AuthenticationError):
    problem = Problem(401, "invalid_token",
                      _("Geen geldig toegangstoken. Vraag een nieuw token aan bij /o/token/."))
    # RFC 6750 3: say how to authenticate; name the error only when a token was sent.
    challenge = 'Bearer realm="bibid"'
    if request.headers.get("Authorization"):
        challenge += ', error="invalid_token"'
    return problem_response(problem, language=_language(),
                            headers={"WWW-Authenticate": challenge})


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404):
    return problem_response(Problem(404, "not_found", _("Niet gevonden.")), language=_language())


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, error: RequestDataTooBig):
    problem = Problem(413, "request_too_large",
                      _("Het verzoek is te groot; stuur minder klanten per keer."))
    # The unread rest of the body is still on the wire: close rather than keep it alive.
    return problem_response(problem, language=_language(), headers={"Connection": "close"})


@api.exception_handler(MultiPartParserError)
def on_unreadable(request: HttpRequest, error: MultiPartParserError):
    problem = Problem(415, "unsupported_media_type",
                      _("Stuur de gegevens als JSON (Content-Type: application/json)."))
    return problem_response(problem, language=_language())


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError):
    if error.status_code == 400:  # the framework could not read the body as JSON
        problem = Problem(400, "invalid_json", _("De inhoud is geen geldige JSON."))
    else:
        problem = Problem(error.status_code, "http_error", str(error))
    return problem_response(problem, language=_language())


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, error: Exception):
    logger.exception("library API error")
    problem = Problem(500, "internal_error",
                      _("Er ging bij de inlogdienst iets mis. Probeer het later opnieuw."))
    return problem_response(problem, language=_language())
