"""Load, reset or show the library service's demo data (used by `bibid demo` and `bibid up`)."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bibid.library import demo


class Command(BaseCommand):
    help = "Load or reset the demo libraries, staff and customers; print them as JSON."

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
            raise CommandError("Demo data needs BIBID_DEMO=1 (or DEBUG); refusing.")
        if not show and not (if_empty and demo.exists()):
            demo.reset()
        elif not show:
            demo.ensure_mijnmenu_clients()
        self.stdout.write(json.dumps(demo.summary()))
