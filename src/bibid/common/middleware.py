"""Middleware shared by the services."""

from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .problems import Problem, problem_response


class ApiProblemsMiddleware:
    """Under /api/, answers the framework gives by itself (no such route: 404, wrong method:
    405) come as problem details like every other API error, not as an HTML page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in (404, 405)
            and not response.get("Content-Type", "").startswith("application/")
        ):
            if response.status_code == 404:
                problem = Problem(404, "not_found", _("Niet gevonden."))
                return problem_response(problem, language=(get_language() or "nl")[:2])
            problem = Problem(405, "method_not_allowed", _("Deze methode kan hier niet."))
            allowed = ", ".join(
                sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip())
            )
            return problem_response(
                problem, language=(get_language() or "nl")[:2], headers={"Allow": allowed}
            )
        return response
