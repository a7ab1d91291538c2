"""Registering the services patrons sign in to (used by the demo, the CLI and the admin)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_application_model

from bibid.common.problems import Problem
from bibid.common.rp import paths
from bibid.identity.libraries.models import Library

from .models import Client


@dataclass(frozen=True)
class Registered:
    application: object
    client_id: str
    client_secret: str  # shown once; only its hash is stored


@transaction.atomic
def register_service(
    *,
    kind: str,
    name: str,
    base_url: str,
    library_code: str = "",
    client_id: str = "",
    client_secret: str = "",
) -> Registered:
    """Create or update a confidential authorization-code client with exactly the three
    URLs of `bibid.common.rp.paths` under `base_url`. Idempotent by client id."""
    if kind not in Client.Kind.values:
        raise Problem(400, "invalid_kind", _("Onbekende soort dienst."))
    library = None
    if kind == Client.Kind.MIJN_MENU:
        library = Library.objects.filter(code=library_code).first()
        if library is None:
            raise Problem(400, "unknown_library", _("Onbekende bibliotheek."))
    Application = get_application_model()
    urls = paths.urls(base_url)
    secret = client_secret or generate_client_secret()
    application = Application.objects.filter(client_id=client_id).first() if client_id else None
    if application is None:
        application = Application(client_id=client_id or generate_client_id())
    application.name = name
    application.client_type = Application.CLIENT_CONFIDENTIAL
    application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    application.client_secret = secret  # hashed on save
    application.hash_client_secret = True
    application.redirect_uris = urls["redirect_uri"]
    application.post_logout_redirect_uris = urls["post_logout_redirect_uri"]
    application.algorithm = Application.RS256_ALGORITHM
    # Our own services, one organisation: no consent page between patron and service.
    application.skip_authorization = True
    application.full_clean(exclude=["client_secret", "user"])
    application.save()
    Client.objects.update_or_create(
        application=application,
        defaults={
            "kind": kind,
            "library": library,
            "backchannel_logout_uri": urls["backchannel_logout_uri"],
        },
    )
    return Registered(
        application=application, client_id=application.client_id, client_secret=secret
    )
