"""bibid library import FILE: customers and subscriptions from today's library system."""

from bibid.common.imports.command import ImportCommand
from bibid.library.customers.importing import CustomerImporter


class Command(ImportCommand):
    help = "Import customers with their subscriptions (docs/import.md); run before identity's."
    service = "library"

    def make_importer(self, options):
        return CustomerImporter()
