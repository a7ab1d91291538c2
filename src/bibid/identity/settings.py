"""Settings of the identity service (the national login), from the environment."""

from bibid.common import settings as common
from bibid.identity.oidc import keys as oidc_keys
from bibid.identity.oidc import lifetimes as oidc_lifetimes

globals().update(
    common.build(
        "identity",
        apps=[
            "bibid.identity.admin_site.BibidAdminConfig",
            # Before oauth2_provider: its templates (authorize, logout) replace DOT's.
            "bibid.identity.oidc",
            "oauth2_provider",
            "ninja",
            "bibid.identity.accounts",
            "bibid.common.mfa",  # the second step of staff and operators
            "bibid.identity.signin",
            "bibid.identity.mail",
            "bibid.identity.libraries",
            "bibid.identity.selfservice",
            "bibid.identity.passkeys",
            # The checkpoint and report of `bibid identity import` (docs/import.md).
            "bibid.common.imports",
        ],
        middleware_extra=[
            "bibid.common.middleware.ApiProblemsMiddleware",
            # Inside Django's CSP middleware: sets the sign-in pages' policy it writes.
            "bibid.identity.oidc.csp.FormActionMiddleware",
        ],
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
    # Hashes imported from today's login systems (`bibid identity import`, docs/import.md):
    # verified as they are, replaced by Argon2id at the first successful sign-in, and never
    # used to make a hash (they come after ours).
    "bibid.identity.accounts.imported_hashers.BcryptHasher",
    "bibid.identity.accounts.imported_hashers.Pbkdf2Hasher",
    "bibid.identity.accounts.imported_hashers.Argon2Hasher",
    "bibid.identity.accounts.imported_hashers.LdapSshaHasher",
    "bibid.identity.accounts.imported_hashers.SaltedShaHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "bibid.common.passwords.MinimumLengthValidator",
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

# The ID-token signing keys (see bibid.identity.oidc.keys): made on first start in demo and
# development, provisioned with `bibid rotate-oidc-key` in production.
_oidc_key, _oidc_inactive_keys = oidc_keys.load(
    oidc_keys.key_dir(BIBID_VAR_DIR),  # noqa: F821
    allow_generated=DEBUG or BIBID_DEMO,  # noqa: F821
)

# Two kinds of OAuth2 client: each library (client-credentials grant, the library API), and
# the services patrons sign in to through OpenID Connect (Mijn Menu, the Online Bibliotheek).
OAUTH2_PROVIDER = {
    "SCOPES": {
        "accounts:read": "Read the login accounts linked to the library's customers",
        "accounts:write": "Change the login accounts linked to the library's customers",
        "openid": "Wie je bent (een vaste, willekeurige code)",
        "profile": "Je gebruikersnaam",
        "libraries": "Bij welke bibliotheken je lid bent",
        "rights": "Je rechten, zoals e-books lenen",
    },
    "DEFAULT_SCOPES": ["accounts:read"],
    "SCOPES_BACKEND_CLASS": "bibid.identity.libraries.scopes.ClientScopes",
    # Client secrets are 128 random characters: a fast hash is enough, and a token request
    # must not pay the Argon2 cost meant for people's passwords.
    "CLIENT_SECRET_HASHER": "sha256-secret",
    # A callable: an hour for library systems, ten minutes for patrons' services.
    "ACCESS_TOKEN_EXPIRE_SECONDS": oidc_lifetimes.access_token,
    # RFC 9700 (OAuth 2.0 Security BCP): tokens stored hashed, only the header transport,
    # PKCE with S256 only, no implicit or password grant, `iss` in authorization responses.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "PKCE_REQUIRED": True,
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _oidc_key,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": _oidc_inactive_keys,
    # The issuer is configured, never taken from the Host header of a request.
    "OIDC_ISS_ENDPOINT": BIBID_PUBLIC_URLS["identity"] + "/o",  # noqa: F821
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post"],
    "ID_TOKEN_EXPIRE_SECONDS": 600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    # Refresh tokens: rotated on every use; a reused one revokes its whole family (theft
    # detection); at most 12 hours, and never past the identity session (validators.py).
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 12 * 3600,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # A service that shows a valid ID token of this session signs out without a question.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    # DOT would delete all the account's tokens, in every browser; ours ends only the
    # services of this identity session (bibid.identity.oidc.signals).
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    "OAUTH2_VALIDATOR_CLASS": "bibid.identity.oidc.validators.Validator",
    "OAUTH2_BACKEND_CLASS": "bibid.identity.oidc.backends.Core",
    "APPLICATION_ADMIN_CLASS": "bibid.identity.oidc.application_admin.ServiceApplicationAdmin",
    # Plain http only where everything runs on one machine (demo, development, tests).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"]
    if DEBUG or BIBID_DEMO  # noqa: F821
    else ["https"],
}
# A bulk push of 5,000 customers is about 2 MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 - a model
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105 - a model
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105 - a model

# Links in e-mails point here, whatever Host header a request had.
BIBID_MAIL_DOMAIN = common.env.str("BIBID_MAIL_DOMAIN", default="bibid.example")
if not common.env.str("EMAIL_URL", default="") and (DEBUG or BIBID_DEMO):  # noqa: F821
    # No mail server configured in demo/development: keep mail in the dev mailbox, readable
    # at /dev/postbus/, so a newcomer can follow activation and reset links.
    MAILERS = {"default": {"BACKEND": "bibid.identity.mail.backends.DevMailboxBackend"}}
LOGIN_REDIRECT_URL = "selfservice:home"
