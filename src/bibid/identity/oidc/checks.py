"""A production identity service must have a signing key provisioned."""

from django.core.checks import Error, register
from oauth2_provider.settings import oauth2_settings


@register()
def signing_key(app_configs, **kwargs):
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        return []
    return [
        Error(
            "No OpenID Connect signing key.",
            hint="Make one with `bibid rotate-oidc-key` (the same as `bibid identity "
            "rotate_oidc_key`), or point BIBID_OIDC_KEY_DIR at the folder that "
            "holds active.pem.",
            id="bibid.oidc.E001",
        )
    ]
