"""Settings of the library service (the library system, for many libraries), from the
environment."""

from bibid.common import settings as common

globals().update(
    common.build(
        "library",
        apps=[
            "bibid.library.admin_site.LibraryAdminConfig",
            "ninja",
            "bibid.library.home",
            "bibid.library.tenants",
            "bibid.library.staff",
            "bibid.common.mfa",  # the second step of staff and operators
            "bibid.library.customers",
            "bibid.library.subscriptions",
            "bibid.library.loginaccounts",
            "bibid.library.console",
            "bibid.library.signup",
            "bibid.library.helpdesk",
            "bibid.library.api",
            "bibid.common.rp",
            "bibid.library.mijnmenu",
            "bibid.common.imports",  # the checkpoint and report of `bibid library import`
        ],
        middleware_extra=[
            "bibid.common.middleware.ApiProblemsMiddleware",
            "bibid.common.rp.middleware.SessionCheckMiddleware",
        ],
    )
)

AUTH_USER_MODEL = "staff.Staff"
# Staff passwords are checked only by the guarded staff sign-in (bibid.library.staff.signin).
AUTHENTICATION_BACKENDS = ["bibid.common.backends.SessionOnlyBackend"]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
PASSWORD_HASHERS = [
    "bibid.common.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "bibid.common.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
# Every call to the login service has a timeout (seconds); the console says so when it hits.
BIBID_IDENTITY_TIMEOUT = common.env.float("BIBID_IDENTITY_TIMEOUT", default=5.0)
BIBID_TRUSTED_PROXIES = common.env.int("BIBID_TRUSTED_PROXIES", default=0)
# Staff sessions end after a working day, and when the browser closes.
SESSION_COOKIE_AGE = 60 * 60 * 10
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Mijn Menu signs patrons in through the login service, one OpenID Connect client per
# library (bibid.common.rp; the credentials are stored with the library, sealed).
BIBID_RP_CLIENT_LOADER = "bibid.library.tenants.signin.client"
