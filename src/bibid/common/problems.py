"""Problems: domain errors with a stable code and a message in Dutch and English.

Operations raise them; the JSON APIs render them as RFC 9457 problem details and the pages
as a message, so the same rule gives the same words everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.http import JsonResponse
from django.utils.functional import Promise
from django.utils.translation import override

PROBLEM_BASE = "https://bibid.example/problems/"


@dataclass
class Problem(Exception):
    status: int
    code: str
    message: str | Promise
    field: str | None = None
    extra: dict[str, Any] = dataclass_field(default_factory=dict)
    headers: dict[str, str] = dataclass_field(default_factory=dict)
    # Ready-made texts per language (a problem another service reported), used instead of
    # translating `message`.
    messages: dict[str, str] = dataclass_field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.text('en')}"

    def text(self, language: str) -> str:
        if self.messages:
            return self.messages.get(language) or self.messages.get("en") or str(self.message)
        with override(language):
            # `message % extra` before str(): a lazy plural (ngettext_lazy with a named
            # number) chooses its form from `extra`.
            return str(self.message % self.extra) if self.extra else str(self.message)

    def as_json(self, *, language: str = "nl") -> dict[str, Any]:
        """The RFC 9457 body: type, title, status, detail, plus our code and both languages."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code.replace("_", "-"),
            # The title names the kind of problem and never changes (RFC 9457 3.1.4);
            # the detail says what happened this time, in the caller's language.
            "title": self.code.replace("_", " ").capitalize(),
            "status": self.status,
            "detail": self.text(language),
            "code": self.code,
            "messages": {"nl": self.text("nl"), "en": self.text("en")},
        }
        if self.field:
            body["field"] = self.field
        if self.extra:
            body["data"] = {k: v for k, v in self.extra.items() if _jsonable(v)}
        return body


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)


def problem_or_json(body: dict, status: int, headers: dict | None = None) -> JsonResponse:
    """A JSON response; errors with the problem-details media type (RFC 9457)."""
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return JsonResponse(body, status=status, content_type=content_type, headers=headers)


def problem_response(
    problem: Problem, *, language: str = "nl", headers: dict | None = None
) -> JsonResponse:
    return problem_or_json(
        problem.as_json(language=language),
        problem.status,
        headers={**problem.headers, **(headers or {})},
    )
