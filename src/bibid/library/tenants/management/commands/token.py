"""bibid library token --library L --user U: issue a personal API token for a staff member."""

from django.core.management.base import BaseCommand, CommandError

from bibid.library.staff.models import Staff
from bibid.library.staff.permissions import Actor
from bibid.library.staff.tokens import create_token


class Command(BaseCommand):
    help = "Issue an API token for a staff member of a library; it is shown only now."

    def add_arguments(self, parser):
        parser.add_argument("--library", required=True, help="library code")
        parser.add_argument("--user", required=True, help="staff username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, library: str, user: str, name: str, **options):
        staff = Staff.objects.filter(username=user.strip().lower(), library__code=library).first()
        if staff is None:
            raise CommandError(f"No staff member {user!r} at library {library!r}.")
        raw, _token = create_token(actor=Actor.system("cli"), staff=staff, name=name)
        self.stdout.write(raw)
