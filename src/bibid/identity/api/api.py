"""The library API object: version 1, its schema, its docs and how errors look."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from bibid.common.api import ProblemApi

from .views import router

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


class LibraryApi(ProblemApi):
    bearer_hint = _("Geen geldig toegangstoken. Vraag een nieuw token aan bij /o/token/.")


api = LibraryApi(
    title="Bibid login service: library API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="library-api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/", router)
