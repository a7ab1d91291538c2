"""A production identity service must have a signing key provisioned."""

from django.core.checks import Error, register
from oauth2_provider.settings import oauth2_settings


@register()
def signing_key(app_configs, **kwargs):
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        return []
    return [Error("No OpenID Connect signing key.",
                  hint="Run `bibid rotate-oidc-key` once, or set BIBID_OIDC_KEY_DIR.",
                  id="bibid.oidc.E001")]
