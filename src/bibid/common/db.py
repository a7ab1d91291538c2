"""Database helpers shared by the services."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def quick_commit() -> Iterator[None]:
    """A transaction whose commit does not wait for the disk (PostgreSQL asynchronous commit).

    Only for writes whose loss in a server crash costs little (a guessing counter, the record
    of a sign-in, a fresh session: at worst a patron signs in again), while waiting for the
    WAL flush would cost every sign-in a disk round trip with the CPU idle. PostgreSQL
    guarantees no corruption and no reordering; a crash can lose the last few hundred
    milliseconds of such commits (docs: "Asynchronous Commit"). SQLite in WAL mode with
    synchronous=NORMAL already behaves like this.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
