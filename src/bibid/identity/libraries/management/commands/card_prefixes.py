"""bibid identity card_prefixes: set the card-number prefixes a library hands out."""

import json

from django.core.management.base import BaseCommand, CommandError

from bibid.common.problems import Problem
from bibid.identity.accounts.actors import Actor
from bibid.identity.libraries.models import Library
from bibid.identity.libraries.services import set_card_prefixes


class Command(BaseCommand):
    help = "Set a library's card-number prefixes (they may not overlap another library's)."

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True, help="the library's code")
        parser.add_argument("--prefix", action="append", required=True, dest="prefixes")

    def handle(self, *args, code: str, prefixes: list[str], **options):
        library = Library.objects.filter(code=code).first()
        if library is None:
            raise CommandError(f"no library with code {code!r}")
        try:
            set_card_prefixes(library=library, prefixes=prefixes, actor=Actor.operator("cli"))
        except Problem as problem:
            raise CommandError(problem.text("en")) from problem
        self.stdout.write(json.dumps({"library": code, "card_prefixes": library.card_prefixes}))
