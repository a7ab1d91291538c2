"""Registering the services patrons sign in to (used by the demo, the CLI and the admin).

A service is recorded with its origin (scheme://host[:port]), derived from the URIs it is
sent back to after signing in and out; the sign-in page's Content Security Policy lets forms
lead there (bibid.identity.oidc.csp). Each write here changes what that policy allows, so
the cached policy is invalidated by the model signals csp.py connects.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_application_model

from bibid.common.problems import Problem
from bibid.common.rp import paths
from bibid.identity.libraries.models import Library

from . import sessions
from .models import Client, ServiceSession

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# A DNS name in its ASCII form (an internationalised name is registered as xn--...). The host
# goes into a response header (the CSP), so nothing but these characters may reach it: a ";"
# or a space would start a directive of its own.
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)


@dataclass(frozen=True)
class Registered:
    application: object
    client_id: str
    client_secret: str  # shown once; only its hash is stored
    origin: str


def _plain_http_allowed() -> bool:
    # Plain http only where everything runs on one machine (demo, development, tests), and
    # only to that machine: nobody else can read a code sent to 127.0.0.1.
    return bool(settings.DEBUG or getattr(settings, "BIBID_DEMO", False))


def _invalid(uri: str, why) -> Problem:
    return Problem(
        400,
        "invalid_service_uri",
        _("Ongeldig adres %(uri)s: %(why)s"),
        extra={"uri": uri[:300], "why": why},
    )


def _origin(uri: str) -> str:
    """The exact origin of one absolute URI, or a Problem saying why it cannot be one."""
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        raise _invalid(uri, _("een volledig https-adres is nodig."))
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise _invalid(uri, _("geen gebruikersnaam, wachtwoord of #-deel in het adres."))
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise _invalid(uri, _("het poortnummer klopt niet.")) from None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
        if not _DNS_NAME.match(host):
            raise _invalid(uri, _("de hostnaam klopt niet (gebruik de xn--vorm).")) from None
    if scheme == "http" and not (_plain_http_allowed() and host in LOOPBACK_HOSTS):
        raise _invalid(
            uri,
            _("alleen https (http alleen naar 127.0.0.1 of localhost in demo of ontwikkeling)."),
        )
    netloc = f"[{host}]" if ip is not None and ip.version == 6 else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def origin_of(uris: list[str]) -> str:
    """The one origin every URI shares (the service's pages), or a Problem.

    One origin per service: the CSP then lists exactly the web address the patron is sent
    back to, and a registration that sends patrons to two places is almost always a typo."""
    uris = [u for u in uris if u]
    if not uris:
        raise Problem(400, "no_redirect_uri", _("Geef minstens één terugkeeradres op."))
    origins = sorted({_origin(uri) for uri in uris})
    if len(origins) > 1:
        raise Problem(
            400,
            "several_origins",
            _(
                "Alle terugkeeradressen van een dienst moeten op één webadres liggen "
                "(schema, host en poort); nu zijn het er meer: %(origins)s."
            ),
            extra={"origins": ", ".join(origins)},
        )
    return origins[0]


def application_origin(application) -> str:
    """The origin of a registered application's redirect and post-logout URIs."""
    return origin_of(
        [*application.redirect_uris.split(), *application.post_logout_redirect_uris.split()]
    )


@transaction.atomic
def register_service(
    *,
    kind: str,
    name: str,
    base_url: str = "",
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str = "",
    library_code: str = "",
    client_id: str = "",
    client_secret: str = "",
) -> Registered:
    """Create or update a confidential authorization-code client; idempotent by client id.

    Either `base_url` (one of our relying parties: exactly the three URLs of
    `bibid.common.rp.paths` under it) or the service's own `redirect_uris` (and optional
    post-logout and back-channel URIs). All redirect and post-logout URIs share one origin,
    which is recorded for the sign-in page's CSP."""
    if kind not in Client.Kind.values:
        raise Problem(400, "invalid_kind", _("Onbekende soort dienst."))
    if bool(base_url) == bool(redirect_uris):
        raise Problem(
            400,
            "base_url_or_redirect_uris",
            _("Geef óf het basisadres van de dienst, óf zijn terugkeeradressen."),
        )
    library = None
    if kind == Client.Kind.MIJN_MENU:
        library = Library.objects.filter(code=library_code).first()
        if library is None:
            raise Problem(400, "unknown_library", _("Onbekende bibliotheek."))
    if base_url:
        urls = paths.urls(base_url)
        redirect_uris = [urls["redirect_uri"]]
        post_logout_redirect_uris = [urls["post_logout_redirect_uri"]]
        backchannel_logout_uri = urls["backchannel_logout_uri"]
    post_logout_redirect_uris = list(post_logout_redirect_uris or [])
    Application = get_application_model()
    secret = client_secret or generate_client_secret()
    application = Application.objects.filter(client_id=client_id).first() if client_id else None
    if application is None:
        application = Application(client_id=client_id or generate_client_id())
    elif not Client.objects.filter(application=application).exists():
        # A library's API client is no sign-in service: never turn one into the other.
        raise Problem(409, "not_a_service", _("Deze client-id is geen dienst om in te loggen."))
    application.name = name
    application.client_type = Application.CLIENT_CONFIDENTIAL
    application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    application.client_secret = secret  # hashed on save
    application.hash_client_secret = True
    application.redirect_uris = " ".join(redirect_uris)
    application.post_logout_redirect_uris = " ".join(post_logout_redirect_uris)
    application.algorithm = Application.RS256_ALGORITHM
    # The libraries' own services and services the operators register for them: no consent
    # page between patron and service.
    application.skip_authorization = True
    # DOT's own checks first (URI syntax, allowed schemes), then ours: one exact origin.
    application.full_clean(exclude=["client_secret", "user"])
    origin = origin_of([*redirect_uris, *post_logout_redirect_uris])
    if backchannel_logout_uri:
        _origin(backchannel_logout_uri)  # the same scheme rules; it may live on another host
    application.save()
    Client.objects.update_or_create(
        application=application,
        defaults={
            "kind": kind,
            "library": library,
            "backchannel_logout_uri": backchannel_logout_uri,
            "origin": origin,
        },
    )
    return Registered(
        application=application,
        client_id=application.client_id,
        client_secret=secret,
        origin=origin,
    )


def _service(client_id: str) -> Client:
    client = (
        Client.objects.select_for_update()
        .select_related("application")
        .filter(application__client_id=client_id)
        .first()
        if client_id
        else None
    )
    if client is None:
        raise Problem(404, "unknown_service", _("Er is geen dienst met deze client-id."))
    return client


@transaction.atomic
def set_service_active(*, client_id: str, active: bool) -> Client:
    """Enable or disable a service. A disabled one signs nobody in (the validator refuses its
    client id), its open sign-ins end (tokens revoked, the service told by back-channel
    logout) and its origin leaves the sign-in page's CSP."""
    client = _service(client_id)
    if client.active != active:
        client.active = active
        client.save(update_fields=["active"])
    if not active:
        live = ServiceSession.objects.filter(
            application=client.application, ended_at__isnull=True
        ).select_related("application__bibid_client", "account")
        sessions.end(list(live), "service_disabled")
    return client


@transaction.atomic
def remove_service(*, client_id: str) -> str:
    """Remove a service for good: its client, codes, tokens and sign-in records go with it.
    Returns its name."""
    client = _service(client_id)
    name = client.application.name
    live = ServiceSession.objects.filter(
        application=client.application, ended_at__isnull=True
    ).select_related("application__bibid_client", "account")
    # Told first, while the records still exist (the delivery row keeps what it needs).
    sessions.end(list(live), "service_removed")
    client.application.delete()
    return name


def refresh_origin(application) -> None:
    """Record the origin again after an operator changed a service's URIs (the admin)."""
    client = Client.objects.filter(application=application).first()
    if client is None:
        return
    origin = application_origin(application)
    if client.origin != origin:
        client.origin = origin
        client.save(update_fields=["origin"])
