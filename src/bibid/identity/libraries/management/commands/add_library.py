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

    def handle(self, *args, code: str, name: str, **options):
        try:
            done = register_library(code=code, name=name)
        except Problem as problem:
            raise CommandError(problem.text("en")) from problem
        self.stdout.write(json.dumps({
            "library": done.library.code, "client_id": done.client_id,
            "client_secret": done.client_secret,
            "note": "the secret is shown only now; store it in the library system",
        }, indent=2))
