"""Load, reset or show the identity service's demo data (used by `bibid demo` and `bibid up`)."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bibid.identity import demo


class Command(BaseCommand):
    help = "Load or reset the demo patrons; print them as JSON."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--show", action="store_true", help="Change nothing, only print.")
        group.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only when no demo data exists yet (bibid up).",
        )

    def handle(self, *args, show: bool, if_empty: bool, **options):
        if not show and not (settings.BIBID_DEMO or settings.DEBUG):
            # Demo accounts have published passwords: never in production.
            raise CommandError("Demo data needs BIBID_DEMO=1 (or DEBUG); refusing.")
        if not show and not (if_empty and demo.exists()):
            demo.reset()
        elif not show:
            demo.register_services()
        self.stdout.write(json.dumps(demo.summary()))
