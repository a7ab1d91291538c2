"""bibid library import: customers and subscriptions, the report, dry run, resume, re-run."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from bibid.common import clock
from bibid.common.imports import runner
from bibid.common.imports.models import ImportProblem, ImportRun
from bibid.library.customers import importing
from bibid.library.customers.models import Customer
from bibid.library.customers.services import CustomerData, create_customer
from bibid.library.loginaccounts import feed
from bibid.library.loginaccounts.models import PendingPush
from bibid.library.staff.models import AuditEvent
from bibid.library.staff.permissions import Actor
from bibid.library.subscriptions.models import Membership, Subscription, SubscriptionType
from bibid.library.tenants.models import Library

pytestmark = pytest.mark.django_db


@pytest.fixture
def libraries(db):
    maas = Library.objects.create(code="maas", name="Bibliotheek aan de Maas", card_prefix="2010")
    duin = Library.objects.create(code="duin", name="Bibliotheek Duinrand", card_prefix="3030")
    for library in (maas, duin):
        SubscriptionType.objects.create(
            library=library, code="basis", name="Basis", price=Decimal("45.00"), min_age=18
        )
        SubscriptionType.objects.create(
            library=library, code="jeugd", name="Jeugd", price=Decimal("0.00"), max_age=17
        )
    return maas, duin


def customer_row(card="2010000001", **extra):
    row = {
        "library": "maas",
        "card_number": card,
        "name": "Anna Jansen",
        "birth_date": "1980-05-01",
        "email": "anna@example.org",
        "phone": "010-1234567",
        "kind": "regular",
        "subscription_type": "basis",
        "subscription_start": "2025-09-01",
        "subscription_end": "2026-08-31",
    }
    return row | extra


def write_jsonl(tmp_path, rows, name="customers.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def do_import(path, *, batch_size=2000, dry_run=False, report=None):
    return runner.run(
        importing.CustomerImporter(), path, batch_size=batch_size, dry_run=dry_run, report=report
    )


def read_report(summary) -> list[dict]:
    with summary.report.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_customers_and_subscriptions_are_made(tmp_path, libraries):
    maas, duin = libraries
    rows = [
        customer_row(),
        customer_row("3030000007", library="duin", name="Kees Duin", subscription_end=""),
        customer_row(
            "2010000002",
            name="Lotte Bos",
            birth_date="2014-02-03",
            subscription_type="jeugd",
            kind="",
        ),
        customer_row(
            "2010000003",
            name="Zonder Abonnement",
            subscription_type="",
            subscription_start="",
            subscription_end="",
        ),
    ]
    summary = do_import(write_jsonl(tmp_path, rows))
    assert summary.counts == {"rows": 4, "created": 4, "subscriptions": 3}
    anna = Customer.objects.get(library=maas, card_number="2010000001")
    assert (anna.name, anna.birth_date, anna.email, anna.phone) == (
        "Anna Jansen",
        date(1980, 5, 1),
        "anna@example.org",
        "010-1234567",
    )
    assert not anna.has_login_account  # until identity links an account (its feed)
    subscription = Subscription.objects.get(memberships__customer=anna)
    assert (subscription.type.code, subscription.start, subscription.end) == (
        "basis",
        date(2025, 9, 1),
        date(2026, 8, 31),
    )
    assert Membership.objects.get(customer=anna).role == "main"
    kees = Subscription.objects.get(memberships__customer__card_number="3030000007")
    assert kees.end == date(2026, 8, 31)  # 365 days with the start day, as at the desk
    assert kees.library == duin
    assert not Subscription.objects.filter(memberships__customer__card_number="2010000003")
    # One audit event for the run, with its counts; nothing pushed to identity.
    event = AuditEvent.objects.get()
    assert (event.action, event.detail["created"], event.detail["run"]) == (
        "customers_import",
        4,
        summary.run_id,
    )
    assert not PendingPush.objects.exists()


def test_the_desk_hands_out_numbers_after_the_imported_ones(tmp_path, libraries):
    maas, _duin = libraries
    do_import(write_jsonl(tmp_path, [customer_row("2010000500"), customer_row("2010000042")]))
    created = create_customer(
        actor=Actor.system("test"),
        library=maas,
        data=CustomerData(name="Nieuw Lid", birth_date=date(1990, 1, 1)),
    )
    assert created.card_number == "2010000501"


def test_an_identity_link_to_an_imported_card_reaches_the_customer(tmp_path, libraries):
    """The two imports fit through the feed: identity's link_created row for a card number
    finds the customer the library import made (identity's side: tests/identity)."""
    maas, _duin = libraries
    do_import(write_jsonl(tmp_path, [customer_row()]))
    account_id = uuid.uuid4()
    change = {
        "id": 1,
        "kind": "link_created",
        "customer_ref": "2010000001",
        "account_id": str(account_id),
        "at": clock.now().isoformat(),
        "data": {"username": "anna.jansen"},
    }
    feed.apply_change(maas, change)
    anna = Customer.objects.get(card_number="2010000001")
    assert (anna.account_id, anna.account_username) == (account_id, "anna.jansen")
    assert PendingPush.objects.filter(customer=anna).exists()  # its rights go to identity


def test_the_same_rows_as_csv(tmp_path, libraries):
    path = tmp_path / "customers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(importing.FIELDS)
        writer.writerow([customer_row()[name] for name in importing.FIELDS])
        row = customer_row("2010000002", name="Bos, Lotte")  # a comma in a value
        writer.writerow([row[name] for name in importing.FIELDS])
        row = customer_row("2010000003", phone="010\n123")  # a value over two lines
        writer.writerow([row[name] for name in importing.FIELDS])
        writer.writerow([customer_row("2010000004")[name] for name in importing.FIELDS])
    summary = do_import(path)
    assert summary.counts["created"] == 3
    assert Customer.objects.get(card_number="2010000002").name == "Bos, Lotte"
    # The row over lines 4 and 5 is one row (refused: a line break is no phone number);
    # the next row is line 6.
    assert [(r["line"], r["field"], r["code"]) for r in read_report(summary)] == [
        ("4", "phone", "control_characters")
    ]
    assert Customer.objects.filter(card_number="2010000004").exists()


ANNA = customer_row()
BAD_ROWS = [
    ANNA,  # 1
    customer_row("2010000002", library="nergens"),  # 2
    customer_row("2010 0003"),  # 3
    customer_row("2010000004", birth_date="1899-12-31"),  # 4
    customer_row("2010000005", birth_date="2999-01-01"),  # 5
    customer_row("2010000006", birth_date="31-12-1980"),  # 6
    customer_row("2010000007", birth_date="2015-01-01"),  # 7: too young for basis
    customer_row("2010000008", subscription_type="goud"),  # 8
    customer_row("2010000009", subscription_end="2025-01-01"),  # 9
    customer_row("2010000010", email="geen adres"),  # 10
    customer_row(name="Anna de Vries"),  # 11: the card of line 1, other data
    ANNA,  # 12: line 1 again: skipped
    customer_row("2010000013", name=""),  # 13
]


def test_bad_rows_are_reported_with_line_field_and_reason(tmp_path, libraries):
    summary = do_import(
        write_jsonl(tmp_path, [*BAD_ROWS, customer_row("2010000014")]), batch_size=5
    )
    report = read_report(summary)
    assert [(r["line"], r["outcome"], r["field"], r["code"]) for r in report] == [
        ("2", "refused", "library", "unknown_library"),
        ("3", "refused", "card_number", "invalid_card_number"),
        ("4", "refused", "birth_date", "birth_date_too_early"),
        ("5", "refused", "birth_date", "birth_date_in_future"),
        ("6", "refused", "birth_date", "invalid_date"),
        ("7", "refused", "subscription_type", "too_young"),
        ("8", "refused", "subscription_type", "unknown_subscription_type"),
        ("9", "refused", "subscription_end", "end_before_start"),
        ("10", "refused", "email", "invalid_email"),
        ("11", "conflict", "card_number", "conflict"),
        ("13", "refused", "name", "invalid_name"),
    ]
    assert "name" in report[9]["reason"] and "Anna de Vries" not in report[9]["reason"]
    assert summary.counts == {
        "rows": 14,
        "created": 2,
        "subscriptions": 2,
        "skipped": 1,
        "conflict": 1,
        "refused": 10,
    }
    assert Customer.objects.count() == 2


def test_a_dry_run_writes_nothing_and_reports_the_same(tmp_path, libraries):
    path = write_jsonl(tmp_path, [*BAD_ROWS, customer_row("2010000014")])
    dry = do_import(path, batch_size=5, dry_run=True, report=tmp_path / "dry.csv")
    assert not Customer.objects.exists() and not Subscription.objects.exists()
    assert not ImportRun.objects.exists() and not AuditEvent.objects.exists()
    assert Library.objects.get(code="maas").next_card_number == 1
    real = do_import(path, batch_size=5)
    assert read_report(dry) == read_report(real)
    assert dry.counts == real.counts


def test_an_interrupted_run_resumes_and_makes_each_customer_once(tmp_path, libraries, monkeypatch):
    path = write_jsonl(tmp_path, [customer_row(f"20100000{i:02d}") for i in range(11)])
    real_create = importing._create
    calls = []

    def dies_in_the_third_batch(new):
        calls.append(len(new))
        real_create(new)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(importing, "_create", dies_in_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        do_import(path, batch_size=3)
    assert Customer.objects.count() == 6
    assert (tmp_path / "customers.jsonl.report.csv").exists()  # what was found so far
    monkeypatch.setattr(importing, "_create", real_create)
    summary = do_import(path, batch_size=3)
    assert summary.resumed_at_line == 6
    assert summary.counts == {"rows": 11, "created": 11, "subscriptions": 11}
    assert Customer.objects.count() == Subscription.objects.count() == 11
    assert Membership.objects.count() == 11
    assert ImportRun.objects.get().finished_at is not None
    assert ImportProblem.objects.count() == 0


def test_a_second_run_changes_nothing(tmp_path, libraries):
    path = write_jsonl(tmp_path, [customer_row(f"20100000{i:02d}") for i in range(5)])
    do_import(path, batch_size=2)
    again = do_import(path, batch_size=2)
    assert again.counts == {"rows": 5, "skipped": 5}
    assert Customer.objects.count() == Subscription.objects.count() == 5
    assert read_report(again) == []


def test_the_command(tmp_path, libraries, capsys):
    path = write_jsonl(tmp_path, [customer_row(), customer_row("x", library="nergens")])
    call_command("import", str(path), "--no-progress")
    out = capsys.readouterr().out
    assert "created: 1" in out and "refused: 1" in out
    assert "customers.jsonl.report.csv" in out
