"""bibid identity add_library: register a library organisation as a client of the library API."""

import json

from django.core.management.base import BaseCommand, CommandError

from bibid.common.problems import Problem
from bibid.identity.libraries.services import register_library


class Command(BaseCommand):
    help = "Register a library as an OAuth2 client; prints its client id and secret once."

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True, help="short code, e.g. aan-de-maas")
        parser.add_argument("--name", required=True, help="the library's name")
        parser.add_argument(
            "--card-prefix",
            action="append",
            default=[],
            dest="prefixes",
            help="a card-number prefix the library hands out (repeatable); "
            "it links and pushes only card numbers in its ranges",
        )

    def handle(self, *args, code: str, name: str, prefixes: list[str], **options):
        try:
            done = register_library(code=code, name=name, card_prefixes=prefixes)
        except Problem as problem:
            raise CommandError(problem.text("en")) from problem
        self.stdout.write(
            json.dumps(
                {
                    "library": done.library.code,
                    "card_prefixes": done.library.card_prefixes,
                    "client_id": done.client_id,
                    "client_secret": done.client_secret,
                    "note": "the secret is shown only now; store it in the library system",
                },
                indent=2,
            )
        )
