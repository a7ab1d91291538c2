"""`bibid identity import`: login accounts from today's national login, with their library links.

One row per account (docs/import.md): username, recovery_email, recovery_email_confirmed_at,
state, password_hash, created_at, last_login_at, links [{library, card_number}]. Every row is
checked by the rules the rest of the service applies (usernames.validate_username, Django's
e-mail validator, the libraries' card-number ranges, the birth of an account in the past),
then written in bulk: the account, its links, and for each link the `link_created` change
that puts it in the library's changes feed, as a link made through the library API does
(services.tell_library_linked). The run itself is the audit event (one ImportRun with its
counts), not one event per row: a million AccountEvents would say nothing a run does not.

This module lives with the links, not with the accounts, because it writes links and the
feed: the layers (pyproject.toml) let libraries use accounts, not the other way round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import is_password_usable, make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from bibid.common import clock
from bibid.common.imports.runner import (
    CONFLICT,
    REFUSED,
    BatchResult,
    Finding,
    Row,
    Summary,
    differing,
    fingerprint,
)
from bibid.identity.accounts import usernames
from bibid.identity.accounts.imported_hashers import Refused, adopt
from bibid.identity.accounts.models import Account
from bibid.identity.accounts.services import inactive_cutoff

from .models import Change, Library, Link

logger = logging.getLogger("bibid.imports")

FIELDS = (
    "username",
    "recovery_email",
    "recovery_email_confirmed_at",
    "state",
    "password_hash",
    "created_at",
    "last_login_at",
    "links",
)
# "blocked" in today's system is its lock after wrong passwords. Here guessing is slowed per
# account by the guard, never locked for good (domain.md: a permanent lock is a way to keep a
# patron out), so the account comes in active and the guard decides from its own counts.
STATES = {
    "active": Account.State.ACTIVE,
    "inactive": Account.State.INACTIVE,
    "blocked": Account.State.ACTIVE,
}
PASSWORD_MAX = Account._meta.get_field("password").max_length
WITHOUT_PASSWORD = "without_password"  # noqa: S105 - an outcome, not a password
# What decides "the same account": a re-run skips a row whose account has all of these.
COMPARED = (
    "username",
    "recovery_email",
    "recovery_email_confirmed_at",
    "state",
    "password",
    "created_at",
    "links",
)


@dataclass
class Candidate:
    line: int
    username: str
    key: str
    recovery_email: str
    confirmed_at: datetime | None
    state: str
    password: str
    created_at: datetime | None  # None: not in the row (then: the time of the import)
    last_login: datetime | None
    links: list[tuple[Library, str]]
    blocked: bool = False
    note: Finding | None = None  # imported without its (weak) password

    def content(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "recovery_email": self.recovery_email,
            "recovery_email_confirmed_at": self.confirmed_at,
            "state": self.state,
            "password": self.password if is_password_usable(self.password) else "",
            "created_at": self.created_at,
            "links": sorted((library.code, card) for library, card in self.links),
        }

    def fingerprint(self) -> bytes:
        return fingerprint(self.content(), COMPARED)

    def ignored(self) -> frozenset[str]:
        # A row without created_at gets the time of its import, which a re-run cannot match.
        return frozenset({"created_at"}) if self.created_at is None else frozenset()


class AccountImporter:
    """Checks and writes batches of account rows for bibid.common.imports.runner."""

    kind = "accounts"
    fields = FIELDS
    json_fields = frozenset({"links"})

    def __init__(self, *, weak_hashes: str = "refuse") -> None:
        self.weak_hashes = weak_hashes
        self.libraries = {library.code: library for library in Library.objects.all()}
        self.cutoff = inactive_cutoff()
        # A dry run writes nothing, so what earlier batches would have created is kept here
        # (a fingerprint per account): enough to report what a real run would.
        self.seen: dict[str, bytes] = {}
        self.seen_cards: set[str] = set()

    # -- one row -----------------------------------------------------------------------

    def check(self, row: Row) -> tuple[Candidate | None, list[Finding]]:
        data = row.data or {}
        problems: list[tuple[str, str, str]] = []

        def refuse(name: str, code: str, reason: str) -> None:
            problems.append((name, code, str(reason)))

        username = usernames.normalize(_text(data, "username"))
        try:
            usernames.validate_username(username)
        except ValidationError as error:
            refuse("username", error.code or "invalid_username", error.messages[0])
        links = self._links(data.get("links"), refuse)
        owner = self._card_owner(username)
        if owner is not None and (owner.code, username) not in {
            (library.code, card) for library, card in links
        }:
            # The rule of ranges.refuse_card_number_as_username, against the libraries read
            # once: a card number is a username only for that card's own account.
            refuse(
                "username",
                "username_is_card_number",
                _("Deze gebruikersnaam is een pasnummer van een andere klant of bibliotheek."),
            )
        email = _text(data, "recovery_email")
        if email:
            email = Account.objects.normalize_email(email)
            try:
                if len(email) > 254:
                    raise ValidationError("too long")
                validate_email(email)
            except ValidationError:
                refuse("recovery_email", "invalid_email", _("Geen geldig e-mailadres."))
        confirmed_at = _when(data, "recovery_email_confirmed_at", refuse)
        if confirmed_at is not None and not email:
            refuse(
                "recovery_email_confirmed_at",
                "confirmed_without_email",
                _("Een bevestigingsmoment zonder e-mailadres."),
            )
        state_text = _text(data, "state").lower() or "active"
        state = STATES.get(state_text)
        if state is None:
            refuse(
                "state",
                "unknown_state",
                _("Onbekende status %(state)s: active, inactive of blocked.")
                % {"state": state_text[:40]},
            )
        created_at = _when(data, "created_at", refuse)
        last_login = _when(data, "last_login_at", refuse)
        if state == Account.State.INACTIVE and (created_at or clock.now()) < self.cutoff:
            # The purge would delete it within the hour (it was never activated in time),
            # and the libraries would hear "account deleted": better not to bring it in.
            refuse(
                "state",
                "inactive_expired",
                _(
                    "Nooit geactiveerd en ouder dan de activeringstermijn: zou meteen "
                    "opgeruimd worden."
                ),
            )
        password, note = self._password(_text(data, "password_hash"), row.line, username, refuse)
        if problems:
            key = username[:200]
            return None, [Finding(row.line, key, REFUSED, *problem) for problem in problems]
        return Candidate(
            line=row.line,
            username=username,
            key=usernames.username_key(username),
            recovery_email=email,
            confirmed_at=confirmed_at,
            state=state,
            password=password,
            created_at=created_at,
            last_login=last_login,
            links=links,
            blocked=state_text == "blocked",
            note=note,
        ), []

    def _password(self, raw: str, line: int, username: str, refuse) -> tuple[str, Finding | None]:
        if not raw:
            return make_password(None), None  # no password yet: the patron sets one
        try:
            stored = adopt(raw)
            if len(stored) > PASSWORD_MAX:
                raise Refused("malformed_hash", _("Deze hash is te lang om te bewaren."))
            return stored, None
        except Refused as refused:
            if refused.code == "weak_hash" and self.weak_hashes == WITHOUT_PASSWORD:
                note = Finding(
                    line,
                    username,
                    WITHOUT_PASSWORD,
                    "password_hash",
                    refused.code,
                    _("Ingelezen zonder wachtwoord: %(reason)s") % {"reason": refused.reason},
                )
                return make_password(None), note
            # The reason names the format, never the hash: the report holds no secret.
            refuse("password_hash", refused.code, refused.reason)
            return "", None

    def _links(self, value: Any, refuse) -> list[tuple[Library, str]]:
        if value in (None, "", []):
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            refuse("links", "invalid_links", _("links is een lijst van {library, card_number}."))
            return []
        links: list[tuple[Library, str]] = []
        for item in value:
            code = str(item.get("library") or "")
            card = str(item.get("card_number") or item.get("customer_ref") or "").strip()
            library = self.libraries.get(code)
            if library is None:
                refuse(
                    "links",
                    "unknown_library",
                    _("Onbekende bibliotheek %(code)s.") % {"code": code[:64]},
                )
                continue
            if not card or not card.isalnum() or len(card) > 64:
                refuse("links", "invalid_card_number", _("Geen geldig pasnummer."))
                continue
            if not library.owns_card_number(card):
                # ranges.require_in_range: a card number belongs to the library whose range
                # holds it, or it would sign in at the wrong account.
                refuse(
                    "links",
                    "card_number_not_in_range",
                    _("Pasnummer %(card)s valt buiten de pasnummerreeksen van %(code)s.")
                    % {"card": card, "code": code},
                )
                continue
            if any(other.pk == library.pk for other, _card in links):
                refuse(
                    "links",
                    "duplicate_library",
                    _("Twee koppelingen met %(code)s: één klant per bibliotheek.") % {"code": code},
                )
                continue
            links.append((library, card))
        return links

    def _card_owner(self, name: str) -> Library | None:
        if not name.isalnum():
            return None
        return next((lib for lib in self.libraries.values() if lib.owns_card_number(name)), None)

    # -- one batch ---------------------------------------------------------------------

    def write(self, rows: list[Row], *, dry_run: bool) -> BatchResult:
        result = BatchResult()
        candidates: list[Candidate] = []
        for row in rows:
            candidate, findings = self.check(row)
            if candidate is None:
                result.findings.extend(findings)
                result.counts[REFUSED] += 1
            else:
                candidates.append(candidate)
        existing = _existing_accounts([c.key for c in candidates])
        taken = _linked_cards(candidates)
        in_batch: dict[str, Candidate] = {}
        cards: set[str] = set()
        new: list[Candidate] = []
        for candidate in candidates:
            verdict = self._compare(candidate, existing, in_batch)
            if verdict is not None:
                outcome, finding = verdict
                result.counts[outcome] += 1
                if finding is not None:
                    result.findings.append(finding)
                continue
            mine = {f"{library.pk}:{card}" for library, card in candidate.links}
            clash = {c for c in mine if c in taken or c in cards or c in self.seen_cards}
            if clash:
                result.counts[REFUSED] += 1
                result.findings.append(
                    Finding(
                        candidate.line,
                        candidate.username,
                        REFUSED,
                        "links",
                        "card_already_linked",
                        _("Deze klant heeft al een ander inlogaccount (%(cards)s).")
                        % {"cards": ", ".join(sorted(c.split(":", 1)[1] for c in clash))},
                    )
                )
                continue
            in_batch[candidate.key] = candidate
            cards |= mine
            new.append(candidate)
        if dry_run:
            for candidate in new:
                self.seen[candidate.key] = candidate.fingerprint()
            self.seen_cards |= cards
        else:
            _create(new)
        result.counts["created"] += len(new)
        result.counts["links"] += sum(len(c.links) for c in new)
        result.counts["blocked_as_active"] += sum(c.blocked for c in new)
        result.findings.extend(c.note for c in new if c.note is not None)
        return result

    def _compare(
        self, candidate: Candidate, existing: dict[str, bytes], in_batch: dict[str, Candidate]
    ) -> tuple[str, Finding | None] | None:
        """None for a new account; else skipped (the same) or conflict (other data)."""
        if candidate.key in in_batch:
            held = in_batch[candidate.key].fingerprint()
        else:
            held = existing.get(candidate.key) or self.seen.get(candidate.key)
        if held is None:
            return None
        differs = differing(COMPARED, held, candidate.fingerprint(), candidate.ignored())
        if not differs:
            return "skipped", None
        return CONFLICT, Finding(
            candidate.line,
            candidate.username,
            CONFLICT,
            "username",
            "conflict",
            _("Er is al een account met deze gebruikersnaam, met andere gegevens (%(what)s).")
            % {"what": ", ".join(differs)},
        )

    def finish(self, summary: Summary) -> None:
        logger.info(
            "identity import %s: %s",
            "dry run" if summary.dry_run else f"run {summary.run_id}",
            ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items())),
        )


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    return repr(value)  # refused by the check of that field


def _when(data: dict, name: str, refuse) -> datetime | None:
    text = _text(data, name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        refuse(name, "invalid_datetime", _("Geen datum en tijd volgens ISO 8601."))
        return None
    if timezone.is_naive(value):
        # A time without zone is read as the libraries' local time (Europe/Amsterdam).
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if value > clock.now():
        refuse(name, "in_future", _("Dit tijdstip ligt in de toekomst."))
        return None
    return value


def _existing_accounts(keys: list[str]) -> dict[str, bytes]:
    """The fingerprints of the accounts these usernames already have (by username key)."""
    if not keys:
        return {}
    rows = {
        row["id"]: row
        for row in Account.objects.filter(username_key__in=keys).values(
            "id",
            "username",
            "username_key",
            "recovery_email",
            "recovery_email_confirmed_at",
            "state",
            "password",
            "created_at",
        )
    }
    links: dict[int, list] = {pk: [] for pk in rows}
    for account_id, code, card in Link.objects.filter(account_id__in=list(rows)).values_list(
        "account_id", "library__code", "customer_ref"
    ):
        links[account_id].append((code, card))
    held = {}
    for pk, row in rows.items():
        content = {
            **row,
            "password": row["password"] if is_password_usable(row["password"]) else "",
            "links": sorted(links[pk]),
        }
        held[row["username_key"]] = fingerprint(content, COMPARED)
    return held


def _linked_cards(candidates: list[Candidate]) -> set[str]:
    """The cards of these rows that are linked already ("<library pk>:<card>")."""
    wanted: dict[int, set[str]] = {}
    for candidate in candidates:
        for library, card in candidate.links:
            wanted.setdefault(library.pk, set()).add(card)
    taken = set()
    for library_id, cards in wanted.items():
        for card in Link.objects.filter(library_id=library_id, customer_ref__in=cards).values_list(
            "customer_ref", flat=True
        ):
            taken.add(f"{library_id}:{card}")
    return taken


def _create(new: list[Candidate]) -> None:
    """The accounts, their links and the libraries' feed rows: three bulk INSERTs."""
    if not new:
        return
    now = clock.now()
    accounts = [
        Account(
            username=c.username,
            username_key=c.key,
            recovery_email=c.recovery_email,
            recovery_email_confirmed_at=c.confirmed_at,
            # Confirmed in today's system: by the patron, through a link as here.
            recovery_email_set_by="patron" if c.confirmed_at else "",
            state=c.state,
            created_at=c.created_at or now,
            # When it was activated is not known; it was active by its creation at the latest.
            activated_at=(c.created_at or now) if c.state == Account.State.ACTIVE else None,
            last_login=c.last_login,
            password=c.password,
        )
        for c in new
    ]
    Account.objects.bulk_create(accounts)
    links = [
        Link(library=library, customer_ref=card, card_number=card, account=account, linked_at=now)
        for candidate, account in zip(new, accounts, strict=True)
        for library, card in candidate.links
    ]
    Link.objects.bulk_create(links)
    # The same row services.tell_library_linked writes for a link made through the API: the
    # library's feed reader repairs its side from it (loginaccounts.feed, `link_created`).
    Change.objects.bulk_create(
        Change(
            library_id=link.library.pk,
            at=now,
            kind=Change.Kind.LINK_CREATED,
            customer_ref=link.customer_ref,
            account_public_id=link.account.public_id,
            data={"username": link.account.username},
        )
        for link in links
    )
