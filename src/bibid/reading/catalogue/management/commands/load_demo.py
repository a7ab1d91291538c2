"""Load or show the reading service's demo catalogue (used by `bibid demo` and `bibid up`,
through the common `prepare` command, which runs `load_demo` of whichever service has one)."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bibid.reading.catalogue import demo


class Command(BaseCommand):
    help = 'Add or update the demo titles (by slug); print {"reading_titles": N} as JSON.'

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--show", action="store_true", help="Change nothing, only print.")
        group.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only when the catalogue is empty (bibid up).",
        )

    def handle(self, *args, show: bool, if_empty: bool, **options):
        if not show and not (settings.BIBID_DEMO or settings.DEBUG):
            # The same guard as the other services' demo data: a real catalogue is not
            # mixed with invented titles by accident.
            raise CommandError("Demo data needs BIBID_DEMO=1 (or DEBUG); refusing.")
        if not show and not (if_empty and demo.exists()):
            demo.load()
        self.stdout.write(json.dumps(demo.summary()))
