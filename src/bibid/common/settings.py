"""Settings shared by the three services, read from the environment (12-factor)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The repository root when run from a checkout (src/bibid/common/settings.py).
REPO_DIR = PACKAGE_DIR.parents[1]

SERVICES: dict[str, int] = {"identity": 8000, "library": 8001, "reading": 8002}

env = environ.Env()


def var_dir() -> Path:
    """Where the embedded default keeps its SQLite files, secrets and static files."""
    return Path(os.environ.get("BIBID_VAR_DIR", REPO_DIR / "var")).resolve()


def env_name(service: str, name: str) -> str:
    """The per-service environment variable, e.g. IDENTITY_DATABASE_URL."""
    return f"{service.upper()}_{name}"


def service_port(service: str) -> int:
    return env.int(env_name(service, "PORT"), default=SERVICES[service])


def public_url(service: str) -> str:
    """The URL patrons and other services use to reach a service; never taken from a request."""
    default = f"http://127.0.0.1:{service_port(service)}"
    return env.str(env_name(service, "PUBLIC_URL"), default=default).rstrip("/")


def _sibling_origins(service: str) -> list[str]:
    origins = []
    for other in SERVICES:
        parts = urlsplit(public_url(other))
        origin = f"{parts.scheme}://{parts.netloc}"
        if other != service and origin not in origins:
            origins.append(origin)
    return origins


def _secret_key(service: str, *, allow_generated: bool) -> str:
    value = env.str(env_name(service, "SECRET_KEY"), default="")
    if value:
        return value
    if not allow_generated:
        raise environ.ImproperlyConfigured(
            f"{env_name(service, 'SECRET_KEY')} must be set when DEBUG and BIBID_DEMO are off."
        )
    # Demo and development only: a random key kept under var/ so that sessions survive a
    # restart. Never a key committed to the repository.
    path = var_dir() / "secrets" / f"{service}.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _database(service: str) -> dict[str, Any]:
    default_url = f"sqlite:///{var_dir() / (service + '.sqlite3')}"
    db = env.db_url(env_name(service, "DATABASE_URL"), default=default_url)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # SQLite cannot create the folder its file lives in: a fresh clone (or a production
        # start outside demo mode) has no var/ yet.
        if db["NAME"] and db["NAME"] != ":memory:":
            Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock when a
        # transaction starts, so two writers queue on busy_timeout instead of failing with
        # "database is locked" half-way through; synchronous=NORMAL is safe with WAL.
        db["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;PRAGMA cache_size=-16000"
            ),
        }
        db["TEST"] = {"NAME": None}
        # Keep connections between requests (one per thread): opening one and running the
        # pragmas costs about half a millisecond.
        db["CONN_MAX_AGE"] = env.int("BIBID_CONN_MAX_AGE", default=60)
    else:
        db.setdefault("CONN_MAX_AGE", env.int("BIBID_CONN_MAX_AGE", default=60))
        db.setdefault("CONN_HEALTH_CHECKS", True)
    return db


def _cache(service: str) -> dict[str, Any]:
    url = env.str("CACHE_URL", default="")
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    cache = env.cache_url_config(url)
    cache["KEY_PREFIX"] = f"bibid:{service}"
    if cache["BACKEND"] == "django_redis.cache.RedisCache":
        # The cache holds nothing that cannot be read again from the database (the
        # registered origins of the sign-in page's CSP, say), so Redis being down or slow
        # must cost a query, not a sign-in: errors count as misses, and no call waits
        # longer than half a second for it.
        cache["OPTIONS"] = {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        }
    return cache


# crontask's scheduler lock has one fixed key name ("crontask-lock"), so three services
# sharing one Redis server would share one lock, and only one of the three schedulers would
# ever run. Each service takes its own Redis database number for it instead.
CRONTASK_REDIS_DB = {"identity": 1, "library": 2, "reading": 3}


def _crontask(service: str) -> dict[str, Any]:
    url = env.str("CRONTASK_REDIS_URL", default="")
    if not url:
        return {"REDIS_URL": None}
    parts = urlsplit(url)
    return {
        "REDIS_URL": parts._replace(path=f"/{CRONTASK_REDIS_DB[service]}").geturl(),
        # A second scheduler (another node) waits for the lock instead of giving up after
        # 15 s: it is a hot standby that takes over within LOCK_TIMEOUT (10 s) of the
        # first one dying, and meanwhile runs nothing, so every job runs once.
        "LOCK_BLOCKING_TIMEOUT": None,
    }


def build(service: str, *, apps: list[str], middleware_extra: list[str] | None = None) -> dict:
    """Return the settings every service shares; the service module adds its own."""
    debug = env.bool("DEBUG", default=False)
    demo = env.bool("BIBID_DEMO", default=False)
    # Plain HTTP is only for the embedded demo on 127.0.0.1 and for development.
    https = env.bool("BIBID_HTTPS", default=not (debug or demo))
    port = service_port(service)
    prefix = f"bibid_{service}"

    middleware = [
        # Outermost: the request id is set before anything may log, and the latency measured
        # is the whole of what the service did.
        "bibid.common.logs.RequestIdMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
        *(middleware_extra or []),
    ]

    if os.environ.get("BIBID_TEST_CLOCK_FILE") and not (debug or demo):
        # A movable clock is for tests of the running services, never for production.
        raise environ.ImproperlyConfigured("BIBID_TEST_CLOCK_FILE needs DEBUG or BIBID_DEMO.")

    return {
        "SERVICE": service,
        "DEBUG": debug,
        "BIBID_DEMO": demo,
        "BIBID_VAR_DIR": var_dir(),
        "BIBID_PUBLIC_URLS": {name: public_url(name) for name in SERVICES},
        "BIBID_PORT": port,
        "SECRET_KEY": _secret_key(service, allow_generated=debug or demo),
        "ALLOWED_HOSTS": env.list(
            "ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if (debug or demo) else []
        ),
        "INSTALLED_APPS": [
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "django.contrib.messages",
            "whitenoise.runserver_nostatic",
            "django.contrib.staticfiles",
            "django_tasks_db",
            "crontask",
            "bibid.common",
            "bibid.common.guard",
            *apps,
        ],
        "MIDDLEWARE": middleware,
        "ROOT_URLCONF": f"bibid.{service}.urls",
        "WSGI_APPLICATION": f"bibid.{service}.wsgi.application",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.template.context_processors.csp",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                        "bibid.common.context.service",
                    ],
                },
            }
        ],
        "DATABASES": {"default": _database(service)},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "CACHES": {"default": _cache(service)},
        "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
        "CRONTASK": _crontask(service),
        # Language: Dutch first, English available; one cookie for all three services so a
        # patron who picks English once gets it everywhere on the same host.
        "LANGUAGE_CODE": "nl",
        "LANGUAGES": [("nl", _("Nederlands")), ("en", _("English"))],
        "LANGUAGE_COOKIE_NAME": "bibid_language",
        "LANGUAGE_COOKIE_SAMESITE": "Lax",
        "LANGUAGE_COOKIE_SECURE": https,
        "LOCALE_PATHS": [PACKAGE_DIR / service / "locale", PACKAGE_DIR / "common" / "locale"],
        "USE_I18N": True,
        "TIME_ZONE": "Europe/Amsterdam",
        "USE_TZ": True,
        # Dates, times and numbers in each language's own way (bibid/common/formats).
        "FORMAT_MODULE_PATH": ["bibid.common.formats"],
        # Sessions and CSRF: one cookie name per service, because browsers share cookies
        # between ports of the same host and the three services must not overwrite each
        # other's session.
        "SESSION_ENGINE": "bibid.common.sessions",
        "SESSION_COOKIE_NAME": f"{prefix}_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_AGE": 60 * 60 * 12,
        "CSRF_COOKIE_NAME": f"{prefix}_csrftoken",
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": https,
        "CSRF_FAILURE_VIEW": "bibid.common.views.csrf_failure",
        "CSRF_TRUSTED_ORIGINS": env.list("CSRF_TRUSTED_ORIGINS", default=[public_url(service)]),
        # Transport security, on whenever we are not on plain-HTTP demo/development.
        "SECURE_HSTS_SECONDS": 31_536_000 if https else 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": https,
        "SECURE_SSL_REDIRECT": env.bool("BIBID_SSL_REDIRECT", default=False) and https,
        "SECURE_PROXY_SSL_HEADER": (
            ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BIBID_BEHIND_PROXY", False) else None
        ),
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        # CSP: nothing inline, nothing from elsewhere; pages work without JavaScript, so the
        # policy can be strict. Framing is refused (clickjacking on a login page).
        "SECURE_CSP": {
            "default-src": [CSP.SELF],
            "script-src": [CSP.SELF, CSP.NONCE],
            "style-src": [CSP.SELF],
            "img-src": [CSP.SELF, "data:"],
            "object-src": [CSP.NONE],
            "base-uri": [CSP.NONE],
            "frame-ancestors": [CSP.NONE],
            # Forms may post here only, but a sign-in or sign-out form's answer is a chain of
            # redirects between our services (identity's sign-in → authorize → the service's
            # callback; a service's sign-out → identity's logout → back), and Chromium holds
            # every hop of that chain to form-action. So: ourselves and our sibling services,
            # exact origins. The identity pages whose forms end on a service add the origins
            # of the registered services, read from its database
            # (bibid.identity.oidc.csp.FormActionMiddleware).
            "form-action": [CSP.SELF, *_sibling_origins(service)],
        },
        "STATIC_URL": "/static/",
        "STATIC_ROOT": var_dir() / "static" / service,
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        },
        "MAILERS": {"default": _mailer()},
        "DEFAULT_FROM_EMAIL": env.str(
            "DEFAULT_FROM_EMAIL", default="Bibid <noreply@bibid.example>"
        ),
        "LOGGING": _logging(service, debug=debug, demo=demo),
        "DATA_UPLOAD_MAX_MEMORY_SIZE": 1024 * 1024,
        "DATA_UPLOAD_MAX_NUMBER_FIELDS": 200,
    }


def _mailer() -> dict[str, Any]:
    """Django 6.1's MAILERS entry from EMAIL_URL (smtp://user:pass@host:port, smtp+tls://...)."""
    url = env.str("EMAIL_URL", default="smtp://127.0.0.1:1025")
    config = env.email_url_config(url)
    options: dict[str, Any] = {
        "host": config.get("EMAIL_HOST") or "127.0.0.1",
        "port": int(config.get("EMAIL_PORT") or 25),
        # Every connect, read and write with the mail server gives up after this many
        # seconds; the outbox tries again later (a stalled server costs a worker this long,
        # never a database lock: nothing is sent inside a transaction).
        "timeout": env.float("EMAIL_TIMEOUT", default=5.0),
    }
    if config.get("EMAIL_HOST_USER"):
        options["username"] = config["EMAIL_HOST_USER"]
        options["password"] = config.get("EMAIL_HOST_PASSWORD", "")
    if config.get("EMAIL_USE_TLS"):
        options["use_tls"] = True
    if config.get("EMAIL_USE_SSL"):
        options["use_ssl"] = True
    return {"BACKEND": config["EMAIL_BACKEND"], "OPTIONS": options}


def _logging(service: str, *, debug: bool, demo: bool) -> dict[str, Any]:
    """One JSON object a line outside demo mode (for a log collector); plain text in demo
    mode, where a person reads `bibid up` in a terminal. BIBID_LOG_FORMAT=json|plain chooses
    either way."""
    from .logs import config

    fmt = env.str("BIBID_LOG_FORMAT", default="plain" if (debug or demo) else "json").lower()
    if fmt not in ("json", "plain"):
        raise environ.ImproperlyConfigured("BIBID_LOG_FORMAT must be json or plain.")
    return config(service=service, fmt=fmt, debug=debug)
