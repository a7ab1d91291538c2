"""bibid purge-inactive: delete inactive accounts past the activation window."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from bibid.identity.accounts.actors import Actor
from bibid.identity.accounts.services import purge_inactive_accounts


class Command(BaseCommand):
    help = "Delete inactive login accounts older than 24 hours, in batches, with a tombstone each."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count, delete nothing.")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, dry_run: bool, batch_size: int, no_progress: bool, **options):
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            raise SystemExit(2)
        bar = None
        if not dry_run and not no_progress:
            bar = tqdm(desc="purging", unit="account", file=self.stderr)
        try:
            report = purge_inactive_accounts(
                actor=Actor.system("purge-inactive"),
                batch_size=batch_size,
                dry_run=dry_run,
                # `is not None`: a tqdm without a total has no truth value (bool() raises).
                progress=bar.update if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()
        cutoff = report.cutoff.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        if report.dry_run:
            self.stdout.write(
                f"{report.found} inactive account(s) created before {cutoff} "
                "would be deleted (dry run, nothing deleted)."
            )
        else:
            self.stdout.write(
                f"{report.deleted} inactive account(s) created before {cutoff} deleted."
            )
