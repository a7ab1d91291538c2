"""Register (or update, disable, remove) a service patrons sign in to.

    bibid identity register_service --kind reading --name "Online Bibliotheek" \\
        --base-url https://online.bibliotheek.example
    bibid identity register_service --kind mijnmenu --library aan-de-maas \\
        --name "Mijn Menu Bibliotheek aan de Maas" \\
        --base-url https://bibliotheek.example/mijn/aan-de-maas
    bibid identity register_service --kind other --name "Leesclub" \\
        --redirect-uri https://leesclub.example/auth/callback \\
        --post-logout-redirect-uri https://leesclub.example/
    bibid identity register_service --client-id ID --disable | --enable | --remove

Registering prints the client id and secret once (only the secret's hash is kept) and the
origin recorded for the sign-in page's Content Security Policy.
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from bibid.common.problems import Problem
from bibid.identity.oidc import services


class Command(BaseCommand):
    help = (
        "Register a sign-in client (OpenID Connect): Mijn Menu, the Online Bibliotheek or "
        "another service on its own web address; or disable, enable or remove one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=["mijnmenu", "reading", "other"])
        parser.add_argument("--name")
        parser.add_argument(
            "--base-url",
            default="",
            help="Our relying parties: the public URL their sign-in pages are mounted at.",
        )
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            help="Another service: where patrons return after signing in (repeatable).",
        )
        parser.add_argument(
            "--post-logout-redirect-uri",
            action="append",
            default=[],
            help="Another service: where patrons return after signing out (repeatable).",
        )
        parser.add_argument(
            "--backchannel-logout-uri",
            default="",
            help="Another service: where it hears that a session ended (optional).",
        )
        parser.add_argument("--library", default="", help="Library code (Mijn Menu only).")
        parser.add_argument("--client-id", default="", help="Update (or change) this client.")
        change = parser.add_mutually_exclusive_group()
        change.add_argument(
            "--disable",
            action="store_true",
            help="Sign nobody in through this client any more (its sessions end).",
        )
        change.add_argument("--enable", action="store_true", help="Allow it again.")
        change.add_argument("--remove", action="store_true", help="Delete it for good.")

    def handle(self, *args, **options):
        try:
            answer = self._run(options)
        except Problem as problem:
            raise CommandError(problem.text("en")) from problem
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(json.dumps(answer))

    def _run(self, options) -> dict:
        client_id = options["client_id"]
        if options["disable"] or options["enable"] or options["remove"]:
            if not client_id:
                raise CommandError("--disable, --enable and --remove need --client-id.")
            if options["remove"]:
                name = services.remove_service(client_id=client_id)
                return {"client_id": client_id, "name": name, "removed": True}
            client = services.set_service_active(client_id=client_id, active=options["enable"])
            return {"client_id": client_id, "origin": client.origin, "active": client.active}
        if not options["kind"] or not options["name"]:
            raise CommandError("Registering a service needs --kind and --name.")
        done = services.register_service(
            kind=options["kind"],
            name=options["name"],
            base_url=options["base_url"],
            redirect_uris=options["redirect_uri"],
            post_logout_redirect_uris=options["post_logout_redirect_uri"],
            backchannel_logout_uri=options["backchannel_logout_uri"],
            library_code=options["library"],
            client_id=client_id,
        )
        # The secret is shown this once; only its hash is kept.
        return {
            "client_id": done.client_id,
            "client_secret": done.client_secret,
            "origin": done.origin,
        }
