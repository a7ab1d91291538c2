"""The registered clients (DOT's Application with Bibid's Client), loaded once per process.

Every authorization, token and userinfo request needs its client: loading it from the
database each time cost two to four statements per step of a sign-in (DOT loads it more
than once; the active flag, the kind and the library-API scopes were more queries). A
process keeps what it loaded, and trusts it while both hold:

- the version in Django's cache is the one it loaded under. Every change to an
  Application, a Client or a library's API client (post_save/post_delete, after the
  commit) writes a new version and empties this process's copy. With a shared cache
  (CACHE_URL: Redis in production) every process sees a disabled service or a rotated
  secret at its next request; the process that made the change sees it at once in any
  case;
- it is younger than MAX_AGE seconds. With the default per-process memory cache another
  process cannot see the version change: MAX_AGE bounds how long it may still accept a
  disabled client or an old secret. It also bounds the one race left with a shared cache
  (a process that read the old rows just before the change committed and stores them
  just after).

Each request gets its own copy of the Application: DOT and oauthlib set attributes on
the client they are given, which must not leak into another request or thread.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from oauth2_provider.models import get_application_model
from oauth2_provider.scopes import get_scopes_backend

from .models import Client

VERSION_KEY = "oidc:clients:version"
MAX_AGE = 30.0


@dataclass(frozen=True)
class Entry:
    application: object
    kind: str  # Client.Kind, or "" for a client that is no signing-in service
    library_id: int | None
    available_scopes: frozenset[str]
    default_scopes: tuple[str, ...]
    version: str
    loaded_at: float

    def fresh(self, version: str, now: float) -> bool:
        return self.version == version and now - self.loaded_at < MAX_AGE


_entries: dict[str, Entry] = {}
_lock = threading.Lock()


def _version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        # First process after a cache flush: agree on one version (add does not overwrite
        # another process's).
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY) or ""
    return version


def entry(client_id: str) -> Entry | None:
    """The client with this id, or None when it is unknown or disabled (an operator turned
    the service off: it is no client at all, as if unknown)."""
    if not client_id or not isinstance(client_id, str):
        return None
    version = _version()
    now = time.monotonic()
    found = _entries.get(client_id)
    if found is not None and found.fresh(version, now):
        return found
    found = _load(client_id, version, now)
    if found is not None:
        with _lock:
            _entries[client_id] = found
    return found


def application(client_id: str):
    """A copy of the client's Application for one request, or None (see `entry`)."""
    found = entry(client_id)
    return copy.copy(found.application) if found is not None else None


def _load(client_id: str, version: str, now: float) -> Entry | None:
    Application = get_application_model()
    try:
        app = Application.objects.select_related("bibid_client").filter(client_id=client_id)[0]
    except (IndexError, ValueError):  # ValueError: a NUL byte, which psycopg refuses
        return None
    client = getattr(app, "bibid_client", None)  # None for a library's API client
    if client is not None and not client.active:
        return None
    scopes = get_scopes_backend()
    return Entry(
        application=app,
        kind=client.kind if client is not None else "",
        library_id=client.library_id if client is not None else None,
        available_scopes=frozenset(scopes.get_available_scopes(application=app)),
        default_scopes=tuple(scopes.get_default_scopes(application=app)),
        version=version,
        loaded_at=now,
    )


def invalidate() -> None:
    """Forget every loaded client, here and (through the shared cache) everywhere."""
    with _lock:
        _entries.clear()
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)


def _changed(**kwargs) -> None:
    if kwargs.get("raw"):
        return  # loading fixtures
    # Emptied now, so that this process refuses a disabled client even before the commit
    # (a request in between would read the old rows again: hence again after the commit).
    with _lock:
        _entries.clear()
    transaction.on_commit(invalidate)


def _connect() -> None:
    from bibid.identity.libraries.models import Library

    for model in (get_application_model(), Client, Library):
        label = model._meta.label_lower
        post_save.connect(_changed, sender=model, dispatch_uid=f"oidc-clients-saved-{label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"oidc-clients-gone-{label}")


_connect()
