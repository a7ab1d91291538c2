"""Database sessions that cost one INSERT when a session starts, not SELECT + INSERT + UPDATE.

Django's database store checks that a new random key is unused (a SELECT), inserts the
empty session when the key is cycled at sign-in, then updates it with the signed-in user at
the end of the request. Here a new session is written once, when it is first saved: the key
has 190 bits of randomness, so a collision does not happen (and the primary key would still
refuse one).
"""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils.crypto import get_random_string

from bibid.common import fastsql


class SessionStore(DatabaseSessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._unsaved = False
        self._saved_data: dict | None = None

    def _get_new_session_key(self) -> str:
        return get_random_string(37, VALID_KEY_CHARS)

    def create(self) -> None:
        self._session_key = self._get_new_session_key()
        self._session_cache = getattr(self, "_session_cache", {})
        self._unsaved = True
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
        must_create = must_create or self._unsaved
        data = dict(self._get_session(no_load=must_create))
        if not must_create and data == self._saved_data:
            return  # already written in this request, unchanged since
        if must_create:
            self._insert(data)
        else:
            super().save(must_create=False)
        self._unsaved = False
        self._saved_data = data

    def _insert(self, data: dict) -> None:
        """One INSERT (see bibid.common.fastsql).

        No savepoint around it: with 190 random bits a taken key does not happen, and if it
        ever did, the unique key would refuse it and the request would fail as a whole.
        """
        fastsql.insert(
            self.model,
            session_key=self._get_or_create_session_key(),
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
        )
