"""`bibid library import`: customers and their subscriptions from today's library system.

One row per customer (docs/import.md): library, card_number, name, birth_date, email, phone,
kind, subscription_type, subscription_start, subscription_end. Checked by the rules of the
desk and the API (check_birth_date, the printable-text validator, the subscription type's
age limits), written in bulk per batch by bibid.common.imports.runner, with the same
checkpoint, report and dry run as the identity import.

The library import runs first: the identity import then links login accounts to these card
numbers, and this service learns of each link from identity's changes feed (`link_created`,
loginaccounts.feed), which finds the customer by its card number. Nothing is pushed to
identity here: a customer has no login account until that link arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import translation
from django.utils.translation import gettext as _

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
from bibid.common.problems import Problem
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.subscriptions.services import _check_age, default_end
from bibid.library.tenants.models import Library

from .models import Customer
from .services import check_birth_date
from .validators import printable

logger = logging.getLogger("bibid.imports")

FIELDS = (
    "library",
    "card_number",
    "name",
    "birth_date",
    "email",
    "phone",
    "kind",
    "subscription_type",
    "subscription_start",
    "subscription_end",
)
CARD_MAX = Customer._meta.get_field("card_number").max_length
PERSON = ("name", "birth_date", "email", "phone", "kind")
COMPARED = (*PERSON, "subscription")


@dataclass
class Candidate:
    line: int
    library: Library
    card_number: str
    name: str
    birth_date: date
    email: str
    phone: str
    kind: str
    type: SubscriptionType | None
    start: date | None
    end: date | None

    @property
    def key(self) -> str:
        return f"{self.library.code}:{self.card_number}"

    def content(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "birth_date": self.birth_date,
            "email": self.email,
            "phone": self.phone,
            "kind": self.kind,
            "subscription": (self.type.code, self.start, self.end) if self.type else None,
        }

    def fingerprint(self, names: tuple[str, ...] = COMPARED) -> bytes:
        return fingerprint(self.content(), names)

    def ignored(self) -> frozenset[str]:
        # A row without a subscription says nothing about the customer's subscriptions.
        return frozenset() if self.type else frozenset({"subscription"})


class CustomerImporter:
    """Checks and writes batches of customer rows for bibid.common.imports.runner."""

    kind = "customers"
    fields = FIELDS
    json_fields: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.libraries = {library.code: library for library in Library.objects.all()}
        self.types = {
            (t.library_id, t.code): t for t in SubscriptionType.objects.select_related("library")
        }
        self.seen: dict[str, bytes] = {}  # a dry run's would-be customers (fingerprints)

    def check(self, row: Row) -> tuple[Candidate | None, list[Finding]]:
        data = row.data or {}
        problems: list[tuple[str, str, str]] = []

        def refuse(name: str, code: str, reason) -> None:
            problems.append((name, code, str(reason)))

        code = _text(data, "library")
        library = self.libraries.get(code)
        if library is None:
            refuse("library", "unknown_library", _("Onbekende bibliotheek %s.") % code[:64])
        card = _text(data, "card_number")
        if not card or not card.isalnum() or len(card) > CARD_MAX:
            refuse(
                "card_number",
                "invalid_card_number",
                _("Een pasnummer is 1 tot %d letters en cijfers.") % CARD_MAX,
            )
        name = _text(data, "name")
        if not name or len(name) > 200:
            refuse("name", "invalid_name", _("Een naam is 1 tot 200 tekens."))
        for text_field in ("name", "phone"):
            try:
                printable(_text(data, text_field))
            except ValidationError as error:
                refuse(text_field, error.code or "invalid", error.messages[0])
        phone = _text(data, "phone")
        if len(phone) > 30:
            refuse("phone", "invalid_phone", _("Een telefoonnummer is hoogstens 30 tekens."))
        birth_date = _day(data, "birth_date", refuse)
        if birth_date is None and "birth_date" not in {p[0] for p in problems}:
            refuse("birth_date", "required", _("De geboortedatum ontbreekt."))
        if birth_date is not None:
            try:
                check_birth_date(birth_date)
            except Problem as problem:
                refuse("birth_date", problem.code, _words(problem))
        email = _text(data, "email")
        if email:
            try:
                validate_email(email)
                if len(email) > 254:
                    raise ValidationError("too long")
            except ValidationError:
                refuse("email", "invalid_email", _("Geen geldig e-mailadres."))
        kind = _text(data, "kind") or Customer.Kind.REGULAR
        if kind not in Customer.Kind.values:
            refuse(
                "kind", "unknown_kind", _("Onbekende soort klant: regular, colleague of volunteer.")
            )
        type_, start, end = self._subscription(data, library, refuse)
        if not problems and type_ is not None and start is not None:
            # The age limits of the subscription type on its first day, as at the desk
            # (subscriptions.services). A type no longer for sale is fine: the customer
            # bought it when it was.
            probe = Customer(library=library, card_number=card, name=name, birth_date=birth_date)
            try:
                _check_age(type_, probe, Membership.Role.MAIN, start)
            except Problem as problem:
                refuse("subscription_type", problem.code, _words(problem))
        if problems:
            key = f"{code}:{card}"[:200]
            return None, [Finding(row.line, key, REFUSED, *problem) for problem in problems]
        return Candidate(
            row.line, library, card, name, birth_date, email, phone, kind, type_, start, end
        ), []

    def _subscription(self, data: dict, library: Library | None, refuse):
        code = _text(data, "subscription_type")
        start = _day(data, "subscription_start", refuse)
        end = _day(data, "subscription_end", refuse)
        if not code:
            if start or end:
                refuse(
                    "subscription_type",
                    "required",
                    _("Een begin- of einddatum zonder abonnementsvorm."),
                )
            return None, None, None
        type_ = self.types.get((library.pk, code)) if library else None
        if type_ is None:
            if library is not None:
                refuse(
                    "subscription_type",
                    "unknown_subscription_type",
                    _("Onbekende abonnementsvorm %s bij deze bibliotheek.") % code[:64],
                )
            return None, None, None
        if start is None:
            refuse("subscription_start", "required", _("De ingangsdatum ontbreekt."))
            return None, None, None
        end = end or default_end(start)
        if end < start:
            refuse(
                "subscription_end", "end_before_start", _("De einddatum ligt voor de ingangsdatum.")
            )
        return type_, start, end

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
        existing = _existing(candidates)
        in_batch: dict[str, Candidate] = {}
        new: list[Candidate] = []
        for candidate in candidates:
            key = candidate.key
            if key in existing:
                person, subscriptions = existing[key]
                differs = differing(PERSON, person, candidate.fingerprint(PERSON))
                if candidate.type and candidate.content()["subscription"] not in subscriptions:
                    differs.append("subscription")
            elif key in in_batch or key in self.seen:
                held = in_batch[key].fingerprint() if key in in_batch else self.seen[key]
                differs = differing(COMPARED, held, candidate.fingerprint(), candidate.ignored())
            else:
                in_batch[key] = candidate
                new.append(candidate)
                continue
            if not differs:
                result.counts["skipped"] += 1
                continue
            result.counts[CONFLICT] += 1
            result.findings.append(
                Finding(
                    candidate.line,
                    key,
                    CONFLICT,
                    "card_number",
                    "conflict",
                    _("Er is al een klant met dit pasnummer, met andere gegevens (%(what)s).")
                    % {"what": ", ".join(differs)},
                )
            )
        if dry_run:
            for candidate in new:
                self.seen[candidate.key] = candidate.fingerprint()
        else:
            _create(new)
        result.counts["created"] += len(new)
        result.counts["subscriptions"] += sum(1 for c in new if c.type is not None)
        return result

    def finish(self, summary: Summary) -> None:
        if not summary.dry_run:
            # The run's one audit event, with its counts (not one per customer).
            audit.record(
                actor=Actor.system("cli"),
                action="customers_import",
                result="ok" if summary.finished else "failed",
                detail={"run": summary.run_id, **summary.counts},
            )
        logger.info(
            "library import %s: %s",
            "dry run" if summary.dry_run else f"run {summary.run_id}",
            ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items())),
        )


def _words(problem: Problem) -> str:
    return problem.text(translation.get_language() or "nl")


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    return repr(value)


def _day(data: dict, name: str, refuse) -> date | None:
    text = _text(data, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        refuse(name, "invalid_date", _("Geen datum volgens ISO 8601 (JJJJ-MM-DD)."))
        return None


def _existing(candidates: list[Candidate]) -> dict[str, tuple[bytes, list[tuple]]]:
    """For the customers these rows name that exist already: the fingerprint of the person,
    and the subscriptions they hold as the main member."""
    by_library: dict[int, set[str]] = {}
    for candidate in candidates:
        by_library.setdefault(candidate.library.pk, set()).add(candidate.card_number)
    people: dict[int, tuple[str, dict]] = {}
    codes = {c.library.pk: c.library.code for c in candidates}
    for library_id, cards in by_library.items():
        for row in Customer.objects.filter(library_id=library_id, card_number__in=cards).values(
            "id", "card_number", *PERSON
        ):
            people[row["id"]] = (f"{codes[library_id]}:{row['card_number']}", row)
    subscriptions: dict[int, list[tuple]] = {pk: [] for pk in people}
    for customer_id, *held in Membership.objects.filter(
        customer_id__in=list(people), role=Membership.Role.MAIN
    ).values_list(
        "customer_id", "subscription__type__code", "subscription__start", "subscription__end"
    ):
        subscriptions[customer_id].append(tuple(held))
    return {key: (fingerprint(row, PERSON), subscriptions[pk]) for pk, (key, row) in people.items()}


def _create(new: list[Candidate]) -> None:
    """Customers, subscriptions and memberships: three bulk INSERTs; card counters moved on."""
    if not new:
        return
    customers = [
        Customer(
            library=c.library,
            card_number=c.card_number,
            name=c.name,
            birth_date=c.birth_date,
            email=c.email,
            phone=c.phone,
            kind=c.kind,
        )
        for c in new
    ]
    Customer.objects.bulk_create(customers)
    sold = [(c, customer) for c, customer in zip(new, customers, strict=True) if c.type]
    subscriptions = [
        Subscription(library=c.library, type=c.type, start=c.start, end=c.end) for c, _ in sold
    ]
    Subscription.objects.bulk_create(subscriptions)
    Membership.objects.bulk_create(
        Membership(subscription=subscription, customer=customer, role=Membership.Role.MAIN)
        for (_c, customer), subscription in zip(sold, subscriptions, strict=True)
    )
    _move_card_counters(new)


def _move_card_counters(new: list[Candidate]) -> None:
    """Past the highest imported number of the library's own series (services.
    next_card_number writes prefix + zero-padded number): the next customer at the desk
    must not get a card number an imported customer has."""
    highest: dict[int, int] = {}
    for c in new:
        prefix = c.library.card_prefix
        rest = c.card_number[len(prefix) :]
        if c.card_number.startswith(prefix) and rest.isdigit() and len(c.card_number) == 10:
            highest[c.library.pk] = max(highest.get(c.library.pk, 0), int(rest))
    for library_id, number in highest.items():
        Library.objects.filter(pk=library_id).update(
            next_card_number=Greatest(F("next_card_number"), Value(number + 1))
        )
