"""Settings of the identity service (the national login), from the environment."""

from bibid.common import settings as common

globals().update(
    common.build(
        "identity",
        apps=[
            "bibid.identity.admin_site.BibidAdminConfig",
            "bibid.identity.accounts",
            "bibid.identity.signin",
        ],
    )
)

AUTH_USER_MODEL = "accounts.Account"
# Passwords are only ever checked by the guarded sign-in flow (bibid.identity.signin), which
# applies the guessing limits and records every attempt. This backend loads the signed-in
# account for each request but refuses authenticate(), so nothing can check a password
# around the guard (the admin's own login form included).
AUTHENTICATION_BACKENDS = ["bibid.identity.signin.backends.SessionOnlyBackend"]
LOGIN_URL = "signin:login"
LOGIN_REDIRECT_URL = "accounts:home"

# Argon2id, 19 MiB, 2 iterations, 1 lane (OWASP, ASVS 5.0 appendix C). Old hashes with other
# parameters still verify and are upgraded on the next successful sign-in.
PASSWORD_HASHERS = [
    "bibid.identity.accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
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
