"""bibid identity import FILE: login accounts from today's login system (docs/import.md)."""

from bibid.common.imports.command import ImportCommand
from bibid.identity.libraries.importing import WITHOUT_PASSWORD, AccountImporter


class Command(ImportCommand):
    help = "Import login accounts with their password hashes and library links (docs/import.md)."
    service = "identity"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--weak-hashes",
            choices=["refuse", WITHOUT_PASSWORD.replace("_", "-")],
            default="refuse",
            help=(
                "unsalted or MD5 hashes: refuse the row (default), or import the account "
                "without a password (the patron chooses a new one)"
            ),
        )

    def make_importer(self, options):
        return AccountImporter(weak_hashes=options["weak_hashes"].replace("-", "_"))
