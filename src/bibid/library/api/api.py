"""The library service's REST API (v1)."""

from django.utils.translation import gettext_lazy as _

from bibid.common.api import ProblemApi

from . import reads  # noqa: F401 - adds the integrator's reads to the router
from .views import router

DESCRIPTION = """
Everything the staff console does, for automation and tests. Authenticate with a personal
API token (`Authorization: Bearer bibid_…`, made in the console under *API-tokens* or with
`bibid library token --library L --user U`). A token carries its owner's role and library:
the same permission, tenant and privacy rules as in the console apply. Errors are problem
details (RFC 9457) with a stable `code` and the message in Dutch and English.
"""


class LibraryServiceApi(ProblemApi):
    bearer_hint = _("Geen geldig API-token. Maak er een in de console onder API-tokens.")


api = LibraryServiceApi(
    title="Bibid library system API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="library-system-api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/", router)
