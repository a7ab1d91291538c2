"""Make a new ID-token signing key; the old one stays published until its tokens expire."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand
from oauth2_provider.settings import oauth2_settings

from bibid.identity.oidc import keys, logout_tokens


class Command(BaseCommand):
    help = "Rotate the OpenID Connect signing key (restart the identity service afterwards)."
    # The system checks include "no signing key" (bibid.oidc.E001), which this command is
    # the remedy for: on a first production start it must run without `--skip-checks`.
    requires_system_checks = []

    def handle(self, *args, **options):
        # An old key must verify everything it signed: ID tokens and logout tokens, plus a
        # day of margin for clocks and for services that cache the JWKS.
        keep = (
            max(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS, logout_tokens.LIFETIME_SECONDS) + 24 * 3600
        )
        kept, dropped = keys.rotate(keys.key_dir(settings.BIBID_VAR_DIR), keep_seconds=keep)
        self.stdout.write(
            json.dumps(
                {
                    "rotated": True,
                    "inactive_kept": kept,
                    "inactive_dropped": dropped,
                    "restart_needed": "identity",
                }
            )
        )
