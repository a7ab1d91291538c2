"""bibid library sync --library X: push every linked customer's rights now (bulk)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bibid.library.loginaccounts.identity import IdentityError
from bibid.library.loginaccounts.sync import sync
from bibid.library.tenants.models import Library


class Command(BaseCommand):
    help = "Push the authorization of every linked customer of a library to the login service."

    def add_arguments(self, parser):
        parser.add_argument("--library", required=True, help="library code")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, library: str, no_progress: bool, **options):
        found = Library.objects.filter(code=library).first()
        if found is None:
            raise CommandError(f"No library {library!r}.")
        total = found.customers.filter(account_id__isnull=False).count()
        bar = None if no_progress else tqdm(total=total, unit="customer", file=self.stderr)
        try:
            counts = sync(found, progress=bar.update if bar else None)
        except IdentityError as error:
            raise CommandError(f"The login service could not be reached: {error}") from error
        finally:
            if bar:
                bar.close()
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in counts.items()))
