"""Changes to customers: inscribe, edit. Each audited; rights pushed when they depend on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from bibid.common import clock
from bibid.common.problems import Problem
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor, Perm, can, require
from bibid.library.tenants.models import Library

from .models import Customer
from .signals import authorization_changed

PUSHED_FIELDS = {"name", "birth_date"}  # what the login service holds of a customer


@dataclass(frozen=True)
class CustomerData:
    name: str
    birth_date: date
    email: str = ""
    phone: str = ""
    kind: str = Customer.Kind.REGULAR
    card_number: str = ""  # empty: the library hands out the next number


def next_card_number(library: Library) -> str:
    """The library's next card number: its prefix and a running number (atomic)."""
    Library.objects.filter(pk=library.pk).update(next_card_number=F("next_card_number") + 1)
    number = Library.objects.values_list("next_card_number", flat=True).get(pk=library.pk) - 1
    return f"{library.card_prefix}{number:0{10 - len(library.card_prefix)}d}"


def _library_of(actor: Actor, library: Library | None) -> Library:
    if actor.staff is not None:
        return actor.staff.library
    if library is None:
        raise ValueError("the system must say which library")
    return library


def create_customer(
    *, actor: Actor, data: CustomerData, library: Library | None = None
) -> Customer:
    require(actor, Perm.REGISTER)
    library = _library_of(actor, library)
    if data.kind != Customer.Kind.REGULAR:
        # Inscribing a colleague or volunteer decides who may see their login account:
        # the same rule as changing the kind later. Checked (and a refusal audited) before
        # the transaction, so that the refusal's audit event is not rolled back with it.
        _require_kind_change(actor, None, library, Customer.Kind.REGULAR, data.kind)
    return _create(actor, data, library)


EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def check_birth_date(value: date) -> None:
    """A birth date from 1900 to today: anything else is a typing error (0918-05-08), and
    identity would get it in every push and show it to the patron."""
    if value > clock.today():
        raise Problem(
            400,
            "birth_date_in_future",
            _("De geboortedatum ligt in de toekomst."),
            field="birth_date",
        )
    if value < EARLIEST_BIRTH_DATE:
        raise Problem(
            400,
            "birth_date_too_early",
            _("Controleer het jaar van de geboortedatum (vanaf 1900)."),
            field="birth_date",
        )


@transaction.atomic
def _create(actor: Actor, data: CustomerData, library: Library) -> Customer:
    check_birth_date(data.birth_date)
    card = data.card_number or next_card_number(library)
    if Customer.objects.filter(library=library, card_number=card).exists():
        raise Problem(
            409, "card_number_taken", _("Dit pasnummer is al in gebruik."), field="card_number"
        )
    customer = Customer.objects.create(
        library=library,
        card_number=card,
        name=data.name,
        birth_date=data.birth_date,
        email=data.email,
        phone=data.phone,
        kind=data.kind,
    )
    audit.record(actor=actor, action="customer_create", customer=customer, result="ok")
    return customer


def _require_kind_change(
    actor: Actor, customer: Customer | None, library: Library, before: str, after: str
) -> None:
    """Only a manager changes a customer's kind; a refusal is audited (someone tried to make
    a colleague's account readable, or to hide a customer's)."""
    if can(actor, Perm.CHANGE_KIND):
        return
    audit.record(
        actor=actor,
        action="customer_kind",
        customer=customer,
        library=library,
        result="refused",
        detail={"before": before, "after": after},
    )
    raise Problem(
        403,
        "not_allowed_kind",
        _("Alleen een manager kan iemand collega, vrijwilliger of weer gewone klant maken."),
        field="kind",
    )


def update_customer(*, actor: Actor, customer: Customer, changes: dict) -> Customer:
    require(actor, Perm.EDIT_CUSTOMER)
    if actor.staff is not None and customer.library_id != actor.staff.library_id:
        raise Problem(404, "customer_not_found", _("Deze klant bestaat niet."))
    allowed = {"name", "birth_date", "email", "phone", "kind"}
    unknown = set(changes) - allowed
    if unknown:
        raise Problem(
            400,
            "unknown_field",
            _("Onbekend veld: %(field)s."),
            extra={"field": sorted(unknown)[0]},
        )
    if changes.get("birth_date") is not None:
        check_birth_date(changes["birth_date"])
    if "kind" in changes and changes["kind"] != customer.kind:
        if changes["kind"] not in Customer.Kind.values:
            raise Problem(400, "unknown_kind", _("Onbekende soort klant."), field="kind")
        # Before the transaction: the refusal's audit event must outlive the refusal.
        _require_kind_change(actor, customer, customer.library, customer.kind, changes["kind"])
    return _update(actor, customer, changes)


@transaction.atomic
def _update(actor: Actor, customer: Customer, changes: dict) -> Customer:
    changed = {k: v for k, v in changes.items() if getattr(customer, k) != v}
    before_kind, was_private = customer.kind, customer.is_private
    for key, value in changed.items():
        setattr(customer, key, value)
    if "kind" in changed and was_private and not customer.is_private:
        # Not visible the same day: a colleague's account does not become readable by
        # changing the kind and looking straight after. Private until the next library day
        # (Europe/Amsterdam, clock.today()).
        customer.private_until = clock.today() + timedelta(days=1)
        changed["private_until"] = customer.private_until
    if changed:
        customer.updated_at = clock.now()
        customer.save(update_fields=[*changed, "updated_at"])
    if "kind" in changed:
        audit.record(
            actor=actor,
            action="customer_kind",
            customer=customer,
            result="ok",
            detail={
                "before": before_kind,
                "after": customer.kind,
                "private_until": customer.private_until.isoformat()
                if customer.private_until
                else None,
            },
        )
    if set(changed) & PUSHED_FIELDS:
        authorization_changed.send(sender=Customer, customer_ids=[customer.pk])
    audit.record(
        actor=actor,
        action="customer_update",
        customer=customer,
        result="ok",
        detail={"changed": sorted(k for k in changed if k != "private_until")},
    )
    return customer
