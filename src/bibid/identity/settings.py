"""Settings of the identity service (the national login), from the environment."""

from bibid.common import settings as common

globals().update(
    common.build(
        "identity",
        apps=[
            "bibid.identity.admin_site.BibidAdminConfig",
            "oauth2_provider",
            "ninja",
            "bibid.identity.accounts",
            "bibid.identity.signin",
            "bibid.identity.mail",
            "bibid.identity.libraries",
            "bibid.identity.selfservice",
        ],
        middleware_extra=["bibid.common.middleware.ApiProblemsMiddleware"],
    )
)

AUTH_USER_MODEL = "accounts.Account"
# Passwords are only ever checked by the guarded sign-in flow (bibid.identity.signin), which
# applies the guessing limits and records every attempt. This backend loads the signed-in
# account for each request but refuses authenticate(), so nothing can check a password
# around the guard (the admin's own login form included).
AUTHENTICATION_BACKENDS = ["bibid.common.backends.SessionOnlyBackend"]
LOGIN_URL = "signin:login"

# Argon2id, 19 MiB, 2 iterations, 1 lane (OWASP, ASVS 5.0 appendix C). Old hashes with other
# parameters still verify and are upgraded on the next successful sign-in.
PASSWORD_HASHERS = [
    "bibid.common.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Only for OAuth2 client secrets (see OAUTH2_PROVIDER below); never chosen for passwords,
    # because make_password always uses the first entry.
    "bibid.identity.libraries.hashers.HighEntropySecretHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "bibid.identity.accounts.passwords.MaximumLengthValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "recovery_email")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "bibid.identity.accounts.passwords.PredictablePasswordValidator"},
]

# How long an account may stay inactive before it is deleted (domain.md: 24 hours).
BIBID_INACTIVE_ACCOUNT_TTL_HOURS = 24
# How long sign-in attempts are kept for the helpdesk (and then deleted: they hold addresses).
BIBID_LOGIN_EVENT_RETENTION_DAYS = common.env.int("BIBID_LOGIN_EVENT_RETENTION_DAYS", default=90)
BIBID_TRUSTED_PROXIES = common.env.int("BIBID_TRUSTED_PROXIES", default=0)

# The library API: each library is an OAuth2 client (client-credentials grant).
OAUTH2_PROVIDER = {
    "SCOPES": {
        "accounts:read": "Read the login accounts linked to the library's customers",
        "accounts:write": "Change the login accounts linked to the library's customers",
    },
    "DEFAULT_SCOPES": ["accounts:read"],
    "SCOPES_BACKEND_CLASS": "bibid.identity.libraries.scopes.ClientScopes",
    # Client secrets are 128 random characters: a fast hash is enough, and a token request
    # must not pay the Argon2 cost meant for people's passwords.
    "CLIENT_SECRET_HASHER": "sha256-secret",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # RFC 9700 (OAuth 2.0 Security BCP): tokens stored hashed, only the header transport.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
}
# A bulk push of 5,000 customers is about 2 MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"

# Links in e-mails point here, whatever Host header a request had.
BIBID_MAIL_DOMAIN = common.env.str("BIBID_MAIL_DOMAIN", default="bibid.example")
if not common.env.str("EMAIL_URL", default="") and (DEBUG or BIBID_DEMO):  # noqa: F821
    # No mail server configured in demo/development: keep mail in the dev mailbox, readable
    # at /dev/postbus/, so a newcomer can follow activation and reset links.
    MAILERS = {"default": {"BACKEND": "bibid.identity.mail.backends.DevMailboxBackend"}}
LOGIN_REDIRECT_URL = "selfservice:home"
