"""What every JSON API of the system shares: problem details for every error, and an
OpenAPI schema that documents them (django-ninja)."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from .problems import Problem, problem_or_json, problem_response

logger = logging.getLogger("bibid.api")


class ProblemOut(Schema):
    """RFC 9457 problem details, with a stable code and the message in Dutch and English."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(examples=["customer_already_linked"])
    messages: dict[str, str]
    field: str | None = None
    data: dict | None = None


def _language() -> str:
    return (get_language() or "nl")[:2]


class ProblemApi(NinjaAPI):
    """A NinjaAPI whose errors are RFC 9457 problem details, documented as such."""

    bearer_hint = ""  # where to get a token, for the 401 text

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._install_handlers()

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

    def _install_handlers(self) -> None:
        self.add_exception_handler(Problem, self._on_problem)
        self.add_exception_handler(ValidationError, self._on_invalid)
        self.add_exception_handler(AuthenticationError, self._on_unauthenticated)
        self.add_exception_handler(Http404, self._on_not_found)
        self.add_exception_handler(RequestDataTooBig, self._on_too_big)
        self.add_exception_handler(MultiPartParserError, self._on_unreadable)
        self.add_exception_handler(HttpError, self._on_http_error)
        self.add_exception_handler(Exception, self._on_unexpected)

    def _on_problem(self, request: HttpRequest, problem: Problem):
        return problem_response(problem, language=_language())

    def _on_invalid(self, request: HttpRequest, error: ValidationError):
        where = {"body", "path", "query", "payload", "header"}
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p not in where),
                "message": e.get("msg", ""),
            }
            for e in error.errors
        ]
        problem = Problem(
            400,
            "invalid_request",
            _("Het verzoek klopt niet: %(fields)s."),
            field=errors[0]["field"] if errors else None,
            extra={"fields": ", ".join(e["field"] or "body" for e in errors)},
        )
        body = problem.as_json(language=_language())
        body["errors"] = errors
        return problem_or_json(body, 400)

    def _on_unauthenticated(self, request: HttpRequest, error: AuthenticationError):
        problem = Problem(401, "invalid_token", self.bearer_hint or _("Geen geldig token."))
        # RFC 6750 3: say how to authenticate; name the error only when a token was sent.
        challenge = 'Bearer realm="bibid"'
        if request.headers.get("Authorization"):
            challenge += ', error="invalid_token"'
        return problem_response(
            problem, language=_language(), headers={"WWW-Authenticate": challenge}
        )

    def _on_not_found(self, request: HttpRequest, error: Http404):
        return problem_response(
            Problem(404, "not_found", _("Niet gevonden.")), language=_language()
        )

    def _on_too_big(self, request: HttpRequest, error: RequestDataTooBig):
        problem = Problem(413, "request_too_large", _("Het verzoek is te groot."))
        # The unread rest of the body is still on the wire: close rather than keep it alive.
        return problem_response(problem, language=_language(), headers={"Connection": "close"})

    def _on_unreadable(self, request: HttpRequest, error: MultiPartParserError):
        problem = Problem(
            415,
            "unsupported_media_type",
            _("Stuur de gegevens als JSON (Content-Type: application/json)."),
        )
        return problem_response(problem, language=_language())

    def _on_http_error(self, request: HttpRequest, error: HttpError):
        if error.status_code == 400:  # the framework could not read the body as JSON
            problem = Problem(400, "invalid_json", _("De inhoud is geen geldige JSON."))
        else:
            problem = Problem(error.status_code, "http_error", str(error))
        return problem_response(problem, language=_language())

    def _on_unexpected(self, request: HttpRequest, error: Exception):
        logger.exception("API error")
        problem = Problem(500, "internal_error", _("Er ging iets mis. Probeer het later opnieuw."))
        return problem_response(problem, language=_language())
