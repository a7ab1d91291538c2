"""The management command both imports share: options, progress bar, summary, Ctrl-C."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from . import runner


class ImportCommand(BaseCommand):
    """`bibid <service> import FILE [--dry-run] [--report PATH] ...` (docs/import.md)."""

    service = ""

    def make_importer(self, options: dict[str, Any]) -> runner.Importer:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON Lines (.jsonl) or CSV (.csv), see docs/import.md")
        parser.add_argument("--format", choices=["jsonl", "csv"], help="instead of the suffix")
        parser.add_argument(
            "--report", help="where the report goes (default: FILE.report.csv; .jsonl for JSON)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check every row, write only the report"
        )
        parser.add_argument("--batch-size", type=int, default=2000, help="rows per transaction")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        importer = self.make_importer(options)

        def progress(total: int, initial: int):
            return tqdm(
                total=total,
                initial=initial,
                unit=" lines",
                file=self.stderr,
                disable=options["no_progress"],
                dynamic_ncols=True,
            )

        try:
            summary = runner.run(
                importer,
                options["file"],
                fmt=options["format"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                actor=f"cli:{getpass.getuser()}",
                report=options["report"],
                progress=progress,
            )
        except runner.ImportFileError as error:
            raise CommandError(str(error)) from error
        except FileNotFoundError as error:
            raise CommandError(f"No such file: {options['file']}") from error
        except KeyboardInterrupt:
            self.stderr.write(
                "Interrupted. Every batch written so far is complete; run the same command "
                "on the same file to continue where it stopped."
            )
            raise SystemExit(130) from None
        counts = ", ".join(f"{key}: {value}" for key, value in sorted(summary.counts.items()))
        what = "dry run (nothing written)" if summary.dry_run else f"import run {summary.run_id}"
        if summary.resumed_at_line:
            what += f", resumed after line {summary.resumed_at_line}"
        self.stdout.write(f"{self.service} {what}: {counts or 'no rows'}")
        self.stdout.write(f"report: {summary.report}")
