"""Bring a service's database (and static files) up to date; load, reset or show demo data."""

import io
import json

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Migrate, optionally collect static files, and load/reset/show demo data as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--static", action="store_true", help="Also collect static files.")
        parser.add_argument(
            "--demo",
            choices=["none", "if-empty", "reset", "show"],
            default="none",
            help="What to do with demo data; its sign-ins are printed as JSON.",
        )

    def handle(self, *args, static: bool, demo: str, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if static:
            call_command("collectstatic", interactive=False, verbosity=0)
        result: dict = {}
        if demo != "none" and "load_demo" in get_commands():
            if demo != "show" and not (settings.BIBID_DEMO or settings.DEBUG):
                raise CommandError("Demo data needs BIBID_DEMO=1; refusing on this database.")
            out = io.StringIO()
            call_command("load_demo", show=demo == "show", if_empty=demo == "if-empty", stdout=out)
            result = json.loads(out.getvalue())
        self.stdout.write(json.dumps(result))
