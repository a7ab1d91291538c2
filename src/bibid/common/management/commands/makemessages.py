"""makemessages without fuzzy matching: a new Dutch string must get its own English
translation, not a guess from a similar one (used by scripts/messages)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
