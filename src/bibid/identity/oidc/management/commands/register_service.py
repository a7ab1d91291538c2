"""Register (or update) a service patrons sign in to: prints its client id and secret once.

    bibid identity register_service --kind reading --name "Online Bibliotheek" \\
        --base-url https://online.bibliotheek.example
    bibid identity register_service --kind mijnmenu --library aan-de-maas \\
        --name "Mijn Menu Bibliotheek aan de Maas" \\
        --base-url https://bibliotheek.example/mijn/aan-de-maas
"""

import json

from django.core.management.base import BaseCommand, CommandError

from bibid.common.problems import Problem
from bibid.identity.oidc.services import register_service


class Command(BaseCommand):
    help = "Register a sign-in client (OpenID Connect) for Mijn Menu or the Online Bibliotheek."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=["mijnmenu", "reading", "other"])
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--base-url",
            required=True,
            help="The public URL the service's sign-in pages are mounted at.",
        )
        parser.add_argument("--library", default="", help="Library code (Mijn Menu only).")
        parser.add_argument("--client-id", default="", help="Update this client.")

    def handle(self, *args, kind, name, base_url, library, client_id, **options):
        from django.core.exceptions import ValidationError

        try:
            done = register_service(
                kind=kind, name=name, base_url=base_url, library_code=library, client_id=client_id
            )
        except Problem as problem:
            raise CommandError(problem.text("en")) from problem
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        # The secret is shown this once; only its hash is kept.
        self.stdout.write(
            json.dumps({"client_id": done.client_id, "client_secret": done.client_secret})
        )
